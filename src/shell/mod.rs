//! The only module that touches the Workers runtime: reads the request, env and clock, calls the
//! core, and maps its answers to HTTP responses; adapts Workers KV, fetch, WebCrypto, and the
//! per-person Durable Object (its storage, its alarm, its stub) to the core's traits. The runtime
//! is bound directly (`runtime`), not through workers-rs.

mod fetch;
mod graph;
mod kv;
mod person;
mod runtime;
mod storage;
mod tasks;

use crate::config::{Config, ConfigError};
use crate::http::send::CATEGORY_HEADER;
use crate::http::{self, ApiError, Request as ApiRequest, Response, Route};
use crate::platform::apart;
use crate::store::kv::RetryRateLimited;
use crate::time::UnixTime;
use crate::webhook::signature::SIGNATURE_HEADER;
use graph::WorkerGraph;
use kv::{KvBinding, WorkerKv, KV_BINDING};
use person::{DurableAuthorities, PERSON_BINDING};
use runtime::{BodyError, Env, Method};
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// The worker's entry point (worker-build's shim calls it with the request, env and context).
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: JsValue, _ctx: JsValue) -> js_sys::Promise {
    tasks::spawn(async move {
        let response = serve(req, &Env::new(env)).await.or_else(|_| {
            // Only building the response can fail here; the error names nothing of the request.
            runtime::log_error("response could not be built");
            runtime::response(500, &[], "internal error")
        })?;
        Ok(response.into())
    })
}

async fn serve(req: web_sys::Request, env: &Env) -> Result<web_sys::Response, JsValue> {
    let (path, query) = http::split_url(&req.url());
    let route = http::route(&req.method(), &path);
    if let Some(refusal) = route.refusal() {
        return respond(&route, refusal.into());
    }
    let headers = req.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let body = match route.body_limit() {
        Some(limit) => match apart(read_capped(&req, header("content-length"), limit)).await {
            Ok(body) => body,
            Err(refusal) => return respond(&route, refusal.into()),
        },
        None => runtime::Body::default(),
    };
    // The body's bytes move into the request; the platform keeps the runtime's copy of them.
    let graph = WorkerGraph::with_body(&body.bytes, body.buffer);
    let config = load_config(env);
    // Meta's routes and the health check read no credentials (a crossing saved per header).
    let credential = |name: &str| route.reads_credentials().then(|| header(name)).flatten();
    let request = ApiRequest {
        route: route.clone(),
        query,
        signature: header(SIGNATURE_HEADER),
        authorization: credential("authorization"),
        category: credential(CATEGORY_HEADER),
        body: body.bytes,
    };
    if route == Route::Health {
        // Needs no store: it must answer even when the KV binding is missing.
        return respond(&route, http::webhook::health(&config));
    }
    let bound = match bindings(env) {
        Ok(bound) => bound,
        Err(missing) => {
            let missing = ApiError::NotConfigured(ConfigError::Missing(missing));
            return respond(&route, missing.into());
        }
    };
    let kv = WorkerKv(&bound.kv);
    let kv = RetryRateLimited {
        kv: &kv,
        platform: &graph,
    };
    let world = http::World {
        kv: &kv,
        platform: &graph,
        authorities: &DurableAuthorities(&bound.persons),
    };
    let response = apart(http::handle(request, &config, &world, now())).await;
    respond(&route, response)
}

pub(crate) fn now() -> UnixTime {
    // `Date.now()`: one call into JavaScript (workers-rs's `Date::now` builds a `Date` and reads
    // its time, two calls and an object).
    UnixTime::from_millis(js_sys::Date::now())
}

thread_local! {
    /// An isolate's env never changes (new secrets or vars start new isolates), so the
    /// configuration is read once: each lookup crosses into JavaScript, and there are about 20.
    /// Shared, not cloned, per request: it holds the parsed rules and keyword lists.
    static CONFIG: std::cell::OnceCell<Rc<Config>> = const { std::cell::OnceCell::new() };
}

/// The bindings every request uses. Looked up once per isolate, like the configuration: a KV
/// lookup was six crossings into JavaScript and a namespace's three, and the worker and each of
/// its objects made them on every request.
pub(crate) struct Bindings {
    pub kv: KvBinding,
    /// The person namespace's `getByName`.
    pub persons: Method,
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
            kv: KvBinding::from_env(env, KV_BINDING).ok_or(KV_BINDING)?,
            persons: env
                .binding(PERSON_BINDING)
                .and_then(|namespace| Method::of(&namespace, "getByName"))
                .ok_or(PERSON_BINDING)?,
        });
        Ok(cell.get_or_init(|| bound).clone())
    })
}

pub(crate) fn load_config(env: &Env) -> Rc<Config> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| Rc::new(Config::from_lookup(|name| env.string(name))))
            .clone()
    })
}

/// Reads at most `limit` bytes: refuses on Content-Length first, then while streaming.
async fn read_capped(
    req: &web_sys::Request,
    content_length: Option<String>,
    limit: usize,
) -> Result<runtime::Body, ApiError> {
    let declared = content_length.and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge);
    }
    runtime::read_body(req, declared.is_some(), limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => ApiError::PayloadTooLarge,
            BodyError::Unreadable => ApiError::UnreadableBody,
        })
}

fn respond(route: &Route, reply: Response) -> Result<web_sys::Response, JsValue> {
    if let Some(line) = &reply.log {
        let status = (u64::from(reply.status)).to_string();
        runtime::log(&[route.name(), " -> ", &status, ": ", line].concat());
    }
    let mut headers = vec![
        ("content-type", reply.content_type),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
    ];
    if let Some(allow) = reply.allow {
        headers.push(("allow", allow));
    }
    runtime::response(reply.status, &headers, &reply.body)
}
