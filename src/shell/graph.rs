//! The runtime's side of `Platform`: the Graph API over workers-rs's `Fetch`, its `Delay`, and
//! WebCrypto's HMAC for large bodies (`runtime_ext`).

use crate::platform::Platform;
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit};

/// The Graph API over the runtime's fetch. The token goes only into the Authorization header.
#[derive(Default)]
pub struct WorkerGraph;

impl Platform for WorkerGraph {
    async fn post(&self, url: &str, token: &str, body: &str) -> Result<(u16, String), String> {
        // The error is a fixed word: it never names the URL or the token.
        let failed = |_| "fetch failed".to_string();
        let headers = Headers::new();
        headers
            .set("authorization", &format!("Bearer {token}"))
            .map_err(failed)?;
        headers
            .set("content-type", "application/json")
            .map_err(failed)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(body.into()));
        let request = Request::new_with_init(url, &init).map_err(failed)?;
        let response = Fetch::Request(request).send().await.map_err(failed)?;
        super::runtime_ext::status_and_text(response)
            .await
            .map_err(|_| "fetch failed".to_string())
    }

    async fn failed_credential(&self, client: &str) -> bool {
        let Some(bound) = super::bound() else {
            return false;
        };
        let Some(limiter) = bound.failed_tokens.as_ref() else {
            return false;
        };
        // A limiter that cannot answer is a brake that is off, not a guard that fails: a valid
        // token is checked either way, and nothing is sent on a failed one.
        match limiter.limit(client.to_string()).await {
            Ok(outcome) => !outcome.success,
            Err(_) => false,
        }
    }

    fn random_bytes(&self) -> Option<[u8; 16]> {
        super::runtime_ext::random_bytes().ok()
    }

    async fn sleep(&self, ms: u64) {
        Delay::from(std::time::Duration::from_millis(ms)).await;
    }

    /// WebCrypto for large bodies: pure-Rust HMAC in wasm costs about 10 ms per MiB, the
    /// runtime's native one a fraction of that. Small bodies stay in Rust, where a round trip
    /// into JavaScript would cost more than the MAC. Any JS error falls back to Rust.
    async fn hmac_sha256_verify(&self, secret: &[u8], body: &[u8], tag: &[u8; 32]) -> Option<bool> {
        if body.len() < WEBCRYPTO_MIN_BODY {
            return None;
        }
        super::runtime_ext::hmac_sha256_verify(secret, body, tag)
            .await
            .ok()
    }
}

/// Bodies at least this large are verified with WebCrypto (see `npm run bench`).
const WEBCRYPTO_MIN_BODY: usize = 16 * 1024;
