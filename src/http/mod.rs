//! The HTTP API, pure: routing, the request the shell hands over, and dispatch to the handlers.
//! Every error becomes a status code in `error`, and nowhere else.

pub mod admin;
pub mod auth;
pub mod consent;
pub mod consent_view;
pub mod console;
pub mod error;
pub mod gateway;
pub mod openapi;
pub mod response;
pub mod send;
pub mod session;
pub mod webhook;

pub use error::{answer, ApiError};
pub use response::Response;

use crate::authority::Authorities;
use crate::config::Config;
use crate::platform::{apart, Platform};
use crate::store::kv::Kv;
use crate::time::UnixTime;

/// Meta sends at most 3 MB; a bigger body is refused before it is read further.
pub const MAX_WEBHOOK_BODY: usize = 3 * 1024 * 1024;
/// Admin requests are small JSON (1000 ids is about 20 KB).
pub const MAX_ADMIN_BODY: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    WebhookVerify,
    WebhookDelivery,
    ContactMessages(String),
    ContactOutbox(String),
    EraseContact(String),
    GetConsent(String),
    PutConsent(String),
    /// The same, with the person's id in the body: ids in a path reach access logs.
    Lookup,
    ConsentByBody,
    EraseByBody,
    ConsentCheck,
    /// The consent counts, the changes per day and the latest changes (the console's overview).
    ConsentOverview,
    /// Every consent record with its ledger, as NDJSON or CSV, a page at a time.
    ConsentExport,
    Account,
    ResumeSending,
    /// The emergency stop: every send from every number, until `ResumeSending`.
    StopSending,
    SendMessage,
    /// Meta's own path, `/{version}/{phone_number_id}/messages`: the drop-in send gateway.
    GraphMessages {
        phone_number_id: String,
    },
    OpenApi,
    /// The operator console: its page and its own script and style.
    Console,
    ConsoleAsset(console::Asset),
    /// Signing in to the console (a token in the body), the session's own view, signing out.
    SessionStart,
    SessionShow,
    SessionEnd,
    MethodNotAllowed(&'static str),
    NotFound,
}

impl Route {
    /// Whether this route reads the caller's credentials (`Authorization`, the category header):
    /// Meta's routes and the health check do not, and each header read is a crossing into
    /// JavaScript.
    pub fn reads_credentials(&self) -> bool {
        !matches!(
            self,
            Route::Health
                | Route::WebhookVerify
                | Route::WebhookDelivery
                | Route::Console
                | Route::ConsoleAsset(_)
        )
    }

    /// Whether a console session may stand in for a bearer token: every admin and read route,
    /// never the send routes (the console sends nothing, so a stolen cookie cannot either).
    pub fn accepts_session(&self) -> bool {
        self.requires_token() && !matches!(self, Route::SendMessage | Route::GraphMessages { .. })
    }

    /// Whether the route reads the console's cookie and CSRF header: the routes a session may
    /// use and the session's own. The send routes, the busiest, read neither.
    pub fn reads_session(&self) -> bool {
        self.accepts_session()
            || matches!(
                self,
                Route::SessionStart | Route::SessionShow | Route::SessionEnd
            )
    }

    /// Whether the route changes nothing and is reached with GET (no CSRF token needed).
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            Route::ContactMessages(_)
                | Route::ContactOutbox(_)
                | Route::GetConsent(_)
                | Route::Account
                | Route::ConsentOverview
                | Route::ConsentExport
                | Route::SessionShow
        )
    }

    /// Whether the route answers only to a bearer token (the admin and send routes).
    pub fn requires_token(&self) -> bool {
        !matches!(
            self,
            Route::Health
                | Route::OpenApi
                | Route::WebhookVerify
                | Route::WebhookDelivery
                | Route::Console
                | Route::ConsoleAsset(_)
                | Route::SessionStart
                | Route::SessionShow
                | Route::SessionEnd
                | Route::MethodNotAllowed(_)
                | Route::NotFound
        )
    }

    /// The most body this route reads; `None` reads none.
    pub fn body_limit(&self) -> Option<usize> {
        match self {
            Route::WebhookDelivery => Some(MAX_WEBHOOK_BODY),
            Route::PutConsent(_)
            | Route::Lookup
            | Route::ConsentByBody
            | Route::EraseByBody
            | Route::StopSending
            | Route::ConsentCheck
            | Route::SendMessage
            | Route::SessionStart
            | Route::GraphMessages { .. } => Some(MAX_ADMIN_BODY),
            _ => None,
        }
    }
}

/// Chooses a route from the method and path alone, before any body is read.
pub fn route(method: &str, path: &str) -> Route {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let allow = |allowed: &'static str, ok: bool, r: Route| {
        if ok {
            r
        } else {
            Route::MethodNotAllowed(allowed)
        }
    };
    match segments.as_slice() {
        ["healthz"] => allow("GET", method == "GET", Route::Health),
        ["openapi.json"] => allow("GET", method == "GET", Route::OpenApi),
        ["console"] => allow("GET", method == "GET", Route::Console),
        ["console", "session"] => match method {
            "GET" => Route::SessionShow,
            "POST" => Route::SessionStart,
            _ => Route::MethodNotAllowed("GET, POST"),
        },
        ["console", "session", "end"] => allow("POST", method == "POST", Route::SessionEnd),
        ["console", file] => match console::Asset::named(file) {
            Some(asset) => allow("GET", method == "GET", Route::ConsoleAsset(asset)),
            None => Route::NotFound,
        },
        [version, number, "messages"] if is_graph_version(version) => allow(
            "POST",
            method == "POST",
            Route::GraphMessages {
                phone_number_id: percent_decode(number),
            },
        ),
        ["webhook"] => match method {
            "GET" => Route::WebhookVerify,
            "POST" => Route::WebhookDelivery,
            _ => Route::MethodNotAllowed("GET, POST"),
        },
        ["v1", "account"] => allow("GET", method == "GET", Route::Account),
        ["v1", "account", "pause"] => match method {
            "DELETE" => Route::ResumeSending,
            "PUT" => Route::StopSending,
            _ => Route::MethodNotAllowed("DELETE, PUT"),
        },
        ["v1", "messages"] => allow("POST", method == "POST", Route::SendMessage),
        ["v1", "consent", "check"] => allow("POST", method == "POST", Route::ConsentCheck),
        ["v1", "consent", "overview"] => allow("GET", method == "GET", Route::ConsentOverview),
        ["v1", "consent", "export"] => allow("GET", method == "GET", Route::ConsentExport),
        ["v1", "contacts", "lookup"] => allow("POST", method == "POST", Route::Lookup),
        ["v1", "contacts", "consent"] => allow("POST", method == "POST", Route::ConsentByBody),
        ["v1", "contacts", "erase"] => allow("POST", method == "POST", Route::EraseByBody),
        ["v1", "contacts", id] => allow(
            "DELETE",
            method == "DELETE",
            Route::EraseContact(percent_decode(id)),
        ),
        ["v1", "contacts", id, "messages"] => allow(
            "GET",
            method == "GET",
            Route::ContactMessages(percent_decode(id)),
        ),
        ["v1", "contacts", id, "outbox"] => allow(
            "GET",
            method == "GET",
            Route::ContactOutbox(percent_decode(id)),
        ),
        ["v1", "contacts", id, "consent"] => match method {
            "GET" => Route::GetConsent(percent_decode(id)),
            "PUT" => Route::PutConsent(percent_decode(id)),
            _ => Route::MethodNotAllowed("GET, PUT"),
        },
        _ => Route::NotFound,
    }
}

/// `v<major>.<minor>`, as in Meta's Graph API paths (`v24.0`).
pub fn is_graph_version(segment: &str) -> bool {
    let Some((major, minor)) = segment.strip_prefix('v').and_then(|v| v.split_once('.')) else {
        return false;
    };
    let digits = |s: &str| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

/// Splits a serialised request URL (`https://host/path?a=1&b=2`) into its path and decoded query
/// pairs, without a URL parser: the runtime already normalised it.
pub fn split_url(url: &str) -> (String, Vec<(String, String)>) {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = url.get(after_scheme..).unwrap_or_default();
    let from_path = rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/");
    let without_fragment = from_path.split('#').next().unwrap_or_default();
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect();
    (path.to_string(), pairs)
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, then percent escapes.
fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct Request {
    pub route: Route,
    pub query: Vec<(String, String)>,
    pub signature: Option<String>,
    pub authorization: Option<String>,
    /// `X-WA-Edge-Category`: a template's category when the caller's client cannot add a field.
    pub category: Option<String>,
    /// The client's address (`CF-Connecting-IP`), for the limit on failed tokens only: never
    /// stored or logged, and hashed before the limiter sees it.
    pub client: Option<String>,
    /// The `Cookie` header (the console's session) and `X-CSRF-Token`.
    pub cookie: Option<String>,
    pub csrf: Option<String>,
    /// Whether the request came over https: the session cookie is then `Secure`.
    pub secure: bool,
    pub body: Vec<u8>,
}

impl Request {
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Route {
    /// The route without its path parameter (personal data), for the log.
    pub fn name(&self) -> &'static str {
        match self {
            Route::Health => "healthz",
            Route::WebhookVerify => "webhook handshake",
            Route::WebhookDelivery => "webhook delivery",
            Route::ContactMessages(_) => "contact messages",
            Route::ContactOutbox(_) => "contact outbox",
            Route::EraseContact(_) => "erase contact",
            Route::GetConsent(_) | Route::PutConsent(_) | Route::ConsentByBody => "consent",
            Route::Lookup => "contact lookup",
            Route::EraseByBody => "erase contact",
            Route::ConsentCheck => "consent check",
            Route::ConsentOverview => "consent overview",
            Route::ConsentExport => "consent export",
            Route::Account => "account",
            Route::ResumeSending => "resume sending",
            Route::StopSending => "emergency stop",
            Route::SendMessage => "send message",
            Route::GraphMessages { .. } => "send gateway",
            Route::OpenApi => "openapi",
            Route::Console | Route::ConsoleAsset(_) => "console",
            Route::SessionStart => "console sign-in",
            Route::SessionShow => "console session",
            Route::SessionEnd => "console sign-out",
            Route::MethodNotAllowed(_) | Route::NotFound => "unrouted",
        }
    }

    /// The answer of a request that matched no route, before anything is read.
    pub fn refusal(&self) -> Option<ApiError> {
        match self {
            Route::NotFound => Some(ApiError::NotFound),
            Route::MethodNotAllowed(allow) => Some(ApiError::MethodNotAllowed(allow)),
            _ => None,
        }
    }
}

/// What a request runs against: Workers KV, the runtime (`Platform`), and the person authorities.
pub struct World<'a, K, G, A> {
    pub kv: &'a K,
    pub platform: &'a G,
    pub authorities: &'a A,
}

/// A request without a valid token counts against its client's limit (the `FAILED_TOKENS`
/// binding); over it, every such request is a 429 until the limiter's period ends. A valid
/// token is never refused, and every failure makes the same one call, whatever the count.
async fn throttled<G: Platform>(config: &Config, platform: &G, req: &Request) -> Option<Response> {
    if auth::scope_of(config, req.authorization.as_deref()) != Err(ApiError::Unauthorized) {
        return None;
    }
    limited(config, platform, req).await
}

/// Counts the request's failed credential; the refusal once its client is over the limit.
async fn limited<G: Platform>(config: &Config, platform: &G, req: &Request) -> Option<Response> {
    let keys = config.keys().ok()?;
    let client = keys.event(&["client", req.client.as_deref().unwrap_or_default()]);
    if !platform.failed_credential(&client).await {
        return None;
    }
    Some(match req.route {
        Route::GraphMessages { .. } => gateway::envelope(ApiError::TooManyFailures),
        _ => ApiError::TooManyFailures.into(),
    })
}

/// Handles a routed request.
pub async fn handle<K: Kv, G: Platform, A: Authorities>(
    req: Request,
    config: &Config,
    world: &World<'_, K, G, A>,
    now: UnixTime,
) -> Response {
    if let Some(refusal) = req.route.refusal() {
        return refusal.into();
    }
    match req.route {
        Route::Health => webhook::health(config),
        Route::OpenApi => openapi::document(),
        Route::Console | Route::ConsoleAsset(_) => console::page(&req.route),
        Route::SessionStart | Route::SessionShow | Route::SessionEnd => {
            apart(console::session(config, world, &req, now)).await
        }
        Route::GraphMessages { .. } => {
            if let Some(refusal) = apart(throttled(config, world.platform, &req)).await {
                return refusal;
            }
            apart(gateway::handle(config, world, &req, now)).await
        }
        Route::WebhookVerify => answer(webhook::handshake(config, &req.query)),
        Route::WebhookDelivery => answer(apart(webhook::delivery(config, world, &req, now)).await),
        _ => {
            let scope = match session::caller(config, world.kv, &req, now).await {
                Ok(scope) => scope,
                Err(ApiError::Unauthorized) => {
                    return apart(failed_credential(config, world.platform, &req)).await
                }
                Err(refusal) => return refusal.into(),
            };
            answer(
                apart(admin::handle(
                    req,
                    scope,
                    config,
                    world.kv,
                    world.authorities,
                    now,
                ))
                .await,
            )
        }
    }
}

/// The answer to a request without a valid credential: 401, or 429 once its client is over the
/// limit on failures (`throttled`).
pub async fn failed_credential<G: Platform>(
    config: &Config,
    platform: &G,
    req: &Request,
) -> Response {
    match limited(config, platform, req).await {
        Some(refusal) => refusal,
        None => ApiError::Unauthorized.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_path_and_decoded_query() {
        let (path, query) = split_url("https://wa.example.com/webhook?hub.mode=subscribe&hub.challenge=42&hub.verify_token=a%2Bb+c%26d");
        assert_eq!(path, "/webhook");
        assert_eq!(
            query,
            vec![
                ("hub.mode".to_string(), "subscribe".to_string()),
                ("hub.challenge".to_string(), "42".to_string()),
                ("hub.verify_token".to_string(), "a+b c&d".to_string()),
            ]
        );
        assert_eq!(
            split_url("http://127.0.0.1:8787/v1/contacts/%2B1555/messages").0,
            "/v1/contacts/%2B1555/messages"
        );
        assert_eq!(split_url("http://h"), ("/".to_string(), vec![]));
        assert_eq!(
            split_url("http://h/x#frag?no=1"),
            ("/x".to_string(), vec![])
        );
        assert_eq!(
            split_url("http://h/?flag"),
            ("/".to_string(), vec![("flag".to_string(), String::new())])
        );
    }

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/webhook"), Route::WebhookVerify);
        assert_eq!(route("POST", "/webhook/"), Route::WebhookDelivery);
        assert_eq!(
            route("DELETE", "/v1/contacts/%2B15551234567"),
            Route::EraseContact("+15551234567".into())
        );
        assert_eq!(
            route("PATCH", "/v1/contacts/1/consent"),
            Route::MethodNotAllowed("GET, PUT")
        );
        assert_eq!(route("GET", "/v1/nope"), Route::NotFound);
        assert_eq!(
            route("POST", "/v24.0/106540352242922/messages"),
            Route::GraphMessages {
                phone_number_id: "106540352242922".into()
            }
        );
        assert_eq!(route("POST", "/vX/1/messages"), Route::NotFound);
        assert_eq!(route("POST", "/v24/1/messages"), Route::NotFound);
        assert_eq!(
            route("GET", "/v24.0/1/messages"),
            Route::MethodNotAllowed("POST")
        );
        assert_eq!(Route::WebhookDelivery.body_limit(), Some(MAX_WEBHOOK_BODY));
        assert_eq!(Route::Health.body_limit(), None);
    }

    #[test]
    fn every_route_that_checks_a_token_reads_the_credentials() {
        // A route that calls `auth::scope_of` must be given the Authorization header.
        for path in [
            "/v1/contacts/1/messages",
            "/v1/consent/check",
            "/v1/account",
            "/v1/messages",
        ] {
            for method in ["GET", "POST", "PUT", "DELETE"] {
                let r = route(method, path);
                if !matches!(r, Route::MethodNotAllowed(_) | Route::NotFound) {
                    assert!(r.reads_credentials(), "{method} {path}");
                }
            }
        }
        assert!(route("POST", "/v24.0/1/messages").reads_credentials());
        // The console's cookie is read where a session may stand in, and nowhere busier.
        for (method, path, reads) in [
            ("GET", "/v1/account", true),
            ("POST", "/v1/contacts/erase", true),
            ("GET", "/console/session", true),
            ("POST", "/console/session/end", true),
            ("POST", "/v1/messages", false),
            ("POST", "/v24.0/1/messages", false),
            ("POST", "/webhook", false),
            ("GET", "/console", false),
        ] {
            assert_eq!(
                route(method, path).reads_session(),
                reads,
                "{method} {path}"
            );
        }
        assert!(!route("POST", "/webhook").reads_credentials());
        assert!(!route("GET", "/healthz").reads_credentials());
    }
}
