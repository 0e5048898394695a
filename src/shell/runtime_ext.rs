//! What workers-rs does not offer, through the wasm-bindgen, js-sys and web-sys it uses itself:
//! WebCrypto's HMAC-SHA256 verify (`crypto.subtle`'s `importKey` and `verify`) and its
//! `crypto.getRandomValues`, and a fetched
//! response's body read as text in one call (workers-rs reads it as a stream, chunk by chunk
//! into wasm, which costs a crossing and a copy per chunk).

use worker::js_sys::{global, Array, Function, Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Response, ResponseBody};

/// A response's status and its body as text. The error is a fixed word.
pub(super) async fn status_and_text(response: Response) -> Result<(u16, String), &'static str> {
    let status = response.status_code();
    let text = match response.body() {
        ResponseBody::Empty => String::new(),
        ResponseBody::Body(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        ResponseBody::Stream(stream) => {
            let whole = worker::web_sys::Response::new_with_opt_readable_stream(Some(stream))
                .map_err(|_| "unreadable")?;
            let promise = whole.text().map_err(|_| "unreadable")?;
            JsFuture::from(promise)
                .await
                .ok()
                .and_then(|t| t.as_string())
                .ok_or("unreadable")?
        }
    };
    Ok((status, text))
}

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

/// 16 bytes from `crypto.getRandomValues`, the runtime's cryptographic random source.
pub(super) fn random_bytes() -> Result<[u8; 16], JsValue> {
    let crypto = Reflect::get(&global(), &"crypto".into())?;
    let fill: Function = Reflect::get(&crypto, &"getRandomValues".into())?.dyn_into()?;
    let buffer = Uint8Array::new_with_length(16);
    fill.call1(&crypto, &buffer)?;
    let mut out = [0u8; 16];
    buffer.copy_to(&mut out);
    Ok(out)
}
