//! A fake Graph API on 127.0.0.1 that records every request the worker makes and answers as
//! scripted per recipient: a response, a closed connection (no answer), or an answer held back.
//! Unscripted sends succeed with a fresh wamid.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the worker made to the Graph API.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
    /// Whether the fake took the message (Meta would deliver it), answered or not.
    pub accepted: bool,
}

/// How the fake answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// HTTP status and JSON body.
    Respond(u16, String),
    /// Close the connection without a response: the worker sees no answer.
    Close,
    /// Take the message (its `sent` status is echoed), then close the connection without a
    /// response: the answer is lost on the way back.
    Lost,
    /// As `Lost`, but the `sent` status reaches the worker (and is acknowledged) before the
    /// connection closes: Meta's status overtakes its own answer.
    StatusFirst,
    /// Hold the request this long, then answer success (a Graph API that hangs, then recovers).
    Delay(Duration),
}

#[derive(Default)]
struct GraphState {
    requests: Vec<GraphRequest>,
    /// Scripted answers per recipient, used in order; otherwise success.
    scripted: HashMap<String, VecDeque<Answer>>,
    sent: u64,
}

#[derive(Clone)]
pub struct FakeGraph {
    pub base: String,
    state: Arc<Mutex<GraphState>>,
    /// Where to deliver the `sent` status of each accepted message, as Meta does (off unless a
    /// test turns it on); read again at every attempt, so a restarted worker gets them.
    echo: Arc<Mutex<Option<String>>>,
}

impl FakeGraph {
    pub fn start() -> FakeGraph {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake graph");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(GraphState::default()));
        let echo: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let (shared, target) = (state.clone(), echo.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (shared, target) = (shared.clone(), target.clone());
                std::thread::spawn(move || serve(stream, &shared, &target));
            }
        });
        FakeGraph { base, state, echo }
    }

    /// From now on, every accepted message's `sent` status (with its `biz_opaque_callback_data`)
    /// is delivered, signed, to the worker at `base`, retried until it is accepted (bounded).
    pub fn echo_statuses_to(&self, base: &str) {
        *self.echo.lock().expect("echo") = Some(base.to_string());
    }

    /// The next sends to `to` get these answers, in order.
    pub fn script_answers(&self, to: &str, answers: Vec<Answer>) {
        let mut s = self.state.lock().expect("graph state");
        s.scripted
            .entry(to.to_string())
            .or_default()
            .extend(answers);
    }

    /// The next sends to `to` get these responses (HTTP status, JSON body), in order.
    pub fn script(&self, to: &str, answers: &[(u16, &str)]) {
        let answers = answers
            .iter()
            .map(|(c, b)| Answer::Respond(*c, b.to_string()))
            .collect();
        self.script_answers(to, answers);
    }

    /// The next send to `to` is answered with Meta error `code` (HTTP 400).
    pub fn fail_next(&self, to: &str, code: i64) {
        self.script(to, &[(400, &meta_error(code))]);
    }

    /// Requests whose `to` is `to`, as recorded so far (see `Worker::sent_to` for a settled count).
    pub fn requests_to(&self, to: &str) -> Vec<GraphRequest> {
        let s = self.state.lock().expect("graph state");
        s.requests
            .iter()
            .filter(|r| addressee(&r.body) == to)
            .cloned()
            .collect()
    }

    /// Every request whose body's text holds `needle` (a marker a test put in what it sent).
    pub fn requests_holding(&self, needle: &str) -> Vec<GraphRequest> {
        let s = self.state.lock().expect("graph state");
        s.requests
            .iter()
            .filter(|r| r.body.to_string().contains(needle))
            .cloned()
            .collect()
    }

    /// Mark-as-read calls for one inbound message.
    pub fn read_receipts(&self, message_id: &str) -> usize {
        let s = self.state.lock().expect("graph state");
        s.requests
            .iter()
            .filter(|r| r.body["status"] == "read" && r.body["message_id"] == message_id)
            .count()
    }
}

/// Who a send is addressed to: `to` (a phone number) or `recipient` (a BSUID).
fn addressee(body: &serde_json::Value) -> String {
    body["to"]
        .as_str()
        .or(body["recipient"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Meta's error envelope for `code`.
pub fn meta_error(code: i64) -> String {
    format!(
        r#"{{"error":{{"message":"scripted","type":"OAuthException","code":{code},"fbtrace_id":"E2E"}}}}"#
    )
}

/// Reads one request: request line, headers, body by Content-Length.
fn read_request(stream: &TcpStream) -> Option<GraphRequest> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut length = 0usize;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    let mut parts = request_line.split_whitespace();
    Some(GraphRequest {
        method: parts.next().unwrap_or_default().to_string(),
        path: parts.next().unwrap_or_default().to_string(),
        authorization,
        body: serde_json::from_slice(&body).unwrap_or_default(),
        accepted: false,
    })
}

/// Delivers the `sent` status of an accepted message to the worker, as Meta does, from a thread
/// of its own, or before returning when `wait`.
fn echo_status(
    target: Arc<Mutex<Option<String>>>,
    request: GraphRequest,
    wamid: String,
    wait: bool,
) {
    let to = addressee(&request.body);
    let mut status = wa_edge::testing::payloads::status(&wamid, "sent", super::now(), &to, None);
    if request.body.get("recipient").is_some() {
        // Sent to a BSUID: Meta's status names it in `recipient_user_id`, with no `recipient_id`.
        status["recipient_user_id"] = status["recipient_id"].take();
        status.as_object_mut().map(|o| o.remove("recipient_id"));
    }
    status["biz_opaque_callback_data"] = request.body["biz_opaque_callback_data"].clone();
    let number = request
        .path
        .split('/')
        .nth(2)
        .unwrap_or_default()
        .to_string();
    let body = wa_edge::testing::payloads::statuses_delivery(&number, &[status]);
    let signature =
        wa_edge::webhook::signature::sign(super::APP_SECRET.as_bytes(), body.as_bytes());
    let deliver = move || {
        for _ in 0..300 {
            let base = target.lock().expect("echo").clone();
            if let Some(base) = base {
                let sent = super::request(
                    "POST",
                    &format!("{base}/webhook"),
                    &[("X-Hub-Signature-256", &signature)],
                    body.as_bytes(),
                );
                if sent.is_ok_and(|r| r.status == 200) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    if wait {
        deliver();
    } else {
        std::thread::spawn(deliver);
    }
}

fn serve(stream: TcpStream, state: &Mutex<GraphState>, echo: &Arc<Mutex<Option<String>>>) {
    let Some(mut request) = read_request(&stream) else {
        return;
    };
    let to = addressee(&request.body);
    let (answer, n) = {
        let mut s = state.lock().expect("graph state");
        let answer = s.scripted.get_mut(&to).and_then(|q| q.pop_front());
        request.accepted = match &answer {
            Some(Answer::Close) => false,
            Some(Answer::Respond(status, _)) => *status == 200,
            _ => true,
        };
        s.requests.push(request.clone());
        s.sent += 1;
        (answer, s.sent)
    };
    let copy = request;
    let success = format!(
        r#"{{"messaging_product":"whatsapp","contacts":[{{"input":"{to}","wa_id":"{to}"}}],"messages":[{{"id":"wamid.FAKEOUT{n}"}}]}}"#
    );
    let echoing = echo.lock().expect("echo").is_some();
    let callback = !copy.body["biz_opaque_callback_data"].is_null();
    let (status, body) = match answer {
        Some(Answer::Close) => return,
        Some(answer @ (Answer::Lost | Answer::StatusFirst)) => {
            if echoing && callback {
                let wait = matches!(answer, Answer::StatusFirst);
                echo_status(echo.clone(), copy, format!("wamid.FAKEOUT{n}"), wait);
            }
            return;
        }
        Some(Answer::Delay(wait)) => {
            std::thread::sleep(wait);
            (200, success)
        }
        Some(Answer::Respond(status, body)) => (status, body),
        None => (200, success),
    };
    if status == 200 && echoing && callback {
        echo_status(echo.clone(), copy, format!("wamid.FAKEOUT{n}"), false);
    }
    let reason = if status == 200 { "OK" } else { "Error" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(response.as_bytes());
}
