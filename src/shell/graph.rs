//! The runtime's side of `Platform`: the Graph API over fetch, timers, and WebCrypto HMAC.

use crate::platform::Platform;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;

/// The Graph API over the runtime's fetch. The token goes only into the Authorization header.
#[derive(Default)]
pub struct WorkerGraph {
    request_body: Option<HeldBody>,
}

/// The request's body as the runtime read it, and where its bytes are in wasm memory.
struct HeldBody {
    at: usize,
    len: usize,
    buffer: Uint8Array,
}

impl WorkerGraph {
    /// A platform for one request whose body's bytes are `bytes`, copied from `buffer`: the
    /// runtime's HMAC of those bytes reads `buffer` instead of a second copy (1 MB less to copy
    /// and free per megabyte of body).
    pub fn with_body(bytes: &[u8], buffer: Option<Uint8Array>) -> WorkerGraph {
        WorkerGraph {
            request_body: buffer.map(|buffer| HeldBody {
                at: bytes.as_ptr() as usize,
                len: bytes.len(),
                buffer,
            }),
        }
    }

    /// `body` in a JavaScript buffer: the runtime's own when `body` is the request's body (the
    /// very bytes, not equal ones: the same place and length in memory), else a copy.
    fn js_bytes(&self, body: &[u8]) -> Uint8Array {
        match &self.request_body {
            Some(held) if held.at == body.as_ptr() as usize && held.len == body.len() => {
                held.buffer.clone()
            }
            _ => Uint8Array::from(body),
        }
    }
}

impl Platform for WorkerGraph {
    async fn post(&self, url: &str, token: &str, body: &str) -> Result<(u16, String), String> {
        let authorization = format!("Bearer {token}");
        let headers = [
            ("authorization", authorization.as_str()),
            ("content-type", "application/json"),
        ];
        // The error is a fixed word: it never names the URL or the token.
        super::fetch::post_text(url, &headers, body)
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
        webcrypto_hmac_verify(secret, &self.js_bytes(body), tag)
            .await
            .ok()
    }
}

/// Bodies at least this large are verified with WebCrypto (see `npm run bench`).
const WEBCRYPTO_MIN_BODY: usize = 16 * 1024;

async fn webcrypto_hmac_verify(
    secret: &[u8],
    body: &Uint8Array,
    tag: &[u8; 32],
) -> Result<bool, JsValue> {
    use js_sys::{global, Array, Object, Reflect};
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
        body,
    );
    let verified = super::runtime::apply_method(&subtle, "verify", &verify_args).await?;
    Ok(verified.as_bool() == Some(true))
}
