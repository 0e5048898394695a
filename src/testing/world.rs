//! One native world: a configuration, an in-memory KV, and the requests the worker receives,
//! run through the same `http::handle` the shell calls.

use super::{block_on, config, FakeGraph, MemoryKv, ADMIN_TOKEN, APP_SECRET, CONTACT_KEY_SECRET};
use crate::config::Config;
use crate::context::Ctx;
use crate::http::{handle, route, Request, Response};
use crate::send::{deliver_all, Outbound};
use crate::store::keys::KeyScheme;
use crate::time::UnixTime;
use crate::webhook::signature::sign;
use serde_json::Value;

pub struct World {
    pub kv: MemoryKv,
    pub config: Config,
}

impl World {
    /// The test configuration with `extra` variables.
    pub fn new(extra: &[(&str, &str)]) -> World {
        World {
            kv: MemoryKv::new(),
            config: config(extra),
        }
    }

    /// A signed delivery handled at `now`; the answer and what was queued to send.
    pub fn deliver_at(&self, body: &str, now: u64) -> (Response, Vec<Outbound>) {
        self.deliver_with(body, now, &FakeGraph::default())
    }

    pub fn deliver_with(
        &self,
        body: &str,
        now: u64,
        graph: &FakeGraph,
    ) -> (Response, Vec<Outbound>) {
        block_on(handle(
            signed_delivery(body),
            &self.config,
            &self.kv,
            graph,
            UnixTime(now),
        ))
    }

    /// An admin request (bearer `ADMIN_TOKEN`); `path` may carry a query string.
    pub fn admin(
        &self,
        method: &str,
        path: &str,
        body: &str,
        graph: &FakeGraph,
        now: u64,
    ) -> (u16, Value) {
        let req = admin_request(ADMIN_TOKEN, method, path, body);
        let (reply, _) = block_on(handle(req, &self.config, &self.kv, graph, UnixTime(now)));
        (
            reply.status,
            serde_json::from_str(&reply.body).unwrap_or_default(),
        )
    }

    /// Sends an outbox as the shell does after the response; returns the log lines.
    pub fn deliver_outbox(&self, graph: &FakeGraph, outbox: &[Outbound], now: u64) -> Vec<String> {
        let keys = KeyScheme::new(CONTACT_KEY_SECRET);
        let ctx = Ctx::new(&self.kv, &keys, &self.config, UnixTime(now));
        block_on(deliver_all(&ctx, graph, outbox))
    }
}

/// A webhook delivery signed with the test app secret, as Meta sends it.
pub fn signed_delivery(body: &str) -> Request {
    Request {
        route: route("POST", "/webhook"),
        query: vec![],
        signature: Some(sign(APP_SECRET.as_bytes(), body.as_bytes())),
        authorization: None,
        body: body.as_bytes().to_vec(),
        in_flight_sends: 0,
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
        body: body.as_bytes().to_vec(),
        in_flight_sends: 0,
    }
}
