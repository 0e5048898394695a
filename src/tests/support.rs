//! Shared by the native tests: a Graph API stand-in (records calls and sleeps, answers as
//! scripted) and the requests the tests send.

use crate::app::{route, AppRequest};
use crate::outbox::Platform;
use crate::signature::sign;
use std::cell::RefCell;
use std::collections::VecDeque;

#[derive(Default)]
pub struct FakeGraph {
    pub calls: RefCell<Vec<(String, String, serde_json::Value)>>,
    pub sleeps: RefCell<Vec<u64>>,
    /// Answers in order; `None` is "no answer" (a timeout). Empty: success.
    pub answers: RefCell<VecDeque<Option<(u16, String)>>>,
}

impl FakeGraph {
    pub fn answering(answers: &[Option<(u16, &str)>]) -> FakeGraph {
        let g = FakeGraph::default();
        g.answers
            .borrow_mut()
            .extend(answers.iter().map(|a| a.map(|(s, b)| (s, b.to_string()))));
        g
    }

    pub fn error(code: i64) -> Option<(u16, &'static str)> {
        let body: &'static str = Box::leak(
            format!(r#"{{"error":{{"message":"m","type":"OAuthException","code":{code}}}}}"#)
                .into_boxed_str(),
        );
        Some((400, body))
    }
}

impl Platform for FakeGraph {
    async fn post(&self, url: &str, token: &str, body: &str) -> Result<(u16, String), String> {
        let n = self.calls.borrow().len();
        self.calls.borrow_mut().push((
            url.to_string(),
            token.to_string(),
            serde_json::from_str(body).unwrap_or_default(),
        ));
        match self.answers.borrow_mut().pop_front() {
            Some(Some(answer)) => Ok(answer),
            Some(None) => Err("timeout".into()),
            None => Ok((
                200,
                format!(
                    r#"{{"messaging_product":"whatsapp","messages":[{{"id":"wamid.SENT{n}"}}]}}"#
                ),
            )),
        }
    }

    async fn sleep(&self, ms: u64) {
        self.sleeps.borrow_mut().push(ms);
    }
}

/// A webhook delivery signed with `secret`, as Meta sends it.
pub fn signed_delivery(secret: &str, body: &str) -> AppRequest {
    AppRequest {
        route: route("POST", "/webhook"),
        query: vec![],
        signature: Some(sign(secret.as_bytes(), body.as_bytes())),
        authorization: None,
        body: body.as_bytes().to_vec(),
    }
}

/// An admin API request with a bearer token; `path` may carry a query string.
pub fn admin_request(token: &str, method: &str, path: &str, body: &str) -> AppRequest {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let query = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    AppRequest {
        route: route(method, path),
        query,
        signature: None,
        authorization: Some(format!("Bearer {token}")),
        body: body.as_bytes().to_vec(),
    }
}
