//! The per-person authority as a Durable Object: the stub the worker calls and the object itself
//! (its requests and its alarm); its storage adapter is `storage`.

use super::fetch::post_text;
use super::graph::WorkerGraph;
use super::kv::WorkerKv;
use super::storage::DoStore;
use super::{bindings, load_config, now};
use crate::authority::mirror::{Mirror, Mirrored};
use crate::authority::{Answer, Authorities, Host, Op};
use crate::config::Secret;
use crate::platform::apart;
use crate::store::keys::{ContactKey, KeyScheme};
use crate::store::kv::{Kv, KvError, RetryRateLimited};
use std::cell::Cell;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{durable_object, js_sys, DurableObject, Env, Request, State};

/// The Durable Object namespace of the per-person authorities (`wrangler.toml`).
pub const PERSON_BINDING: &str = "PERSON";

/// The authorities as Durable Objects: one per person, named by the contact's keyed hash (never
/// a phone number), reached through its stub.
pub struct DurableAuthorities<'a>(pub &'a worker::ObjectNamespace);

/// What the worker sends a person's authority: who they are (their keyed hash) and the request.
struct Envelope {
    contact: String,
    op: Op,
}
crate::json::from_json!(Envelope {
    contact: req,
    op: req,
});

impl Authorities for DurableAuthorities<'_> {
    async fn call(&self, contact: &ContactKey, op: &Op) -> Result<Answer, KvError> {
        let fail = |what: &str| KvError::Unavailable(format!("authority: {what}"));
        let stub = self
            .0
            .get_by_name(&contact.0)
            .map_err(|_| fail("no stub"))?;
        // Written from borrowed parts: the request is not cloned to be sent.
        let body = crate::json::JsonObject::new()
            .with("contact", &contact.0)
            .with("op", op)
            .text();
        let (status, text) = post_text(&stub.into_rpc(), "https://authority/", &[], &body)
            .await
            .map_err(fail)?;
        if status != 200 {
            return Err(fail(&text.chars().take(200).collect::<String>()));
        }
        crate::json::from_str(&text).map_err(|_| fail("answer"))
    }
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
            storage: self.storage()?,
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
                let (answer, wake) = apart(host.handle(op, at)).await?;
                (Some(answer), wake)
            }
            None => {
                let (wake, log) = apart(host.alarm(at)).await?;
                for line in log {
                    worker::console_log!("{line}");
                }
                (None, wake)
            }
        };
        if let Some(wake_at) = wake {
            // An alarm still ahead and no later than this wake stays: it wakes the object in time,
            // and the alarm works out its own next wake.
            let kept = self
                .alarm_at
                .get()
                .is_some_and(|set| set > now().0 && set <= wake_at.0);
            if !kept {
                let scheduled = storage.set_alarm(wake_at.0 as f64 * 1000.0).await;
                self.alarm_at.set(scheduled.ok().map(|_| wake_at.0));
            }
        }
        Ok(answer)
    }
}

impl Person {
    /// The runtime's storage object, called directly (`storage`).
    fn storage(&self) -> Result<JsValue, KvError> {
        self.state
            .as_raw()
            .storage()
            .map(JsValue::from)
            .map_err(|_| KvError::Unavailable("no storage".into()))
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
        // The body as text in one call, read by `json`: `Request::json` would build a JS
        // object and walk it from wasm, a crossing per field.
        let text = match req.inner().text() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .ok()
                .and_then(|t| t.as_string()),
            Err(_) => None,
        };
        let Some(envelope) = text.and_then(|t| crate::json::from_str::<Envelope>(&t).ok()) else {
            return worker::Response::error("bad authority request", 400);
        };
        match self.run(Some(envelope.op), Some(envelope.contact)).await {
            Ok(Some(answer)) => worker::Response::ok(crate::json::to_string(&answer)),
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
            let retry = match self.storage() {
                Ok(storage) => {
                    let store = DoStore {
                        storage,
                        now: now(),
                    };
                    store.set_alarm(js_sys::Date::now() + 5_000.0).await
                }
                Err(e) => Err(e),
            };
            self.alarm_at.set(retry.ok().map(|_| now().0 + 5));
        }
        worker::Response::ok("")
    }
}
