//! HTTP routing and responses, pure: the shell hands over a request and executes what comes back.
//! Errors become status codes here, at the edge, and nowhere else.

use crate::admin;
use crate::config::{Config, ConfigError, Secret};
use crate::handshake::{verify_subscription, HandshakeError};
use crate::ingest::{ingest, Ctx};
use crate::keys::KeyScheme;
use crate::kv::{Kv, KvError};
use crate::outbox::{Outbound, Platform};
use crate::signature::{verify_on, SecretUsed};
use crate::time::UnixTime;
use crate::webhook;
use serde_json::json;

/// Meta sends at most 3 MB; a bigger body is refused before it is read further.
pub const MAX_WEBHOOK_BODY: usize = 3 * 1024 * 1024;
/// Admin requests are small JSON (1000 ids is about 20 KB).
pub const MAX_ADMIN_BODY: usize = 256 * 1024;
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    WebhookVerify,
    WebhookDelivery,
    ContactMessages(String),
    EraseContact(String),
    GetConsent(String),
    PutConsent(String),
    ConsentCheck,
    Account,
    ResumeSending,
    SendMessage,
    MethodNotAllowed(&'static str),
    NotFound,
}

impl Route {
    /// The most body this route reads; `None` reads none.
    pub fn body_limit(&self) -> Option<usize> {
        match self {
            Route::WebhookDelivery => Some(MAX_WEBHOOK_BODY),
            Route::PutConsent(_) | Route::ConsentCheck | Route::SendMessage => Some(MAX_ADMIN_BODY),
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
        ["webhook"] => match method {
            "GET" => Route::WebhookVerify,
            "POST" => Route::WebhookDelivery,
            _ => Route::MethodNotAllowed("GET, POST"),
        },
        ["v1", "account"] => allow("GET", method == "GET", Route::Account),
        ["v1", "account", "pause"] => allow("DELETE", method == "DELETE", Route::ResumeSending),
        ["v1", "messages"] => allow("POST", method == "POST", Route::SendMessage),
        ["v1", "consent", "check"] => allow("POST", method == "POST", Route::ConsentCheck),
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
        ["v1", "contacts", id, "consent"] => match method {
            "GET" => Route::GetConsent(percent_decode(id)),
            "PUT" => Route::PutConsent(percent_decode(id)),
            _ => Route::MethodNotAllowed("GET, PUT"),
        },
        _ => Route::NotFound,
    }
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

fn percent_decode(s: &str) -> String {
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

pub struct AppRequest {
    pub route: Route,
    pub query: Vec<(String, String)>,
    pub signature: Option<String>,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub allow: Option<&'static str>,
    /// One line for the log: counts and codes only, never secrets or personal data.
    pub log: Option<String>,
}

impl Reply {
    pub fn json(status: u16, value: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: value.to_string(),
            allow: None,
            log: None,
        }
    }

    pub fn error(status: u16, code: &str, message: &str) -> Reply {
        Reply::json(status, json!({ "error": code, "message": message }))
    }

    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            allow: None,
            log: None,
        }
    }

    fn with_log(mut self, log: String) -> Reply {
        self.log = Some(log);
        self
    }
}

pub fn config_error(e: &ConfigError) -> Reply {
    let reply = match e {
        ConfigError::Missing(name) => {
            Reply::json(500, json!({ "error": "not_configured", "missing": name }))
        }
        ConfigError::Invalid { name, why } => Reply::json(
            500,
            json!({ "error": "not_configured", "invalid": name, "message": why }),
        ),
    };
    reply.with_log(format!("configuration: {e}"))
}

pub fn kv_error(e: &KvError) -> Reply {
    let detail = match e {
        KvError::RateLimited => "rate limited".to_string(),
        KvError::Unavailable(why) => why.clone(),
    };
    Reply::error(
        500,
        "storage_unavailable",
        "storage is unavailable, retry later",
    )
    .with_log(format!("kv error: {detail}"))
}

pub fn not_routed(route: &Route) -> Option<Reply> {
    match route {
        Route::NotFound => Some(Reply::error(404, "not_found", "no such endpoint")),
        Route::MethodNotAllowed(allow) => {
            let mut r = Reply::error(
                405,
                "method_not_allowed",
                "method not allowed on this endpoint",
            );
            r.allow = Some(allow);
            Some(r)
        }
        _ => None,
    }
}

/// Handles a routed request. The outbox is sent by the shell after the response.
pub async fn handle<K: Kv, G: Platform>(
    req: AppRequest,
    config: &Config,
    kv: &K,
    graph: &G,
    now: UnixTime,
) -> (Reply, Vec<Outbound>) {
    if let Some(reply) = not_routed(&req.route) {
        return (reply, Vec::new());
    }
    match req.route {
        Route::Health => (health(config), Vec::new()),
        Route::WebhookVerify => (handshake(config, &req.query), Vec::new()),
        Route::WebhookDelivery => delivery(config, kv, graph, &req, now).await,
        _ => (admin::handle(req, config, kv, graph, now).await, Vec::new()),
    }
}

fn health(config: &Config) -> Reply {
    let mut settings = serde_json::Map::new();
    for s in Secret::REQUIRED
        .iter()
        .chain([Secret::AppSecretPrevious].iter())
    {
        settings.insert(s.name().to_string(), json!(config.secret(*s).is_some()));
    }
    let problems: Vec<String> = config.problems.iter().map(|p| p.to_string()).collect();
    let ready = problems.is_empty() && Secret::REQUIRED.iter().all(|s| config.secret(*s).is_some());
    Reply::json(
        200,
        json!({ "service": "wa-edge", "version": VERSION, "ready": ready, "settings": settings, "retention_days": config.retention_days, "problems": problems }),
    )
}

fn handshake(config: &Config, query: &[(String, String)]) -> Reply {
    let token = match config.require(Secret::VerifyToken) {
        Ok(t) => t,
        Err(e) => return config_error(&e),
    };
    match verify_subscription(query, token) {
        Ok(challenge) => Reply::text(200, challenge).with_log("handshake accepted".into()),
        Err(HandshakeError::BadChallenge) => {
            Reply::error(400, "bad_challenge", "hub.challenge is missing or too long")
        }
        Err(HandshakeError::Forbidden) => Reply::error(403, "forbidden", "verification failed")
            .with_log("handshake refused".into()),
    }
}

async fn delivery<K: Kv, G: Platform>(
    config: &Config,
    kv: &K,
    graph: &G,
    req: &AppRequest,
    now: UnixTime,
) -> (Reply, Vec<Outbound>) {
    let secrets = config
        .require(Secret::AppSecret)
        .and_then(|s| config.require(Secret::ContactKeySecret).map(|c| (s, c)))
        .and_then(|pair| config.check_valid().map(|_| pair));
    let (app_secret, contact_secret) = match secrets {
        Ok(pair) => pair,
        Err(e) => return (config_error(&e), Vec::new()),
    };
    if req.body.len() > MAX_WEBHOOK_BODY {
        return (
            Reply::error(413, "payload_too_large", "body exceeds 3 MiB"),
            Vec::new(),
        );
    }
    let previous = config.secret(Secret::AppSecretPrevious).map(str::as_bytes);
    let used = match verify_on(
        graph,
        &req.body,
        req.signature.as_deref(),
        app_secret.as_bytes(),
        previous,
    )
    .await
    {
        Ok(used) => used,
        Err(e) => {
            let status = if e == crate::signature::SignatureError::Missing {
                401
            } else {
                403
            };
            return (
                Reply::error(status, e.code(), "signature verification failed")
                    .with_log(format!("rejected: {}", e.code())),
                Vec::new(),
            );
        }
    };
    let rotation = if used == SecretUsed::Previous {
        " (previous app secret)"
    } else {
        ""
    };
    let events = match webhook::parse(&req.body) {
        Ok(events) => events,
        Err(webhook::ParseError::NotAnEnvelope(why)) => {
            return (
                Reply::json(200, json!({ "status": "ignored" }))
                    .with_log(format!("signed but unparseable: {why}{rotation}")),
                Vec::new(),
            );
        }
    };
    let keys = KeyScheme::new(contact_secret);
    let ctx = Ctx::new(kv, &keys, config, now);
    match ingest(&ctx, events).await {
        Ok((summary, outbox)) => {
            let log = format!(
                "delivery {}{rotation}",
                serde_json::to_string(&summary).unwrap_or_default()
            );
            (
                Reply::json(200, json!({ "status": "ok" })).with_log(log),
                outbox,
            )
        }
        Err(e) => (kv_error(&e), Vec::new()),
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
        assert_eq!(Route::WebhookDelivery.body_limit(), Some(MAX_WEBHOOK_BODY));
        assert_eq!(Route::Health.body_limit(), None);
    }
}
