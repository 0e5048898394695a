//! The per-person authority as a Durable Object: the stub the worker calls, the object itself
//! (its requests and its alarm), and its storage behind the core's `Kv` trait.

use super::graph::WorkerGraph;
use super::kv::WorkerKv;
use super::{bindings, load_config, now};
use crate::authority::mirror::{Mirror, Mirrored};
use crate::authority::{Answer, Authorities, Host, Op};
use crate::config::Secret;
use crate::platform::apart;
use crate::store::keys::{ContactKey, KeyScheme};
use crate::store::kv::{Kv, KvError, ListPage, ListedKey, RetryRateLimited, Write};
use crate::time::UnixTime;
use std::cell::Cell;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{durable_object, js_sys, web_sys, DurableObject, Env, Request, State};

/// The Durable Object namespace of the per-person authorities (`wrangler.toml`).
pub const PERSON_BINDING: &str = "PERSON";

/// The authorities as Durable Objects: one per person, named by the contact's keyed hash (never
/// a phone number), reached through its stub.
pub struct DurableAuthorities<'a>(pub &'a worker::ObjectNamespace);

/// What the worker sends a person's authority: who they are (their keyed hash) and the request.
#[derive(serde::Deserialize)]
struct Envelope {
    contact: String,
    op: Op,
}

/// The same, written from borrowed parts (the request is not cloned to be sent).
#[derive(serde::Serialize)]
struct EnvelopeOut<'a> {
    contact: &'a str,
    op: &'a Op,
}

impl Authorities for DurableAuthorities<'_> {
    async fn call(&self, contact: &ContactKey, op: &Op) -> Result<Answer, KvError> {
        let fail = |what: &str| KvError::Unavailable(format!("authority: {what}"));
        let stub = self
            .0
            .get_by_name(&contact.0)
            .map_err(|_| fail("no stub"))?;
        let body = serde_json::to_string(&EnvelopeOut {
            contact: &contact.0,
            op,
        })
        .map_err(|_| fail("encode"))?;
        let (status, text) = post_to(stub.into_rpc(), &body).await.map_err(fail)?;
        if status != 200 {
            return Err(fail(&text.chars().take(200).collect::<String>()));
        }
        serde_json::from_str(&text).map_err(|_| fail("answer"))
    }
}

/// One POST to an object through its stub, the answer read as text in one call. workers-rs's
/// `Stub::fetch_with_request` reads the answer as a stream, chunk by chunk: a profile showed the
/// stream reader's calls as about a tenth of a known contact's CPU.
async fn post_to(stub: js_sys::Object, body: &str) -> Result<(u16, String), &'static str> {
    let fetch: js_sys::Function = js_sys::Reflect::get(&stub, &JsValue::from_str("fetch"))
        .map_err(|_| "no fetch")?
        .unchecked_into();
    let init = js_sys::Object::new();
    let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&init, &JsValue::from_str(k), v);
    set("method", &JsValue::from_str("POST")).map_err(|_| "request")?;
    set("body", &JsValue::from_str(body)).map_err(|_| "request")?;
    let sent = fetch
        .call2(&stub, &JsValue::from_str("https://authority/"), &init)
        .map_err(|_| "unreachable")?;
    let response: web_sys::Response = JsFuture::from(sent.unchecked_into::<js_sys::Promise>())
        .await
        .map_err(|_| "unreachable")?
        .unchecked_into();
    let text = response.text().map_err(|_| "unreadable")?;
    let text = JsFuture::from(text)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or("unreadable")?;
    Ok((response.status(), text))
}

/// A person's authority. Requests to one object are served one at a time; see `authority`.
#[durable_object]
pub struct Person {
    state: State,
    env: Env,
    /// This object's storage in memory: its reads cost no crossing into JavaScript.
    mirror: Mirror,
    /// When this instance last set the alarm for (Unix seconds), until it fires: a request
    /// whose wake is no earlier leaves it (one `setAlarm` call fewer per request).
    alarm_at: Cell<Option<u64>>,
}

/// The key under which an authority remembers whose it is, for its alarm.
const WHO: &str = "who";

impl Person {
    async fn run(&self, op: Option<Op>, who: Option<String>) -> Result<Option<Answer>, KvError> {
        let at = now();
        let storage = DoStore {
            storage: self.state.storage(),
            now: at,
        };
        let local = Mirrored {
            inner: &storage,
            mirror: &self.mirror,
            now: at,
        };
        let contact = match who {
            Some(c) => {
                if local.get(WHO).await?.as_deref() != Some(c.as_str()) {
                    local.put(WHO, &c, None, None).await?;
                }
                c
            }
            None => match local.get(WHO).await? {
                Some(c) => c,
                None => return Ok(None),
            },
        };
        let config = load_config(&self.env);
        let secret = config
            .secret(Secret::ContactKeySecret)
            .ok_or_else(|| KvError::Unavailable("CONTACT_KEY_SECRET is not set".into()))?;
        let keys = KeyScheme::new(secret);
        let bound = bindings(&self.env)
            .map_err(|missing| KvError::Unavailable(format!("{missing} is not bound")))?;
        let kv = WorkerKv(&bound.kv);
        let kv = RetryRateLimited {
            kv: &kv,
            platform: &WorkerGraph,
        };
        let authorities = DurableAuthorities(&bound.persons);
        let host = Host {
            local: &local,
            kv: &kv,
            graph: &WorkerGraph,
            authorities: &authorities,
            config: &config,
            keys: &keys,
            contact: ContactKey(contact),
        };
        let (answer, wake) = match op {
            Some(op) => {
                let (answer, wake) = apart(host.handle(op, now())).await?;
                (Some(answer), wake)
            }
            None => {
                let (wake, log) = apart(host.alarm(now())).await?;
                for line in log {
                    worker::console_log!("{line}");
                }
                (None, wake)
            }
        };
        if let Some(at) = wake {
            // An alarm still ahead and no later than this wake stays: it wakes the object in time,
            // and the alarm works out its own next wake.
            let kept = self
                .alarm_at
                .get()
                .is_some_and(|set| set > now().0 && set <= at.0);
            if !kept {
                let when = js_sys::Date::new(&JsValue::from_f64(at.0 as f64 * 1000.0));
                let scheduled = storage
                    .storage
                    .set_alarm(worker::ScheduledTime::new(when))
                    .await;
                self.alarm_at.set(scheduled.ok().map(|_| at.0));
            }
        }
        Ok(answer)
    }
}

impl DurableObject for Person {
    fn new(state: State, env: Env) -> Self {
        Person {
            state,
            env,
            mirror: Mirror::default(),
            alarm_at: Cell::new(None),
        }
    }

    async fn fetch(&self, req: Request) -> worker::Result<worker::Response> {
        // The body as text in one call, parsed by serde_json: `Request::json` would build a JS
        // object and walk it from wasm, a crossing per field.
        let text = match req.inner().text() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .ok()
                .and_then(|t| t.as_string()),
            Err(_) => None,
        };
        let Some(envelope) = text.and_then(|t| serde_json::from_str::<Envelope>(&t).ok()) else {
            return worker::Response::error("bad authority request", 400);
        };
        match self.run(Some(envelope.op), Some(envelope.contact)).await {
            Ok(Some(answer)) => worker::Response::from_json(&answer),
            Ok(None) => worker::Response::error("no answer", 500),
            // The text names the failure's kind, never a key or a value.
            Err(e) => worker::Response::error(e.to_string(), 500),
        }
    }

    async fn alarm(&self) -> worker::Result<worker::Response> {
        // The alarm that fired is spent: whatever `run` sets is the next one.
        self.alarm_at.set(None);
        if let Err(e) = self.run(None, None).await {
            worker::console_error!("authority alarm: {e}");
            // Try again shortly: nothing was lost, the outbox and queue are where they were.
            let retry = self.state.storage().set_alarm(5_000i64).await;
            self.alarm_at.set(retry.ok().map(|_| now().0 + 5));
        }
        worker::Response::ok("")
    }
}

/// Durable Object storage behind the core's `Kv` trait. Its storage has no TTL or metadata, so
/// each value is stored with them (`{"v","e","m"}`): expired entries read as absent, and the
/// authority's alarm purges them.
struct DoStore {
    storage: worker::Storage,
    now: UnixTime,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    v: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    e: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<serde_json::Value>,
}

/// A value as this storage keeps it, with its expiry and metadata.
fn encode(
    value: &str,
    expires: Option<UnixTime>,
    metadata: Option<serde_json::Value>,
) -> Result<String, KvError> {
    let stored = Stored {
        v: value.to_string(),
        e: expires.map(|e| e.0),
        m: metadata,
    };
    serde_json::to_string(&stored).map_err(|_| KvError::Corrupt("stored"))
}

fn do_error(e: worker::Error) -> KvError {
    KvError::Unavailable(e.to_string().chars().take(200).collect())
}

impl DoStore {
    /// A stored value, expired or not.
    fn parse(raw: &JsValue) -> Option<Stored> {
        serde_json::from_str(&raw.as_string()?).ok()
    }

    /// A stored value that has not expired.
    fn decode(&self, raw: &JsValue) -> Option<Stored> {
        let stored = Self::parse(raw)?;
        match stored.e {
            Some(e) if e <= self.now.0 => None,
            _ => Some(stored),
        }
    }

    fn pairs(map: &js_sys::Map) -> Vec<(String, JsValue)> {
        let mut out = Vec::new();
        map.for_each(&mut |value, key| {
            if let Some(k) = key.as_string() {
                out.push((k, value));
            }
        });
        out
    }
}

impl Kv for DoStore {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let raw: Option<String> = self.storage.get(key).await.map_err(do_error)?;
        Ok(raw
            .map(JsValue::from)
            .and_then(|r| self.decode(&r))
            .map(|s| s.v))
    }

    async fn put(
        &self,
        key: &str,
        value: &str,
        expires: Option<UnixTime>,
        metadata: Option<serde_json::Value>,
    ) -> Result<(), KvError> {
        let text = encode(value, expires, metadata)?;
        self.storage.put(key, text).await.map_err(do_error)
    }

    /// One `put` of an object: Durable Object storage writes up to 128 keys atomically.
    async fn put_many(&self, puts: &[Write]) -> Result<(), KvError> {
        let object = js_sys::Object::new();
        for w in puts {
            let text = encode(&w.value, w.expires, w.metadata.clone())?;
            js_sys::Reflect::set(
                &object,
                &JsValue::from_str(&w.key),
                &JsValue::from_str(&text),
            )
            .map_err(|_| KvError::Corrupt("stored"))?;
        }
        self.storage
            .put_multiple_raw(object)
            .await
            .map_err(do_error)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.storage.delete(key).await.map(|_| ()).map_err(do_error)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), KvError> {
        for chunk in keys.chunks(crate::authority::store::MAX_BATCH) {
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            self.storage
                .delete_multiple(chunk)
                .await
                .map_err(do_error)?;
        }
        Ok(())
    }

    async fn list(&self, prefix: &str, _cursor: Option<String>) -> Result<ListPage, KvError> {
        let options = worker::ListOptions::new().prefix(prefix);
        let map = self
            .storage
            .list_with_options(options)
            .await
            .map_err(do_error)?;
        let keys = Self::pairs(&map)
            .into_iter()
            .filter_map(|(name, raw)| {
                let stored = self.decode(&raw)?;
                Some(ListedKey {
                    name,
                    expiration: stored.e,
                    metadata: stored.m,
                })
            })
            .collect();
        Ok(ListPage { keys, cursor: None })
    }

    /// One listing: Durable Object storage lists values with their keys. Expired entries too,
    /// so that the purge finds them (every other read hides them).
    async fn entries(&self) -> Result<Vec<Write>, KvError> {
        let map = self.storage.list().await.map_err(do_error)?;
        Ok(Self::pairs(&map)
            .into_iter()
            .filter_map(|(key, raw)| {
                let stored = Self::parse(&raw)?;
                Some(Write {
                    key,
                    value: stored.v,
                    expires: stored.e.map(UnixTime),
                    metadata: stored.m,
                })
            })
            .collect())
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, KvError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let map = self
            .storage
            .get_multiple(keys.iter().map(String::as_str).collect())
            .await
            .map_err(do_error)?;
        let found: std::collections::HashMap<String, JsValue> =
            Self::pairs(&map).into_iter().collect();
        Ok(keys
            .iter()
            .map(|k| found.get(k).and_then(|r| self.decode(r)).map(|s| s.v))
            .collect())
    }
}
