//! The per-person authority as a Durable Object: the stub the worker calls and the object itself
//! (its requests and its alarm); its storage adapter is `storage`.

use super::graph::WorkerGraph;
use super::kv::WorkerKv;
use super::storage::DoStore;
use super::{bindings, load_config, now};
use crate::authority::mirror::{Mirror, Mirrored};
use crate::authority::{Answer, Authorities, Host, NumberView, Op};
use crate::platform::apart;
use crate::store::keys::ContactKey;
use crate::store::kv::{Kv, KvError, RetryRateLimited};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use worker::js_sys;
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{durable_object, DurableObject, Env, ObjectNamespace, Request, Response, State};

/// The Durable Object namespace of the per-person authorities (`wrangler.toml`).
pub const PERSON_BINDING: &str = "PERSON";

/// The authorities as Durable Objects: one per person, named by the contact's keyed hash (never
/// a phone number), reached through its stub.
pub struct DurableAuthorities<'a>(pub &'a ObjectNamespace);

/// What the worker sends a person's authority: who they are (their keyed hash) and the request.
#[derive(Serialize)]
struct EnvelopeOut<'a> {
    contact: &'a str,
    op: &'a Op,
}

#[derive(Deserialize)]
struct Envelope {
    contact: String,
    op: Op,
}

// The object's `serve`, called on its stub as a remote method: the runtime carries the text
// across as it is, where a `fetch` of the object builds a request and a response around it (the
// fetch builtin was half the CPU of a new contact's text, by `npm run bench:profile`).
#[wasm_bindgen(wasm_bindgen = ::worker::wasm_bindgen, js_sys = ::worker::js_sys)]
extern "C" {
    #[wasm_bindgen(extends = js_sys::Object)]
    type PersonStub;

    #[wasm_bindgen(method, catch)]
    fn serve(this: &PersonStub, envelope: &str) -> Result<js_sys::Promise, JsValue>;
}

/// How an object's refusal names a record it cannot read: the worker fails closed on it
/// (`KvError::Corrupt`), where any other failure is one to retry.
const UNREADABLE: &str = "unreadable ";

impl Authorities for DurableAuthorities<'_> {
    async fn call(&self, contact: &ContactKey, op: &Op) -> Result<Answer, KvError> {
        let fail = |what: &str| KvError::Unavailable(format!("authority: {what}"));
        let stub = self
            .0
            .get_by_name(&contact.0)
            .map_err(|_| fail("no stub"))?
            .into_rpc::<PersonStub>();
        let envelope = crate::serde_ext::to_string(&EnvelopeOut {
            contact: &contact.0,
            op,
        });
        let answer = match stub.serve(&envelope) {
            Ok(promise) => JsFuture::from(promise).await,
            Err(thrown) => Err(thrown),
        };
        let text = answer.map_err(|thrown| {
            let message = super::error_text(&thrown);
            if message.starts_with(UNREADABLE) {
                KvError::Corrupt("stored")
            } else {
                fail(&message.chars().take(200).collect::<String>())
            }
        })?;
        let text = text.as_string().ok_or_else(|| fail("answer"))?;
        crate::serde_ext::from_str(&text).map_err(|_| fail("answer"))
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

/// What the authorities this isolate serves learnt from numbers' authorities, shared by every
/// object in it (wasm runs on one thread): a number's object is asked about once per isolate
/// and pause view, not on every message.
fn numbers() -> &'static NumberView {
    thread_local!(static NUMBERS: &'static NumberView = Box::leak(Box::default()));
    NUMBERS.with(|numbers| *numbers)
}

/// The key under which an authority remembers whose it is, for its alarm.
const WHO: &str = "who";

impl Person {
    async fn run(&self, op: Option<Op>, who: Option<String>) -> Result<Option<Answer>, KvError> {
        let at = now();
        let storage = self.state.storage();
        let storage = DoStore {
            storage: &storage,
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
            numbers: numbers(),
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

#[wasm_bindgen(wasm_bindgen = ::worker::wasm_bindgen, wasm_bindgen_futures = ::worker::wasm_bindgen_futures)]
impl Person {
    /// A request from the worker (`DurableAuthorities::call`), called on the object's stub as a
    /// remote method (through the `DurableObject` class of `src/entry.mjs`): an envelope in, an
    /// answer out. A failure rejects with an error whose message names its kind, never a key or
    /// a value.
    pub async fn serve(&self, envelope: String) -> Result<JsValue, JsValue> {
        let Ok(envelope) = crate::serde_ext::from_str::<Envelope>(&envelope) else {
            return Err(js_sys::Error::new("bad authority request").into());
        };
        match self.run(Some(envelope.op), Some(envelope.contact)).await {
            Ok(Some(answer)) => Ok(JsValue::from_str(&crate::serde_ext::to_string(&answer))),
            Ok(None) => Err(js_sys::Error::new("no answer").into()),
            // `KvError::Corrupt` reads "unreadable … record" (`UNREADABLE`).
            Err(e) => Err(js_sys::Error::new(&e.to_string()).into()),
        }
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

    /// Nothing reaches an object by `fetch`: the worker calls `serve`.
    async fn fetch(&self, _req: Request) -> worker::Result<Response> {
        Response::error("not found", 404)
    }

    async fn alarm(&self) -> worker::Result<Response> {
        // The alarm that fired is spent: whatever `run` sets is the next one.
        self.alarm_at.set(None);
        if let Err(e) = self.run(None, None).await {
            worker::console_error!("authority alarm: {e}");
            // Try again shortly: nothing was lost, the outbox and queue are where they were.
            let storage = self.state.storage();
            let store = DoStore {
                storage: &storage,
                now: now(),
            };
            let retry = store
                .set_alarm(worker::Date::now().as_millis() as f64 + 5_000.0)
                .await;
            self.alarm_at.set(retry.ok().map(|_| now().0 + 5));
        }
        Response::ok("")
    }
}
