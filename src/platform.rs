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

    /// Counts one failed credential from `client` (a keyed hash, never an address) against the
    /// runtime's rate limit; `true` when the client is over it. `false` where none is bound.
    async fn failed_credential(&self, _client: &str) -> bool {
        false
    }

    /// 16 bytes from a cryptographic random source (a console session's nonce); `None` where
    /// the runtime offers none, and then no session is started.
    fn random_bytes(&self) -> Option<[u8; 16]> {
        None
    }
}

/// A future polled through a pointer, so that its code is a function of its own instead of being
/// inlined into its caller's. V8 compiles a wasm function the first time it is called, whole: a
/// request that takes one branch of a dispatch then compiles that branch, not every route's code
/// inlined into one function.
pub fn apart<'a, T>(
    future: impl std::future::Future<Output = T> + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>> {
    Box::pin(future)
}
