//! Who a request is: the scope of its bearer token. `ADMIN_TOKEN` may do everything;
//! `SEND_TOKEN` may only send (both send routes); `VIEWER_TOKEN` may only read (lookups,
//! history, consent checks, account signals). Each accepts its `_PREVIOUS` value during a
//! rotation. The scheme is case-insensitive (`Bearer`, `bearer`), as HTTP says. The console
//! signs in with the admin or viewer token once and then carries a session cookie
//! (`session::caller`).

use crate::config::{Config, Secret};
use crate::crypto::secret_eq;
use crate::http::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Admin,
    Send,
    Viewer,
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The scope the request's token grants; 401 without a valid one. Every configured token is
/// compared (in constant time each), so the answer's timing does not tell which one matched.
pub fn scope_of(config: &Config, authorization: Option<&str>) -> Result<Scope, ApiError> {
    config.require(Secret::AdminToken)?;
    let presented = authorization
        .and_then(bearer)
        .ok_or(ApiError::Unauthorized)?;
    let matches = |secrets: [Secret; 2]| {
        secrets
            .iter()
            .filter_map(|s| config.secret(*s))
            .fold(false, |found, token| secret_eq(presented, token) | found)
    };
    let admin = matches([Secret::AdminToken, Secret::AdminTokenPrevious]);
    let send = matches([Secret::SendToken, Secret::SendTokenPrevious]);
    let viewer = matches([Secret::ViewerToken, Secret::ViewerTokenPrevious]);
    match (admin, send, viewer) {
        (true, _, _) => Ok(Scope::Admin),
        (false, true, _) => Ok(Scope::Send),
        (false, false, true) => Ok(Scope::Viewer),
        (false, false, false) => Err(ApiError::Unauthorized),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_lookup(|name| {
            [
                ("ADMIN_TOKEN", "admin-new"),
                ("ADMIN_TOKEN_PREVIOUS", "admin-old"),
                ("SEND_TOKEN", "send-new"),
                ("SEND_TOKEN_PREVIOUS", "send-old"),
            ]
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn each_token_and_its_previous_value_grant_their_scope() {
        let c = config();
        assert_eq!(scope_of(&c, Some("Bearer admin-new")), Ok(Scope::Admin));
        assert_eq!(scope_of(&c, Some("bearer admin-old")), Ok(Scope::Admin));
        assert_eq!(scope_of(&c, Some("BEARER send-new")), Ok(Scope::Send));
        assert_eq!(scope_of(&c, Some("Bearer send-old")), Ok(Scope::Send));
        for bad in ["Bearer nope", "Basic admin-new", "admin-new", "Bearer ", ""] {
            assert_eq!(
                scope_of(&c, Some(bad)),
                Err(ApiError::Unauthorized),
                "{bad}"
            );
        }
        assert_eq!(scope_of(&c, None), Err(ApiError::Unauthorized));
    }
}
