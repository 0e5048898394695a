//! Meta's subscription handshake: `GET /webhook?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…`.

use crate::crypto::secret_eq;

/// Meta's challenges are short numbers; anything longer is not Meta and is not echoed.
pub const MAX_CHALLENGE_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// 400: no challenge, or an absurdly long one.
    BadChallenge,
    /// 403: wrong mode or token.
    Forbidden,
}

/// Returns the challenge to echo as text/plain when the request is a valid subscription.
pub fn verify_subscription<'q>(
    query: &'q [(String, String)],
    verify_token: &str,
) -> Result<&'q str, HandshakeError> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let challenge = param("hub.challenge").unwrap_or_default();
    let printable = challenge.chars().all(|c| !c.is_control());
    if challenge.is_empty() || challenge.len() > MAX_CHALLENGE_LEN || !printable {
        return Err(HandshakeError::BadChallenge);
    }
    let token_ok = param("hub.verify_token").is_some_and(|t| secret_eq(t, verify_token));
    if param("hub.mode") != Some("subscribe") || !token_ok {
        return Err(HandshakeError::Forbidden);
    }
    Ok(challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn valid_subscription_echoes_challenge() {
        let query = q(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", "1158201444"),
            ("hub.verify_token", "tok"),
        ]);
        assert_eq!(verify_subscription(&query, "tok"), Ok("1158201444"));
    }

    #[test]
    fn wrong_token_or_mode_is_forbidden() {
        let bad_token = q(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", "1"),
            ("hub.verify_token", "nope"),
        ]);
        let bad_mode = q(&[
            ("hub.mode", "unsubscribe"),
            ("hub.challenge", "1"),
            ("hub.verify_token", "tok"),
        ]);
        let no_token = q(&[("hub.mode", "subscribe"), ("hub.challenge", "1")]);
        for query in [bad_token, bad_mode, no_token] {
            assert_eq!(
                verify_subscription(&query, "tok"),
                Err(HandshakeError::Forbidden)
            );
        }
    }

    #[test]
    fn missing_or_long_challenge_is_bad_request() {
        let missing = q(&[("hub.mode", "subscribe"), ("hub.verify_token", "tok")]);
        // The README promises challenges up to 256 characters.
        let longest = "9".repeat(256);
        let ok = q(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", &longest),
            ("hub.verify_token", "tok"),
        ]);
        assert_eq!(verify_subscription(&ok, "tok"), Ok(longest.as_str()));
        let long_challenge = "9".repeat(257);
        let long = q(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", &long_challenge),
            ("hub.verify_token", "tok"),
        ]);
        let control = q(&[
            ("hub.mode", "subscribe"),
            ("hub.challenge", "1\n2"),
            ("hub.verify_token", "tok"),
        ]);
        for query in [missing, long, control] {
            assert_eq!(
                verify_subscription(&query, "tok"),
                Err(HandshakeError::BadChallenge)
            );
        }
    }
}
