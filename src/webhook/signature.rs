//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw body, keyed with the app secret.
//!
//! Verified over the exact bytes received, before any parsing: Meta escapes `/`, `@` and
//! non-ASCII characters, so re-serialised JSON would never match.

use crate::crypto::{hmac_sha256, HmacSha256};
use hmac::Mac;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
const PREFIX: &str = "sha256=";
/// 32 bytes of SHA-256 as hex. A shorter tag is never accepted, so truncation cannot weaken it.
const HEX_LEN: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No header: 401.
    Missing,
    /// Not `sha256=<64 lowercase hex>`: 403.
    Malformed,
    /// Well-formed but made with neither secret: 403.
    Mismatch,
}

impl SignatureError {
    pub fn code(self) -> &'static str {
        match self {
            SignatureError::Missing => "signature_missing",
            SignatureError::Malformed => "signature_malformed",
            SignatureError::Mismatch => "signature_mismatch",
        }
    }
}

/// Which secret matched, so operators can see when the previous one stops being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretUsed {
    Current,
    Previous,
}

/// Verifies `header` over `body` with the current secret, then the previous one (rotation).
/// Both comparisons are constant time (`verify_slice`).
pub fn verify(
    body: &[u8],
    header: Option<&str>,
    current: &[u8],
    previous: Option<&[u8]>,
) -> Result<SecretUsed, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let tag = parse_header(header)?;
    if mac_matches(current, body, &tag) {
        return Ok(SecretUsed::Current);
    }
    match previous {
        Some(previous) if !previous.is_empty() && mac_matches(previous, body, &tag) => {
            Ok(SecretUsed::Previous)
        }
        _ => Err(SignatureError::Mismatch),
    }
}

/// Who computed the MAC: Rust, or the platform's native crypto (WebCrypto for large bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verifier {
    Rust,
    Platform,
}

/// A signature that held: with which secret, computed by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub secret: SecretUsed,
    pub verifier: Verifier,
}

/// Verifies like [`verify`], letting the platform compute the MAC where it offers to (WebCrypto
/// for large bodies in wasm); the header's form and the order of secrets stay decided here.
pub async fn verify_on<P: crate::platform::Platform>(
    platform: &P,
    body: &[u8],
    header: Option<&str>,
    current: &[u8],
    previous: Option<&[u8]>,
) -> Result<Verified, SignatureError> {
    let tag = parse_header(header.ok_or(SignatureError::Missing)?)?;
    let candidates = [
        (Some(current), SecretUsed::Current),
        (previous.filter(|p| !p.is_empty()), SecretUsed::Previous),
    ];
    for (secret, used) in candidates {
        let Some(secret) = secret else { continue };
        let (matched, verifier) = match platform.hmac_sha256_verify(secret, body, &tag).await {
            Some(matched) => (matched, Verifier::Platform),
            None => (mac_matches(secret, body, &tag), Verifier::Rust),
        };
        if matched {
            return Ok(Verified {
                secret: used,
                verifier,
            });
        }
    }
    Err(SignatureError::Mismatch)
}

fn parse_header(header: &str) -> Result<[u8; 32], SignatureError> {
    let hex_part = header
        .trim()
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::Malformed)?;
    // Meta sends lowercase; uppercase hex is a different (forged or mangled) header.
    let well_formed = hex_part.len() == HEX_LEN
        && hex_part
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(SignatureError::Malformed);
    }
    let mut tag = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut tag).map_err(|_| SignatureError::Malformed)?;
    Ok(tag)
}

fn mac_matches(secret: &[u8], body: &[u8], tag: &[u8; 32]) -> bool {
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(tag).is_ok()
}

/// The header Meta would send for `body`: for tests, benchmarks and local tools.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!("{PREFIX}{}", hex::encode(hmac_sha256(secret, body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-secret";

    #[test]
    fn github_published_vector() {
        // From GitHub's "Validating webhook deliveries" documentation.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let got = verify(
            b"Hello, World!",
            Some(header),
            b"It's a Secret to Everybody",
            None,
        );
        assert_eq!(got, Ok(SecretUsed::Current));
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            header
        );
    }

    #[test]
    fn escaped_body_verifies_as_raw_bytes_and_reserialised_fails() {
        let raw = br#"{"text":{"body":"caf\u00e9 \/ me\u0040x.com"}}"#;
        let header = sign(SECRET, raw);
        assert_eq!(
            verify(raw, Some(&header), SECRET, None),
            Ok(SecretUsed::Current)
        );
        let value: serde_json::Value = serde_json::from_slice(raw).unwrap();
        let reserialised = serde_json::to_vec(&value).unwrap();
        assert_ne!(reserialised.as_slice(), raw.as_slice());
        assert_eq!(
            verify(&reserialised, Some(&header), SECRET, None),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn malformed_tags_are_rejected() {
        let body = b"{}";
        let good = sign(SECRET, body);
        let hex_part = good.strip_prefix("sha256=").unwrap();
        let cases = [
            format!("sha256={}", hex_part.to_uppercase()),
            format!("sha256={}", &hex_part[..63]),
            format!("sha256={}", &hex_part[..32]),
            format!("sha256={hex_part}00"),
            format!("sha256={}zz", &hex_part[..62]),
            format!("sha1={hex_part}"),
            hex_part.to_string(),
            String::new(),
        ];
        for header in cases {
            assert_eq!(
                verify(body, Some(&header), SECRET, None),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
        assert_eq!(
            verify(body, None, SECRET, None),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn wrong_secret_or_changed_body_mismatch() {
        let header = sign(SECRET, b"{\"a\":1}");
        assert_eq!(
            verify(b"{\"a\":2}", Some(&header), SECRET, None),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"{\"a\":1}", Some(&header), b"other", None),
            Err(SignatureError::Mismatch)
        );
    }

    /// A platform whose native HMAC is the same function, as WebCrypto would be.
    struct NativeMac;

    impl crate::platform::Platform for NativeMac {
        async fn post(&self, _: &str, _: &str, _: &str) -> Result<(u16, String), String> {
            Err("unused".into())
        }
        async fn sleep(&self, _: u64) {}
        async fn hmac_sha256_verify(
            &self,
            secret: &[u8],
            body: &[u8],
            tag: &[u8; 32],
        ) -> Option<bool> {
            Some(hmac_sha256(secret, body) == *tag)
        }
    }

    #[test]
    fn platform_verification_agrees_with_rust_verification() {
        let body = b"{\"entry\":[]}";
        let cases = [
            (sign(b"new", body), Some(&b"old"[..])),
            (sign(b"old", body), Some(&b"old"[..])),
            (sign(b"old", body), None),
            (sign(b"new", b"other"), Some(&b"old"[..])),
            ("sha256=zz".to_string(), None),
        ];
        for (header, previous) in cases {
            let native = crate::testing::block_on(verify_on(
                &NativeMac,
                body,
                Some(&header),
                b"new",
                previous,
            ));
            assert_eq!(
                native.map(|v| v.secret),
                verify(body, Some(&header), b"new", previous),
                "{header}"
            );
            if let Ok(v) = native {
                assert_eq!(
                    v.verifier,
                    Verifier::Platform,
                    "the platform's MAC was used"
                );
            }
        }
        assert_eq!(
            crate::testing::block_on(verify_on(&NativeMac, body, None, b"new", None)),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn rotation_accepts_previous_secret_only_when_configured() {
        let body = b"{\"entry\":[]}";
        let old = sign(b"old-secret", body);
        assert_eq!(
            verify(body, Some(&old), b"new-secret", Some(b"old-secret")),
            Ok(SecretUsed::Previous)
        );
        assert_eq!(
            verify(body, Some(&old), b"new-secret", None),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body, Some(&old), b"new-secret", Some(b"")),
            Err(SignatureError::Mismatch)
        );
        let new = sign(b"new-secret", body);
        assert_eq!(
            verify(body, Some(&new), b"new-secret", Some(b"old-secret")),
            Ok(SecretUsed::Current)
        );
    }
}
