//! The console's sessions: a cookie that names a scope and an expiry, signed with a key derived
//! from `ADMIN_TOKEN`, and the CSRF token that goes with it. Nothing is stored for a session but
//! its end: a signed-out cookie is remembered (by a keyed hash) until it would have expired.
//!
//! Rotating `ADMIN_TOKEN` ends every session at once, which is what an operator wants after a
//! leak. The CSRF token is derived from the cookie under the same key: a page of another site
//! can read neither, and with SameSite=Strict its requests do not even carry the cookie; the
//! token is the second guard, for a browser that gets SameSite wrong.

use crate::config::{Config, Secret};
use crate::crypto::{hmac_sha256, secret_eq};
use crate::http::auth::{scope_of, Scope};
use crate::http::error::ApiError;
use crate::http::Request;
use crate::store::keys;
use crate::store::kv::Kv;
use crate::time::UnixTime;

/// The cookie's name.
pub const SESSION_COOKIE: &str = "wa_console";
/// The header a console request carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// One hour: enough for a review or an incident, short enough that a cookie left on a shared
/// machine ends soon. Not extended by use: the operator signs in again.
pub const SESSION_SECONDS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub scope: Scope,
    pub expires: UnixTime,
    /// Random, from the runtime: two sessions started in the same second are still two.
    pub nonce: String,
}

/// Why a cookie does not open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// No cookie, or one not in our format.
    Missing,
    /// The signature does not match: changed, made up, or signed before `ADMIN_TOKEN` rotated.
    Forged,
    Expired,
}

fn scope_word(scope: Scope) -> &'static str {
    match scope {
        Scope::Admin => "admin",
        Scope::Viewer => "viewer",
        Scope::Send => "send",
    }
}

/// The key sessions are signed with: not the token itself, so no cookie carries a MAC under it.
fn signing_key(config: &Config) -> Option<[u8; 32]> {
    let token = config.secret(Secret::AdminToken)?;
    Some(hmac_sha256(token.as_bytes(), b"wa-edge console session v1"))
}

impl Session {
    pub fn start(scope: Scope, now: UnixTime, random: [u8; 16]) -> Session {
        Session {
            scope,
            expires: now.plus(SESSION_SECONDS),
            nonce: hex::encode(random),
        }
    }

    fn payload(&self) -> String {
        format!(
            "v1.{}.{}.{}",
            scope_word(self.scope),
            self.expires.0,
            self.nonce
        )
    }

    /// The cookie's value: the payload and its MAC.
    pub fn cookie_value(&self, config: &Config) -> Option<String> {
        let key = signing_key(config)?;
        let payload = self.payload();
        let mac = hex::encode(hmac_sha256(&key, payload.as_bytes()));
        Some(format!("{payload}.{mac}"))
    }

    /// The CSRF token every changing request of the session must carry.
    pub fn csrf(&self, config: &Config) -> Option<String> {
        let key = signing_key(config)?;
        let mac = hmac_sha256(&key, format!("csrf.{}", self.payload()).as_bytes());
        Some(hex::encode(mac.get(..16).unwrap_or_default()))
    }

    /// Whether `presented` is the session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, config: &Config, presented: Option<&str>) -> bool {
        match (self.csrf(config), presented) {
            (Some(expected), Some(presented)) => secret_eq(presented.trim(), &expected),
            _ => false,
        }
    }

    /// The `Set-Cookie` value that starts the session. `Secure` on https only: the local
    /// console on http://127.0.0.1 must work too, and a browser keeps a Secure cookie from http
    /// nowhere.
    pub fn set_cookie(&self, config: &Config, secure: bool, now: UnixTime) -> Option<String> {
        let max_age = self.expires.0.saturating_sub(now.0);
        Some(cookie_line(&self.cookie_value(config)?, max_age, secure))
    }
}

fn cookie_line(value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    )
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn cleared_cookie(secure: bool) -> String {
    cookie_line("", 0, secure)
}

/// Our cookie's value in a `Cookie` header, if there is one.
pub fn cookie_in(header: Option<&str>) -> Option<&str> {
    header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The session a cookie value names, if its MAC is ours and it has not expired at `now`.
pub fn open(config: &Config, value: &str, now: UnixTime) -> Result<Session, SessionError> {
    let mut parts = value.split('.');
    let (Some("v1"), Some(scope), Some(expires), Some(nonce), Some(_mac), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(SessionError::Missing);
    };
    let scope = match scope {
        "admin" => Scope::Admin,
        "viewer" => Scope::Viewer,
        _ => return Err(SessionError::Forged),
    };
    let expires = expires
        .parse::<u64>()
        .map(UnixTime)
        .map_err(|_| SessionError::Forged)?;
    let session = Session {
        scope,
        expires,
        nonce: nonce.to_string(),
    };
    let expected = session.cookie_value(config).ok_or(SessionError::Forged)?;
    if !secret_eq(value, &expected) {
        return Err(SessionError::Forged);
    }
    // Checked after the MAC, so an expiry is only ever trusted from a cookie we signed.
    if session.expires.0 <= now.0 {
        return Err(SessionError::Expired);
    }
    Ok(session)
}

/// Who a request is: its bearer token if it has one, else, on the routes the console uses,
/// its session cookie. A cookie-borne request that is not a GET must carry the session's CSRF
/// token (403 without it); a cookie that is forged, expired or signed out is a 401 like a
/// wrong token, and counts as a failed credential.
pub async fn caller<K: Kv>(
    config: &Config,
    kv: &K,
    req: &Request,
    now: UnixTime,
) -> Result<Scope, ApiError> {
    if req.authorization.is_some() || !req.route.accepts_session() {
        return scope_of(config, req.authorization.as_deref());
    }
    let session = session_of(config, kv, req, now).await?;
    if !req.route.is_read() && !session.csrf_matches(config, req.csrf.as_deref()) {
        return Err(ApiError::CsrfRefused);
    }
    Ok(session.scope)
}

/// The request's console session: signed by us, not expired, not signed out.
pub async fn session_of<K: Kv>(
    config: &Config,
    kv: &K,
    req: &Request,
    now: UnixTime,
) -> Result<Session, ApiError> {
    config.require(Secret::AdminToken)?;
    let value = cookie_in(req.cookie.as_deref()).ok_or(ApiError::Unauthorized)?;
    let session = open(config, value, now).map_err(|_| ApiError::Unauthorized)?;
    let ended = keys::ended_session(config.keys()?, &session.nonce);
    if kv.get(&ended).await?.is_some() {
        return Err(ApiError::Unauthorized);
    }
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(admin: &str) -> Config {
        let admin = admin.to_string();
        Config::from_lookup(move |name| (name == "ADMIN_TOKEN").then(|| admin.clone()))
    }

    #[test]
    fn a_session_opens_until_it_expires() {
        let c = config("admin-token");
        let s = Session::start(Scope::Viewer, UnixTime(1000), [7; 16]);
        let value = s.cookie_value(&c).unwrap();
        assert_eq!(open(&c, &value, UnixTime(1000)), Ok(s.clone()));
        assert_eq!(
            open(&c, &value, UnixTime(1000 + SESSION_SECONDS - 1)),
            Ok(s)
        );
        assert_eq!(
            open(&c, &value, UnixTime(1000 + SESSION_SECONDS)),
            Err(SessionError::Expired)
        );
    }

    #[test]
    fn a_changed_or_made_up_cookie_is_forged() {
        let c = config("admin-token");
        let s = Session::start(Scope::Viewer, UnixTime(1000), [7; 16]);
        let value = s.cookie_value(&c).unwrap();
        let promoted = value.replacen("viewer", "admin", 1);
        assert_eq!(
            open(&c, &promoted, UnixTime(1000)),
            Err(SessionError::Forged)
        );
        let longer = value.replacen(".4600.", ".999999.", 1);
        assert_eq!(open(&c, &longer, UnixTime(1000)), Err(SessionError::Forged));
        let send = value.replacen("viewer", "send", 1);
        assert_eq!(open(&c, &send, UnixTime(1000)), Err(SessionError::Forged));
        assert_eq!(
            open(&c, "v1.admin", UnixTime(1000)),
            Err(SessionError::Missing)
        );
        // Signed before ADMIN_TOKEN rotated: every session ends with the old token.
        assert_eq!(
            open(&config("rotated"), &value, UnixTime(1000)),
            Err(SessionError::Forged)
        );
    }

    #[test]
    fn the_csrf_token_belongs_to_its_session() {
        let c = config("admin-token");
        let a = Session::start(Scope::Admin, UnixTime(1000), [1; 16]);
        let b = Session::start(Scope::Admin, UnixTime(1000), [2; 16]);
        let token = a.csrf(&c).unwrap();
        assert!(a.csrf_matches(&c, Some(&token)));
        assert!(!b.csrf_matches(&c, Some(&token)));
        assert!(!a.csrf_matches(&c, None));
        assert!(!a.csrf_matches(&c, Some("")));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_on_https() {
        let c = config("admin-token");
        let s = Session::start(Scope::Admin, UnixTime(1000), [1; 16]);
        let line = s.set_cookie(&c, true, UnixTime(1000)).unwrap();
        assert!(line.starts_with("wa_console=v1.admin.4600."), "{line}");
        assert!(line.ends_with("; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure"));
        assert!(!s
            .set_cookie(&c, false, UnixTime(1000))
            .unwrap()
            .contains("Secure"));
        assert_eq!(cookie_in(Some("a=1; wa_console=v1.x ; b=2")), Some("v1.x"));
        assert_eq!(cookie_in(Some("wa_console=")), None);
        assert_eq!(cookie_in(None), None);
        assert!(cleared_cookie(false).contains("Max-Age=0"));
    }
}
