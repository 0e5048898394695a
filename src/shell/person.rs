//! The per-person authority as a Durable Object: the stub the worker calls and the object itself
//! (its requests and its alarm); its storage adapter is `storage`.

use super::graph::WorkerGraph;
use super::kv::WorkerKv;
use super::runtime::{self, Env, Method};
use super::storage::DoStore;
use super::tasks;
use super::{bindings, load_config, now};
use crate::authority::mirror::{Mirror, Mirrored};
use crate::authority::{Answer, Authorities, Host, Op};
use crate::platform::apart;
use crate::store::keys::ContactKey;
use crate::store::kv::{Kv, KvError, RetryRateLimited};
use js_sys::Promise;
use serde::Deserialize;
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

/// The Durable Object namespace of the per-person authorities (`wrangler.toml`).
pub const PERSON_BINDING: &str = "PERSON";

/// The authorities as Durable Objects: one per person, named by the contact's keyed hash (never
/// a phone number), reached through its stub.
/// Holds the namespace's `getByName`.
pub struct DurableAuthorities<'a>(pub &'a Method);

/// What the worker sends a person's authority: who they are (their keyed hash) and the request.
#[derive(Deserialize)]
struct Envelope {
    contact: String,
    op: Op,
}

impl Authorities for DurableAuthorities<'_> {
    async fn call(&self, contact: &ContactKey, op: &Op) -> Result<Answer, KvError> {
        let fail = |what: &str| KvError::Unavailable(format!("authority: {what}"));
        let stub = self
            .0
            .call1(&JsValue::from_str(&contact.0))
            .map_err(|_| fail("no stub"))?;
        // Written from borrowed parts: the request is not cloned to be sent.
        let body = crate::json::JsonObject::new()
            .with("contact", &contact.0)
            .with("op", op)
            .text();
        // A remote call of the object's `serve` (see `Person::serve`).
        let answer = runtime::call_remote(&stub, "serve", &body)
            .await
            .map_err(|thrown| {
                let message = runtime::error_message(&thrown).unwrap_or_default();
                fail(&message.chars().take(200).collect::<String>())
            })?;
        let text = answer.as_string().ok_or_else(|| fail("answer"))?;
        crate::serde_ext::from_str(&text).map_err(|_| fail("answer"))
    }
}

/// A person's authority. Requests to one object are served one at a time; see `authority`.
/// The class the runtime constructs for each object (`wrangler.toml` names it); its state is
/// shared with the task of each call (`tasks`), which must own what it uses.
#[wasm_bindgen]
pub struct Person(Rc<Authority>);

/// A person's authority's state, kept by its object between calls.
struct Authority {
    /// The runtime's `DurableObjectStorage` of this object.
    storage: JsValue,
    env: Env,
    /// This object's storage in memory: its reads cost no crossing into JavaScript.
    mirror: Mirror,
    /// When this instance last set the alarm for (Unix seconds), until it fires: a request
    /// whose wake is no earlier leaves it (one `setAlarm` call fewer per request).
    alarm_at: Cell<Option<u64>>,
}

/// The key under which an authority remembers whose it is, for its alarm.
const WHO: &str = "who";

impl Authority {
    async fn run(&self, op: Option<Op>, who: Option<String>) -> Result<Option<Answer>, KvError> {
        let at = now();
        let storage = DoStore {
            storage: self.storage.clone(),
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
        let keys = config
            .keys()
            .map_err(|_| KvError::Unavailable("CONTACT_KEY_SECRET is not set".into()))?;
        let bound = bindings(&self.env)
            .map_err(|missing| KvError::Unavailable(format!("{missing} is not bound")))?;
        // The object's sends and its KV retries share one platform (it holds no request body).
        let graph = WorkerGraph::default();
        let kv = WorkerKv(&bound.kv);
        let kv = RetryRateLimited {
            kv: &kv,
            platform: &graph,
        };
        let authorities = DurableAuthorities(&bound.persons);
        let host = Host {
            local: &local,
            kv: &kv,
            graph: &graph,
            authorities: &authorities,
            config: &config,
            keys,
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
                    runtime::log(&line);
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

#[wasm_bindgen]
impl Person {
    #[wasm_bindgen(constructor)]
    pub fn new(state: JsValue, env: JsValue) -> Person {
        Person(Rc::new(Authority {
            storage: js_sys::Reflect::get(&state, &JsValue::from_str("storage"))
                .unwrap_or(JsValue::UNDEFINED),
            env: Env::new(env),
            mirror: Mirror::default(),
            alarm_at: Cell::new(None),
        }))
    }

    /// A request from the worker (`DurableAuthorities::call`), called on the object's stub as a
    /// remote method (cheaper than a `fetch`: no request or response objects on either side):
    /// an envelope in, an answer out. A failure rejects with an error whose message names its
    /// kind, never a key or a value.
    pub fn serve(&self, text: String) -> Promise {
        let authority = self.0.clone();
        tasks::spawn(async move {
            let Ok(envelope) = crate::serde_ext::from_str::<Envelope>(&text) else {
                return Err(runtime::error("bad authority request"));
            };
            match authority
                .run(Some(envelope.op), Some(envelope.contact))
                .await
            {
                Ok(Some(answer)) => Ok(JsValue::from_str(&crate::serde_ext::to_string(&answer))),
                Ok(None) => Err(runtime::error("no answer")),
                Err(e) => Err(runtime::error(&e.to_string())),
            }
        })
    }

    pub fn alarm(&self) -> Promise {
        let authority = self.0.clone();
        tasks::spawn(async move {
            authority.alarm().await;
            Ok(JsValue::UNDEFINED)
        })
    }
}

impl Authority {
    async fn alarm(&self) {
        // The alarm that fired is spent: whatever `run` sets is the next one.
        self.alarm_at.set(None);
        if let Err(e) = self.run(None, None).await {
            runtime::log_error(&format!("authority alarm: {e}"));
            // Try again shortly: nothing was lost, the outbox and queue are where they were.
            let store = DoStore {
                storage: self.storage.clone(),
                now: now(),
            };
            let retry = store.set_alarm(js_sys::Date::now() + 5_000.0).await;
            self.alarm_at.set(retry.ok().map(|_| now().0 + 5));
        }
    }
}
