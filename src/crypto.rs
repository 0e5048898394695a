//! The two cryptographic primitives the rest of the crate builds on: HMAC-SHA256 (signatures and
//! pseudonymous KV keys) and a constant-time comparison of presented tokens.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `data` keyed with `secret`.
pub fn hmac_sha256(secret: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Constant-time equality for tokens, so response timing does not reveal how much matched.
/// Both sides are hashed first, which also hides the length.
pub fn secret_eq(presented: &str, expected: &str) -> bool {
    let a = hmac_sha256(b"wa-edge token compare", presented.as_bytes());
    let b = hmac_sha256(b"wa-edge token compare", expected.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_value_only() {
        assert!(secret_eq("token-1", "token-1"));
        assert!(!secret_eq("token-1", "token-2"));
        assert!(!secret_eq("token", "token-1"));
        assert!(!secret_eq("", "token"));
    }
}
