//! A Graph API stand-in for native tests: records every call and every sleep, answers as
//! scripted (a Meta error, an HTTP status, or no answer at all), success otherwise.

use crate::platform::Platform;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};

#[derive(Default)]
pub struct FakeGraph {
    pub calls: RefCell<Vec<(String, String, serde_json::Value)>>,
    pub sleeps: RefCell<Vec<u64>>,
    /// Answers in order; `None` is "no answer" (a timeout). Empty: success.
    pub answers: RefCell<VecDeque<Option<(u16, String)>>>,
    /// The runtime's limit on failed tokens per client (none unless a test sets one), and the
    /// failures counted per client key.
    pub failure_limit: Cell<Option<u32>>,
    pub failures: RefCell<HashMap<String, u32>>,
    randoms: Cell<u128>,
}

impl FakeGraph {
    pub fn answering(answers: &[Option<(u16, &str)>]) -> FakeGraph {
        let g = FakeGraph::default();
        g.answers
            .borrow_mut()
            .extend(answers.iter().map(|a| a.map(|(s, b)| (s, b.to_string()))));
        g
    }

    /// Meta's error envelope with `code`, answered with HTTP 400.
    pub fn error(code: i64) -> Option<(u16, &'static str)> {
        let body: &'static str = Box::leak(
            format!(r#"{{"error":{{"message":"m","type":"OAuthException","code":{code}}}}}"#)
                .into_boxed_str(),
        );
        Some((400, body))
    }

    /// The bodies of the calls made so far.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.calls.borrow().iter().map(|c| c.2.clone()).collect()
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

    /// Distinct on every call, as a random source is; not random (tests are repeatable).
    fn random_bytes(&self) -> Option<[u8; 16]> {
        let n = self.randoms.get();
        self.randoms.set(n + 1);
        let bytes = crate::crypto::hmac_sha256(b"fake random", &n.to_le_bytes());
        bytes.get(..16)?.try_into().ok()
    }

    async fn failed_credential(&self, client: &str) -> bool {
        let mut failures = self.failures.borrow_mut();
        let count = failures.entry(client.to_string()).or_default();
        *count += 1;
        self.failure_limit.get().is_some_and(|limit| *count > limit)
    }
}
