//! What the runtime provides the core: HTTP to the Graph API, a sleep, and optionally the
//! platform's own HMAC. The shell implements it over fetch, timers and WebCrypto; native tests
//! use fakes.

/// Single-threaded runtime; its futures are !Send, so no Send bound is asked for.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// POSTs JSON with a bearer token; `Err` when no HTTP answer came back.
    async fn post(&self, url: &str, token: &str, body: &str) -> Result<(u16, String), String>;

    async fn sleep(&self, ms: u64);

    /// Verifies an HMAC-SHA256 tag with the platform's native crypto, when that is cheaper than
    /// doing it in Rust (large bodies in wasm). `None`: not offered, the core verifies in Rust.
    async fn hmac_sha256_verify(
        &self,
        _secret: &[u8],
        _body: &[u8],
        _tag: &[u8; 32],
    ) -> Option<bool> {
        None
    }
}
