//! One native world: a configuration, an in-memory KV, a fake Graph API, and an in-process
//! authority (with its own in-memory storage, read through a mirror as the shell's objects read
//! theirs) per person, run through the same `http::handle` the shell calls. Sends happen when
//! the test runs the authorities' alarms (`send_due`).

use super::{block_on, config, FakeGraph, MemoryKv, ADMIN_TOKEN, APP_SECRET, CONTACT_KEY_SECRET};
use crate::authority::mirror::{Mirror, Mirrored};
use crate::authority::outbox;
use crate::authority::{Answer, Authorities, Host, NumberView, Op};
use crate::config::Config;
use crate::http::{handle, route, Request, Response};
use crate::send::Outbound;
use crate::store::keys::{ContactKey, KeyScheme};
use crate::store::kv::KvError;
use crate::time::UnixTime;
use crate::webhook::signature::sign;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

pub struct World {
    pub kv: MemoryKv,
    pub config: Config,
    pub graph: FakeGraph,
    /// Each person's authority storage, by contact key.
    pub stores: RefCell<BTreeMap<ContactKey, Rc<MemoryKv>>>,
    /// Each authority's copy of its storage in memory, as a Durable Object keeps it.
    mirrors: RefCell<BTreeMap<ContactKey, Rc<Mirror>>>,
    /// Requests made to authorities (a person's, a number's), for the benchmark's counts.
    pub authority_calls: Cell<u32>,
    /// Requests made to numbers' authorities alone.
    pub number_calls: Cell<u32>,
    /// What the authorities learnt from numbers' authorities: the world is one isolate.
    numbers: NumberView,
    now: Cell<u64>,
}

impl World {
    /// The test configuration with `extra` variables.
    pub fn new(extra: &[(&str, &str)]) -> World {
        World::with_config(config(extra))
    }

    pub fn with_config(config: Config) -> World {
        World {
            kv: MemoryKv::new(),
            config,
            graph: FakeGraph::default(),
            stores: RefCell::new(BTreeMap::new()),
            mirrors: RefCell::new(BTreeMap::new()),
            authority_calls: Cell::new(0),
            number_calls: Cell::new(0),
            numbers: NumberView::default(),
            now: Cell::new(0),
        }
    }

    fn keys(&self) -> KeyScheme {
        KeyScheme::new(CONTACT_KEY_SECRET)
    }

    fn host_call<T>(
        &self,
        contact: &ContactKey,
        f: impl FnOnce(&Host<'_, Mirrored<'_, MemoryKv>, MemoryKv, FakeGraph, World>) -> T,
    ) -> T {
        let store = self
            .stores
            .borrow_mut()
            .entry(contact.clone())
            .or_insert_with(|| Rc::new(MemoryKv::new()))
            .clone();
        let mirror = self
            .mirrors
            .borrow_mut()
            .entry(contact.clone())
            .or_default()
            .clone();
        let local = Mirrored {
            inner: store.as_ref(),
            mirror: &mirror,
            now: UnixTime(self.now.get()),
        };
        let keys = self.keys();
        let host = Host {
            local: &local,
            kv: &self.kv,
            graph: &self.graph,
            authorities: self,
            numbers: &self.numbers,
            config: &self.config,
            keys: &keys,
            contact: contact.clone(),
        };
        f(&host)
    }

    /// The storage of one person's authority. The authority's copy of it is dropped (as if its
    /// object had been evicted), since the caller may change the storage behind its back.
    pub fn store_of(&self, wa_id: &str) -> Rc<MemoryKv> {
        let contact = self.keys().contact(&crate::ids::WaId::new(wa_id));
        self.mirrors.borrow_mut().remove(&contact);
        self.stores
            .borrow_mut()
            .entry(contact)
            .or_insert_with(|| Rc::new(MemoryKv::new()))
            .clone()
    }

    /// The storage of the authority named `contact` (as `store_of`, by its key).
    pub fn store_of_key(&self, contact: &ContactKey) -> Rc<MemoryKv> {
        self.mirrors.borrow_mut().remove(contact);
        self.stores
            .borrow_mut()
            .entry(contact.clone())
            .or_insert_with(|| Rc::new(MemoryKv::new()))
            .clone()
    }

    fn pending(&self) -> Vec<(String, Outbound)> {
        let stores: Vec<_> = self.stores.borrow().values().cloned().collect();
        stores
            .iter()
            .flat_map(|s| block_on(outbox::load(s.as_ref())).unwrap_or_default())
            .map(|(k, p)| (k, p.outbound))
            .collect()
    }

    /// A request handled at `now`.
    pub fn request(&self, req: Request, now: u64) -> Response {
        self.now.set(now);
        let world = crate::http::World {
            kv: &self.kv,
            platform: &self.graph,
            authorities: self,
        };
        block_on(handle(req, &self.config, &world, UnixTime(now)))
    }

    /// A signed delivery handled at `now`; the answer and what it added to the outboxes.
    pub fn deliver_at(&self, body: &str, now: u64) -> (Response, Vec<Outbound>) {
        let before: Vec<String> = self.pending().into_iter().map(|(k, _)| k).collect();
        let response = self.request(signed_delivery(body), now);
        let added = self
            .pending()
            .into_iter()
            .filter(|(k, _)| !before.contains(k))
            .map(|(_, o)| o)
            .collect();
        (response, added)
    }

    /// An admin request (bearer `ADMIN_TOKEN`); `path` may carry a query string.
    pub fn admin(&self, method: &str, path: &str, body: &str, now: u64) -> (u16, Value) {
        let reply = self.request(admin_request(ADMIN_TOKEN, method, path, body), now);
        (
            reply.status,
            serde_json::from_str(&reply.body).unwrap_or_default(),
        )
    }

    /// Runs every authority's alarm at `now`, as the runtime would once it is due; returns the
    /// log lines.
    pub fn send_due(&self, now: u64) -> Vec<String> {
        self.now.set(now);
        let contacts: Vec<ContactKey> = self.stores.borrow().keys().cloned().collect();
        let mut log = Vec::new();
        for contact in contacts {
            let result = self.host_call(&contact, |h| block_on(h.alarm(UnixTime(now))));
            if let Ok((_, lines)) = result {
                log.extend(lines);
            }
        }
        log
    }

    /// Runs the alarms every second from `from` to `to`: retries and paced sends go out when due.
    pub fn send_until(&self, from: u64, to: u64) -> Vec<String> {
        (from..=to).flat_map(|t| self.send_due(t)).collect()
    }

    /// Scripts the fake Graph API's next answers (`None`: no answer).
    pub fn script(&self, answers: &[Option<(u16, &str)>]) {
        self.graph
            .answers
            .borrow_mut()
            .extend(answers.iter().map(|a| a.map(|(s, b)| (s, b.to_string()))));
    }
}

impl Authorities for World {
    async fn call(&self, contact: &ContactKey, op: &Op) -> Result<Answer, KvError> {
        self.authority_calls.set(self.authority_calls.get() + 1);
        if contact.0.starts_with('n') {
            self.number_calls.set(self.number_calls.get() + 1);
        }
        let now = UnixTime(self.now.get());
        let op = op.clone();
        // Each call is one request to the authority, served to completion: as the Durable
        // Object serves one at a time.
        let result = self.host_call(contact, |h| block_on(h.handle(op, now)));
        result.map(|(answer, _)| answer)
    }
}

/// A webhook delivery signed with the test app secret, as Meta sends it.
pub fn signed_delivery(body: &str) -> Request {
    Request {
        route: route("POST", "/webhook"),
        query: vec![],
        signature: Some(sign(APP_SECRET.as_bytes(), body.as_bytes())),
        authorization: None,
        category: None,
        client: None,
        cookie: None,
        csrf: None,
        secure: false,
        body: body.as_bytes().to_vec(),
    }
}

/// A request with a bearer token; `path` may carry a query string.
pub fn admin_request(token: &str, method: &str, path: &str, body: &str) -> Request {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let query = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Request {
        route: route(method, path),
        query,
        signature: None,
        authorization: Some(format!("Bearer {token}")),
        category: None,
        client: Some("192.0.2.1".into()),
        cookie: None,
        csrf: None,
        secure: false,
        body: body.as_bytes().to_vec(),
    }
}
