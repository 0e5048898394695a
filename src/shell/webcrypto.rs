//! WebCrypto's HMAC-SHA256 verify, which workers-rs does not wrap: `crypto.subtle`'s
//! `importKey` and `verify` called through js-sys, as workers-rs calls the runtime itself.

use worker::js_sys::{global, Array, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;

/// Whether `tag` is the HMAC-SHA256 of `body` under `secret`; `crypto.subtle.verify` compares
/// in constant time.
pub(super) async fn hmac_sha256_verify(
    secret: &[u8],
    body: &[u8],
    tag: &[u8; 32],
) -> Result<bool, JsValue> {
    let subtle = Reflect::get(
        &Reflect::get(&global(), &"crypto".into())?,
        &"subtle".into(),
    )?;
    let call = |name: &str, args: Array| -> Result<JsFuture, JsValue> {
        let f: Function = Reflect::get(&subtle, &name.into())?.dyn_into()?;
        Ok(JsFuture::from(
            f.apply(&subtle, &args)?.dyn_into::<Promise>()?,
        ))
    };
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"HMAC".into())?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into())?;
    let key_args = Array::of5(
        &"raw".into(),
        &Uint8Array::from(secret).into(),
        &algorithm,
        &false.into(),
        &Array::of1(&"verify".into()).into(),
    );
    let key = call("importKey", key_args)?.await?;
    let verify_args = Array::of4(
        &"HMAC".into(),
        &key,
        &Uint8Array::from(&tag[..]).into(),
        &Uint8Array::from(body).into(),
    );
    Ok(call("verify", verify_args)?.await?.as_bool() == Some(true))
}
