//! The only module that names `worker`: reads the request, env and clock, calls the core,
//! executes its plan against KV and fetch, and maps replies to HTTP responses.

use crate::config::{Config, ConfigError, Secret};
use crate::context::Ctx;
use crate::http::{self, ApiError, Request as ApiRequest, Response, Route};
use crate::platform::Platform;
use crate::send::{deliver_all, Outbound};
use crate::store::keys::KeyScheme;
use crate::store::kv::{Kv, KvError, ListPage, ListedKey, RetryRateLimited};
use crate::time::UnixTime;
use crate::webhook::signature::SIGNATURE_HEADER;
use futures_util::StreamExt;
use std::cell::Cell;
use worker::wasm_bindgen::JsValue;
use worker::{event, web_sys, Context, Env, Fetch, Headers, Method, Request, RequestInit};

pub const KV_BINDING: &str = "WHATSAPP_KV";
/// Bulk reads take at most this many keys per KV operation.
const KV_BULK_GET: usize = 100;

// The raw runtime request, not `worker::Request`: converting to that reads `request.cf` and
// copies the URL on every request, which a profile showed as ~7% of a small delivery's CPU.
#[event(fetch)]
pub async fn fetch(
    req: web_sys::Request,
    env: Env,
    ctx: Context,
) -> worker::Result<web_sys::Response> {
    console_error_panic_hook::set_once();
    let (path, query) = http::split_url(&req.url());
    let route = http::route(&req.method(), &path);
    if let Some(refusal) = route.refusal() {
        return respond(&route, refusal.into());
    }
    let headers = req.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    let body = match route.body_limit() {
        Some(limit) => match read_capped(req, header("content-length"), limit).await {
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
        authorization: header("authorization"),
        body,
        in_flight_sends: IN_FLIGHT.with(Cell::get),
    };
    if route == Route::Health {
        // Needs no store: it must answer even when the KV binding is missing.
        return respond(
            &route,
            http::webhook::health(&config, request.in_flight_sends),
        );
    }
    let Ok(store) = env.kv(KV_BINDING) else {
        let missing = ApiError::NotConfigured(ConfigError::Missing(KV_BINDING));
        return respond(&route, missing.into());
    };
    let kv = WorkerKv(store);
    let kv = RetryRateLimited {
        kv: &kv,
        platform: &WorkerGraph,
    };
    let (response, outbox) = http::handle(request, &config, &kv, &WorkerGraph, now()).await;
    if !outbox.is_empty() {
        IN_FLIGHT.with(|n| n.set(n.get() + 1));
        ctx.wait_until(send_all(env, config, outbox));
    }
    respond(&route, response)
}

thread_local! {
    /// Outboxes still being sent in `wait_until` by this isolate: `/healthz` shows it, so tests
    /// and operators can tell when the worker's work after its answers is over.
    static IN_FLIGHT: Cell<u32> = const { Cell::new(0) };
}

fn now() -> UnixTime {
    UnixTime::from_millis(worker::Date::now().as_millis() as f64)
}

thread_local! {
    /// An isolate's env never changes (new secrets or vars start new isolates), so the
    /// configuration is read once: each lookup crosses into JavaScript, and there are about 20.
    static CONFIG: std::cell::OnceCell<Config> = const { std::cell::OnceCell::new() };
}

fn load_config(env: &Env) -> Config {
    CONFIG.with(|cell| {
        cell.get_or_init(|| {
            Config::from_lookup(|name| {
                env.secret(name)
                    .ok()
                    .map(|s| s.to_string())
                    .or_else(|| env.var(name).ok().map(|v| v.to_string()))
            })
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
    let too_large = || ApiError::PayloadTooLarge;
    let unreadable = || ApiError::UnreadableBody;
    let declared = content_length.and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    if declared.is_some() {
        // Declared and within the cap: one read. The runtime enforces Content-Length, so the
        // body cannot be longer than declared.
        let promise = req.array_buffer().map_err(|_| unreadable())?;
        let buffer = worker::wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .map_err(|_| unreadable())?;
        return Ok(worker::js_sys::Uint8Array::new(&buffer).to_vec());
    }
    // No Content-Length (chunked): stream, and stop at the cap.
    let mut req = Request::from(req);
    let mut body = Vec::new();
    let Ok(mut stream) = req.stream() else {
        return Ok(body);
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| unreadable())?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
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
    let init = web_sys::ResponseInit::new();
    init.set_status(reply.status);
    init.set_headers(&headers);
    Ok(web_sys::Response::new_with_opt_str_and_init(
        Some(&reply.body),
        &init,
    )?)
}

/// Sends what the core decided, after the response, and records each result.
async fn send_all(env: Env, config: Config, outbox: Vec<Outbound>) {
    if let (Ok(store), Some(secret)) = (env.kv(KV_BINDING), config.secret(Secret::ContactKeySecret))
    {
        let kv = WorkerKv(store);
        let kv = RetryRateLimited {
            kv: &kv,
            platform: &WorkerGraph,
        };
        let keys = KeyScheme::new(secret);
        let ctx = Ctx::new(&kv, &keys, &config, now());
        for line in deliver_all(&ctx, &WorkerGraph, &outbox).await {
            worker::console_log!("{line}");
        }
    }
    IN_FLIGHT.with(|n| n.set(n.get().saturating_sub(1)));
}

/// The Graph API over the runtime's fetch. The token goes only into the Authorization header.
struct WorkerGraph;

impl Platform for WorkerGraph {
    async fn post(&self, url: &str, token: &str, body: &str) -> Result<(u16, String), String> {
        let send = async {
            let headers = Headers::new();
            headers.set("authorization", &format!("Bearer {token}"))?;
            headers.set("content-type", "application/json")?;
            let mut init = RequestInit::new();
            init.with_method(Method::Post)
                .with_headers(headers)
                .with_body(Some(JsValue::from_str(body)));
            let request = Request::new_with_init(url, &init)?;
            let mut response = Fetch::Request(request).send().await?;
            let status = response.status_code();
            worker::Result::Ok((status, response.text().await.unwrap_or_default()))
        };
        // The error text could name the URL but never the token; keep only its kind.
        send.await
            .map_err(|_: worker::Error| "fetch failed".to_string())
    }

    async fn sleep(&self, ms: u64) {
        worker::Delay::from(std::time::Duration::from_millis(ms)).await;
    }

    /// WebCrypto for large bodies: pure-Rust HMAC in wasm costs about 10 ms per MiB, the
    /// runtime's native one a fraction of that. Small bodies stay in Rust, where a round trip
    /// into JavaScript would cost more than the MAC. Any JS error falls back to Rust.
    async fn hmac_sha256_verify(&self, secret: &[u8], body: &[u8], tag: &[u8; 32]) -> Option<bool> {
        if body.len() < WEBCRYPTO_MIN_BODY {
            return None;
        }
        webcrypto_hmac_verify(secret, body, tag).await.ok()
    }
}

/// Bodies at least this large are verified with WebCrypto (see `npm run bench`).
const WEBCRYPTO_MIN_BODY: usize = 16 * 1024;

async fn webcrypto_hmac_verify(
    secret: &[u8],
    body: &[u8],
    tag: &[u8; 32],
) -> Result<bool, JsValue> {
    use worker::js_sys::{global, Array, Function, Object, Promise, Reflect, Uint8Array};
    use worker::wasm_bindgen::JsCast;
    use worker::wasm_bindgen_futures::JsFuture;
    let subtle = Reflect::get(
        &Reflect::get(&global(), &"crypto".into())?,
        &"subtle".into(),
    )?;
    let call = |name: &str, args: Array| -> Result<JsFuture, JsValue> {
        let f: Function = Reflect::get(&subtle, &name.into())?.dyn_into()?;
        Ok(JsFuture::from(
            f.apply(&subtle, &args)?.dyn_into::<Promise>()?,
        ))
    };
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"HMAC".into())?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into())?;
    let usages = Array::of1(&"verify".into());
    let key_args = Array::of5(
        &"raw".into(),
        &Uint8Array::from(secret).into(),
        &algorithm,
        &false.into(),
        &usages.into(),
    );
    let key = call("importKey", key_args)?.await?;
    // crypto.subtle.verify compares in constant time.
    let verify_args = Array::of4(
        &"HMAC".into(),
        &key,
        &Uint8Array::from(&tag[..]).into(),
        &Uint8Array::from(body).into(),
    );
    Ok(call("verify", verify_args)?.await?.as_bool() == Some(true))
}

/// Workers KV behind the core's `Kv` trait (the 429 retry is `RetryRateLimited`'s).
struct WorkerKv(worker::kv::KvStore);

fn kv_error(e: worker::kv::KvError) -> KvError {
    let text = e.to_string();
    if text.contains("429") || text.contains("Too Many Requests") {
        KvError::RateLimited
    } else {
        KvError::Unavailable(text.chars().take(200).collect())
    }
}

impl Kv for WorkerKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        self.0.get(key).text().await.map_err(kv_error)
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<serde_json::Value>,
    ) -> Result<(), KvError> {
        let mut builder = self.0.put(key, value).map_err(kv_error)?;
        if let Some(at) = expires {
            builder = builder.expiration(at.0);
        }
        if let Some(meta) = metadata {
            builder = builder.metadata(meta).map_err(kv_error)?;
        }
        builder.execute().await.map_err(kv_error)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.0.delete(key).await.map_err(kv_error)
    }

    async fn list(&self, prefix: &str, cursor: Option<String>) -> Result<ListPage, KvError> {
        let mut builder = self.0.list().prefix(prefix.to_string());
        if let Some(c) = cursor {
            builder = builder.cursor(c);
        }
        let page = builder.execute().await.map_err(kv_error)?;
        let keys = page
            .keys
            .into_iter()
            .map(|k| ListedKey {
                name: k.name,
                expiration: k.expiration,
                metadata: k.metadata,
            })
            .collect();
        Ok(ListPage {
            keys,
            cursor: if page.list_complete {
                None
            } else {
                page.cursor
            },
        })
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(KV_BULK_GET) {
            let found = self.0.get_bulk(chunk).text().await.map_err(kv_error)?;
            out.extend(chunk.iter().map(|k| found.get(k).cloned().flatten()));
        }
        Ok(out)
    }
}
