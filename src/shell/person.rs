//! The per-person authority as a Durable Object: the stub the worker calls and the object itself
//! (its requests and its alarm); its storage adapter is `storage`.

use super::graph::WorkerGraph;
use super::kv::WorkerKv;
use super::storage::DoStore;
use super::{bindings, load_config, now};
use crate::authority::mirror::{Mirror, Mirrored};
use crate::authority::{Answer, Authorities, Host, Op};
use crate::platform::apart;
use crate::store::keys::ContactKey;
use crate::store::kv::{Kv, KvError, RetryRateLimited};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use worker::{
    durable_object, DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response,
    State,
};

/// The Durable Object namespace of the per-person authorities (`wrangler.toml`).
pub const PERSON_BINDING: &str = "PERSON";

/// The authorities as Durable Objects: one per person, named by the contact's keyed hash (never
/// a phone number), reached through its stub.
pub struct DurableAuthorities<'a>(pub &'a ObjectNamespace);

/// The status of an object's answer when a record it holds cannot be read: the worker fails
/// closed on it (`KvError::Corrupt`), where any other failure is one to retry.
const UNREADABLE_STATUS: u16 = 422;

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

impl Authorities for DurableAuthorities<'_> {
    async fn call(&self, contact: &ContactKey, op: &Op) -> Result<Answer, KvError> {
        let fail = |what: &str| KvError::Unavailable(format!("authority: {what}"));
        let stub = self
            .0
            .get_by_name(&contact.0)
            .map_err(|_| fail("no stub"))?;
        let body = crate::serde_ext::to_string(&EnvelopeOut {
            contact: &contact.0,
            op,
        });
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.into()));
        let request =
            Request::new_with_init("https://authority/", &init).map_err(|_| fail("request"))?;
        let response = stub
            .fetch_with_request(request)
            .await
            .map_err(|e| fail(&e.to_string().chars().take(200).collect::<String>()))?;
        let (status, text) = super::runtime_ext::status_and_text(response)
            .await
            .map_err(fail)?;
        if status == UNREADABLE_STATUS {
            return Err(KvError::Corrupt("stored"));
        }
        if status != 200 {
            return Err(fail(&text.chars().take(200).collect::<String>()));
        }
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

impl DurableObject for Person {
    fn new(state: State, env: Env) -> Self {
        Person {
            state,
            env,
            mirror: Mirror::default(),
            alarm_at: Cell::new(None),
        }
    }

    /// A request from the worker (`DurableAuthorities::call`): an envelope in, an answer out. A
    /// failure answers 500 with a text that names its kind, never a key or a value.
    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let Ok(text) = req.text().await else {
            return Response::error("bad authority request", 400);
        };
        let Ok(envelope) = crate::serde_ext::from_str::<Envelope>(&text) else {
            return Response::error("bad authority request", 400);
        };
        match self.run(Some(envelope.op), Some(envelope.contact)).await {
            Ok(Some(answer)) => Response::ok(crate::serde_ext::to_string(&answer)),
            Ok(None) => Response::error("no answer", 500),
            Err(e @ KvError::Corrupt(_)) => Response::error(e.to_string(), UNREADABLE_STATUS),
            Err(e) => Response::error(e.to_string(), 500),
        }
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
