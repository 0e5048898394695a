//! The only module that names `worker` (workers-rs): reads the request, env and clock, calls the
//! core, and maps its answers to HTTP responses; adapts Workers KV, fetch, WebCrypto, and the
//! per-person Durable Object (its storage, its alarm, its stub) to the core's traits.

mod graph;
mod kv;
mod person;
mod runtime_ext;
mod storage;

use crate::config::{Config, ConfigError};
use crate::http::send::CATEGORY_HEADER;
use crate::http::{self, ApiError, Request as ApiRequest, Response, Route};
use crate::platform::apart;
use crate::store::kv::RetryRateLimited;
use crate::time::UnixTime;
use crate::webhook::signature::SIGNATURE_HEADER;
use futures_util::StreamExt;
use graph::WorkerGraph;
use kv::{WorkerKv, KV_BINDING};
use person::{DurableAuthorities, PERSON_BINDING};
use std::rc::Rc;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{event, web_sys, Context, Env, KvStore, ObjectNamespace, Request};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

// The runtime's own request and response types (workers-rs's event takes and gives them too):
// `worker::Request::from` reads `request.cf` and copies the URL on every request, and a
// `worker::Response` is rebuilt into the runtime's on the way out; here the body is read in one
// call and the answer made in one.
#[event(fetch)]
pub async fn fetch(
    req: web_sys::Request,
    env: Env,
    _ctx: Context,
) -> worker::Result<web_sys::Response> {
    let url = req.url();
    let (path, query) = http::split_url(&url);
    let route = http::route(&req.method(), &path);
    if let Some(refusal) = route.refusal() {
        return respond(&route, refusal.into());
    }
    let headers = req.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    // Meta's routes and the health check read no credentials.
    let credential = |name: &str| route.reads_credentials().then(|| header(name)).flatten();
    // Only the console's routes read its cookie and CSRF token.
    let session = |name: &str| route.reads_session().then(|| header(name)).flatten();
    let body = match route.body_limit() {
        Some(limit) => match apart(read_capped(
            Clone::clone(&req),
            header("content-length"),
            limit,
        ))
        .await
        {
            Ok(body) => body,
            Err(refusal) => return respond(&route, refusal.into()),
        },
        None => Vec::new(),
    };
    let config = load_config(&env);
    let request = ApiRequest {
        route: route.clone(),
        query,
        signature: header(SIGNATURE_HEADER),
        authorization: credential("authorization"),
        category: credential(CATEGORY_HEADER),
        client: credential("cf-connecting-ip"),
        cookie: session("cookie"),
        csrf: session(crate::http::session::CSRF_HEADER),
        secure: url.starts_with("https:"),
        body,
    };
    if route == Route::Health {
        // Needs no store: it must answer even when the KV binding is missing.
        return respond(&route, http::webhook::health(&config));
    }
    let bound = match bindings(&env) {
        Ok(bound) => bound,
        Err(missing) => {
            let missing = ApiError::NotConfigured(ConfigError::Missing(missing));
            return respond(&route, missing.into());
        }
    };
    let kv = WorkerKv(&bound.kv);
    let kv = RetryRateLimited {
        kv: &kv,
        platform: &WorkerGraph,
    };
    let world = http::World {
        kv: &kv,
        platform: &WorkerGraph,
        authorities: &DurableAuthorities(&bound.persons),
    };
    let response = apart(http::handle(request, &config, &world, now())).await;
    respond(&route, response)
}

pub(crate) fn now() -> UnixTime {
    UnixTime::from_millis(worker::Date::now().as_millis() as f64)
}

/// A thrown JavaScript value's message, for a log line or an error (never a key or a value: the
/// runtime's messages name operations, not data).
pub(crate) fn error_text(value: &JsValue) -> String {
    value
        .as_string()
        .or_else(|| {
            worker::js_sys::Reflect::get(value, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "runtime error".to_string())
}

thread_local! {
    /// An isolate's env never changes (new secrets or vars start new isolates), so the
    /// configuration is read once: each lookup crosses into JavaScript, and there are about 20.
    /// Shared, not cloned, per request: it holds the parsed rules and keyword lists.
    static CONFIG: std::cell::OnceCell<Rc<Config>> = const { std::cell::OnceCell::new() };
}

/// The bindings every request uses, looked up once per isolate like the configuration.
pub(crate) struct Bindings {
    pub kv: KvStore,
    pub persons: ObjectNamespace,
    /// The limit on failed tokens per client (`wrangler.toml`); optional: without it nothing
    /// is limited.
    pub failed_tokens: Option<worker::RateLimiter>,
}

/// The rate-limiting binding that counts requests without a valid token, per client.
pub const FAILED_TOKENS_BINDING: &str = "FAILED_TOKENS";

/// The bindings once the isolate has looked them up (its first request does).
pub(crate) fn bound() -> Option<Rc<Bindings>> {
    BINDINGS.with(|cell| cell.get().cloned())
}

thread_local! {
    static BINDINGS: std::cell::OnceCell<Rc<Bindings>> = const { std::cell::OnceCell::new() };
}

/// The bindings, or the name of the one missing (not remembered: a fixed configuration starts a
/// new isolate anyway).
pub(crate) fn bindings(env: &Env) -> Result<Rc<Bindings>, &'static str> {
    BINDINGS.with(|cell| {
        if let Some(bound) = cell.get() {
            return Ok(bound.clone());
        }
        let bound = Rc::new(Bindings {
            kv: env.kv(KV_BINDING).map_err(|_| KV_BINDING)?,
            persons: env
                .durable_object(PERSON_BINDING)
                .map_err(|_| PERSON_BINDING)?,
            failed_tokens: env.rate_limiter(FAILED_TOKENS_BINDING).ok(),
        });
        Ok(cell.get_or_init(|| bound).clone())
    })
}

pub(crate) fn load_config(env: &Env) -> Rc<Config> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| {
            Rc::new(Config::from_lookup(|name| {
                env.secret(name)
                    .ok()
                    .map(|s| s.to_string())
                    .or_else(|| env.var(name).ok().map(|v| v.to_string()))
            }))
        })
        .clone()
    })
}

/// Reads at most `limit` bytes: refuses on Content-Length first, then while streaming.
async fn read_capped(
    req: web_sys::Request,
    content_length: Option<String>,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = content_length.and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge);
    }
    if declared.is_some() {
        // Declared and within the cap: one read. The runtime enforces Content-Length, so the
        // body cannot be longer than declared.
        let promise = req.array_buffer().map_err(|_| ApiError::UnreadableBody)?;
        let buffer = JsFuture::from(promise)
            .await
            .map_err(|_| ApiError::UnreadableBody)?;
        return Ok(worker::js_sys::Uint8Array::new(&buffer).to_vec());
    }
    // No Content-Length (chunked): stream, and stop at the cap.
    let mut req = Request::from(req);
    let mut body = Vec::new();
    let Ok(mut stream) = req.stream() else {
        return Ok(body);
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::UnreadableBody)?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn respond(route: &Route, reply: Response) -> worker::Result<web_sys::Response> {
    if let Some(line) = &reply.log {
        worker::console_log!("{} -> {}: {}", route.name(), reply.status, line);
    }
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", reply.content_type)?;
    headers.set("x-content-type-options", "nosniff")?;
    headers.set("cache-control", "no-store")?;
    if let Some(allow) = reply.allow {
        headers.set("allow", allow)?;
    }
    for (name, value) in &reply.headers {
        headers.append(name, value)?;
    }
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    Ok(web_sys::Response::new_with_opt_str_and_init(
        Some(&reply.body),
        &init,
    )?)
}
