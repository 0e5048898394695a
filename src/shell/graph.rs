//! The runtime's side of `Platform`: the Graph API over fetch, timers, and WebCrypto HMAC.

use crate::platform::Platform;
use wasm_bindgen::JsValue;

/// The Graph API over the runtime's fetch. The token goes only into the Authorization header.
pub struct WorkerGraph;

impl Platform for WorkerGraph {
    async fn post(&self, url: &str, token: &str, body: &str) -> Result<(u16, String), String> {
        let authorization = format!("Bearer {token}");
        let headers = [
            ("authorization", authorization.as_str()),
            ("content-type", "application/json"),
        ];
        // The error is a fixed word: it never names the URL or the token.
        super::fetch::post_text(&js_sys::global(), url, &headers, body)
            .await
            .map_err(|_| "fetch failed".to_string())
    }

    async fn sleep(&self, ms: u64) {
        super::runtime::sleep(ms).await;
    }

    /// WebCrypto for large bodies: pure-Rust HMAC in wasm costs about 10 ms per MiB, the
    /// runtime's native one a fraction of that. Small bodies stay in Rust, where a round trip
    /// into JavaScript would cost more than the MAC. Any JS error falls back to Rust.
    async fn hmac_sha256_verify(&self, secret: &[u8], body: &[u8], tag: &[u8; 32]) -> Option<bool> {
        if body.len() < WEBCRYPTO_MIN_BODY {
            return None;
        }
        webcrypto_hmac_verify(secret, body, tag).await.ok()
    }
}

/// Bodies at least this large are verified with WebCrypto (see `npm run bench`).
const WEBCRYPTO_MIN_BODY: usize = 16 * 1024;

async fn webcrypto_hmac_verify(
    secret: &[u8],
    body: &[u8],
    tag: &[u8; 32],
) -> Result<bool, JsValue> {
    use js_sys::{global, Array, Object, Reflect, Uint8Array};
    let subtle = Reflect::get(
        &Reflect::get(&global(), &"crypto".into())?,
        &"subtle".into(),
    )?;
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"HMAC".into())?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into())?;
    let usages = Array::of1(&"verify".into());
    let key_args = Array::of5(
        &"raw".into(),
        &Uint8Array::from(secret).into(),
        &algorithm,
        &false.into(),
        &usages.into(),
    );
    let key = super::runtime::apply_method(&subtle, "importKey", &key_args).await?;
    // crypto.subtle.verify compares in constant time.
    let verify_args = Array::of4(
        &"HMAC".into(),
        &key,
        &Uint8Array::from(&tag[..]).into(),
        &Uint8Array::from(body).into(),
    );
    let verified = super::runtime::apply_method(&subtle, "verify", &verify_args).await?;
    Ok(verified.as_bool() == Some(true))
}
