//! The operator console: one page with its own script and style, served by the worker under a
//! strict Content-Security-Policy, and the session routes it signs in and out with. Everything
//! the page shows or changes goes through the API's own routes, with the session's cookie and
//! CSRF token in place of a bearer token (`auth::caller`).

use crate::authority::Authorities;
use crate::config::Config;
use crate::http::auth::{scope_of, Scope};
use crate::http::error::{answer, ApiError};
use crate::http::response::Response;
use crate::http::session::session_of;
use crate::http::session::{cleared_cookie, Session};
use crate::http::{failed_credential, Request, Route, World};
use crate::platform::Platform;
use crate::store::keys;
use crate::store::kv::{Kv, KvError};
use crate::time::UnixTime;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    Script,
    Style,
    Icon,
}

impl Asset {
    pub fn named(file: &str) -> Option<Asset> {
        match file {
            "console.js" => Some(Asset::Script),
            "console.css" => Some(Asset::Style),
            "icon.svg" => Some(Asset::Icon),
            _ => None,
        }
    }
}

const PAGE: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const STYLE: &str = include_str!("../../console/console.css");
const ICON: &str = include_str!("../../console/icon.svg");

/// Our own script and style only, no inline code, requests only to this worker, never framed:
/// a page that holds consent records and an emergency stop runs nothing it did not ship.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The page or one of its files.
pub fn page(route: &Route) -> Response {
    let (content_type, body) = match route {
        Route::ConsoleAsset(Asset::Script) => ("text/javascript; charset=utf-8", SCRIPT),
        Route::ConsoleAsset(Asset::Style) => ("text/css; charset=utf-8", STYLE),
        Route::ConsoleAsset(Asset::Icon) => ("image/svg+xml", ICON),
        _ => ("text/html; charset=utf-8", PAGE),
    };
    Response::body(200, content_type, body.to_string())
        .with_header("content-security-policy", CONTENT_SECURITY_POLICY.into())
        .with_header("x-frame-options", "DENY".into())
        .with_header("referrer-policy", "no-referrer".into())
}

/// Signing in, the session's view, signing out.
pub async fn session<K: Kv, G: Platform, A: Authorities>(
    config: &Config,
    world: &World<'_, K, G, A>,
    req: &Request,
    now: UnixTime,
) -> Response {
    match req.route {
        Route::SessionStart => start(config, world.platform, req, now).await,
        Route::SessionEnd => answer(end(config, world.kv, req, now).await),
        _ => answer(
            session_of(config, world.kv, req, now)
                .await
                .map(|s| Response::json(200, view(config, &s))),
        ),
    }
}

#[derive(serde::Deserialize)]
struct SignIn {
    token: String,
}

/// What the page knows of its session: who, until when, and the CSRF token to send back.
fn view(config: &Config, session: &Session) -> serde_json::Value {
    json!({
        "scope": scope_name(session.scope),
        "csrf": session.csrf(config),
        "expires_at": session.expires.0,
    })
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Admin => "admin",
        _ => "viewer",
    }
}

/// `ADMIN_TOKEN` or `VIEWER_TOKEN` (or their previous values) in the body start a session; a
/// wrong one counts against the client's failures like a wrong bearer token; `SEND_TOKEN` gets
/// nothing here.
async fn start<G: Platform>(
    config: &Config,
    platform: &G,
    req: &Request,
    now: UnixTime,
) -> Response {
    let Ok(input) = crate::serde_ext::from_slice::<SignIn>(&req.body) else {
        return ApiError::bad_request("invalid_body", r#"expected {"token":"..."}"#).into();
    };
    let bearer = format!("Bearer {}", input.token.trim());
    let scope = match scope_of(config, Some(&bearer)) {
        Ok(Scope::Send) => return ApiError::Forbidden.into(),
        Ok(scope) => scope,
        Err(ApiError::Unauthorized) => return failed_credential(config, platform, req).await,
        Err(e) => return e.into(),
    };
    let Some(random) = platform.random_bytes() else {
        return ApiError::Storage(KvError::Unavailable("no random source".into())).into();
    };
    let session = Session::start(scope, now, random);
    let Some(cookie) = session.set_cookie(config, req.secure, now) else {
        return ApiError::Unauthorized.into();
    };
    Response::json(200, view(config, &session))
        .with_header("set-cookie", cookie)
        .with_log(format!("console session started ({})", scope_name(scope)))
}

/// Signing out: the cookie is cleared, and the session is refused from now on even if a copy of
/// it is presented, until it would have expired (Workers KV keeps a key at least 60 s).
async fn end<K: Kv>(
    config: &Config,
    kv: &K,
    req: &Request,
    now: UnixTime,
) -> Result<Response, ApiError> {
    let session = session_of(config, kv, req, now).await?;
    if !session.csrf_matches(config, req.csrf.as_deref()) {
        return Err(ApiError::CsrfRefused);
    }
    let ended = keys::ended_session(config.keys()?, &session.nonce);
    let until = UnixTime(session.expires.0.max(now.0 + 60));
    kv.put(&ended, "1", Some(until), None).await?;
    Ok(Response::json(200, json!({"signed_out": true}))
        .with_header("set-cookie", cleared_cookie(req.secure)))
}
