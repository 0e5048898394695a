//! The real worker in workerd (through the pinned wrangler), real local KV on disk, and a fake
//! Graph API on 127.0.0.1 that records what the worker sends. Started once per test binary.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const APP_SECRET: &str = "e2e-app-secret";
pub const PREVIOUS_SECRET: &str = "e2e-previous-secret";
pub const VERIFY_TOKEN: &str = "e2e-verify-token";
pub const ACCESS_TOKEN: &str = "e2e-access-token";
pub const ADMIN_TOKEN: &str = "e2e-admin-token";
pub const CONTACT_KEY_SECRET: &str = "e2e-contact-key-secret";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const AUTO_REPLY_RULES: &str =
    r#"[{"name":"hours","match":["opening hours"],"reply":"E2E: open 9 to 5."}]"#;
pub const DEFAULT_REPLY: &str = "E2E: thanks, a person will answer.";
/// How long a test waits for something the worker does after its response.
pub const SETTLE: Duration = Duration::from_secs(20);

pub struct Worker {
    pub base: String,
    pub persist: PathBuf,
    pub graph: FakeGraph,
    _guard: Mutex<(Child, ChildStdin)>,
}

static WORKER: OnceLock<Worker> = OnceLock::new();
static UNIQUE: AtomicU64 = AtomicU64::new(1);

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A number unique within this run, for contacts and message ids that never collide.
pub fn unique() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64 % 1_000_000)
        .unwrap_or(0);
    t * 1000 + UNIQUE.fetch_add(1, Ordering::SeqCst)
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn worker() -> &'static Worker {
    WORKER.get_or_init(start)
}

fn start() -> Worker {
    let graph = FakeGraph::start();
    let port = free_port();
    let inspector = free_port();
    let persist =
        std::env::temp_dir().join(format!("wa-edge-e2e-{}-{}", std::process::id(), unique()));
    let vars = [
        ("WHATSAPP_APP_SECRET", APP_SECRET.to_string()),
        ("WHATSAPP_APP_SECRET_PREVIOUS", PREVIOUS_SECRET.to_string()),
        ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN.to_string()),
        ("WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN.to_string()),
        ("ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
        ("CONTACT_KEY_SECRET", CONTACT_KEY_SECRET.to_string()),
        ("GRAPH_API_BASE", graph.base.clone()),
        ("BUSINESS_NAME", "E2E Shop".to_string()),
        (
            "HELP_TEXT",
            "E2E Shop help: call 555-0100. Reply STOP to unsubscribe.".to_string(),
        ),
        ("AUTO_REPLY_RULES", AUTO_REPLY_RULES.to_string()),
        ("DEFAULT_REPLY", DEFAULT_REPLY.to_string()),
    ];
    let mut args = vec![
        "node_modules/.bin/wrangler".to_string(),
        "dev".into(),
        "--ip".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--inspector-port".into(),
        inspector.to_string(),
        "--persist-to".into(),
        persist.display().to_string(),
        "--show-interactive-dev-session=false".into(),
        "--log-level".into(),
        "info".into(),
    ];
    // A dotenv file rather than --var flags: the test secrets stay off the command line (visible
    // in ps) and values need no shell quoting.
    let env_file = std::env::temp_dir().join(format!("wa-edge-e2e-{port}.env"));
    let dotenv: String = vars
        .iter()
        .map(|(k, v)| format!("{k}='{}'\n", v.replace('\'', "")))
        .collect();
    std::fs::write(&env_file, dotenv).expect("write env file");
    args.push("--env-file".into());
    args.push(env_file.display().to_string());
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    // The wrapper stops wrangler (and workerd under it) when this test process goes away and its
    // stdin closes, so no server outlives the tests.
    let script = format!(
        "source scripts/tools.sh >&2; {} & pid=$!; cat >/dev/null; kill -TERM $pid 2>/dev/null; sleep 1; kill -KILL -- -$$ 2>/dev/null",
        quoted.join(" ")
    );
    let log = std::fs::File::create(std::env::temp_dir().join(format!("wa-edge-e2e-{port}.log")))
        .expect("log file");
    let mut child = Command::new("setsid")
        .args(["bash", "-c", &script])
        .current_dir(root())
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "true")
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start wrangler dev");
    let stdin = child.stdin.take().expect("stdin");
    let base = format!("http://127.0.0.1:{port}");
    // The first start builds the worker (cargo + wasm-bindgen), so allow minutes.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok(r) = request("GET", &format!("{base}/healthz"), &[], b"") {
            assert_eq!(r.status, 200, "healthz: {}", r.body);
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "wrangler dev exited with {status}; see {}",
                std::env::temp_dir().display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "wrangler dev did not become ready"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    Worker {
        base,
        persist,
        graph,
        _guard: Mutex::new((child, stdin)),
    }
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Connects and writes the request head; `framing` is the Content-Length or
/// Transfer-Encoding line that says how the body follows.
fn open(
    method: &str,
    url: &str,
    framing: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<TcpStream> {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{framing}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    Ok(stream)
}

/// A minimal HTTP/1.1 client (Connection: close), so tests need no HTTP crate.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut stream = open(
        method,
        url,
        &format!("Content-Length: {}", body.len()),
        headers,
    )?;
    stream.write_all(body)?;
    read_response(BufReader::new(stream))
}

/// Sends a body with `Transfer-Encoding: chunked` (no Content-Length), in 64 KiB chunks.
pub fn request_chunked(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut stream = open("POST", url, "Transfer-Encoding: chunked", headers)?;
    for chunk in body.chunks(64 * 1024) {
        // The server may answer 413 and close before the whole body is sent: stop writing then.
        if stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_err()
            || stream.write_all(chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    read_response(BufReader::new(stream))
}

/// Reads one response by its framing (Content-Length or chunked), not until the server closes:
/// workerd keeps the connection open for seconds after answering.
fn read_response(mut reader: BufReader<TcpStream>) -> std::io::Result<HttpResponse> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad http response");
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size = usize::from_str_radix(size_line.trim(), 16).map_err(|_| bad())?;
            let mut chunk = vec![0u8; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body = vec![0u8; length];
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    })
}

impl Worker {
    pub fn get(&self, path: &str) -> HttpResponse {
        request("GET", &format!("{}{path}", self.base), &[], b"").expect("request")
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> HttpResponse {
        request(method, &format!("{}{path}", self.base), headers, body).expect("request")
    }

    /// POSTs a delivery signed the way Meta signs it.
    pub fn deliver(&self, body: &str) -> HttpResponse {
        let signature = wa_edge::signature::sign(APP_SECRET.as_bytes(), body.as_bytes());
        self.send(
            "POST",
            "/webhook",
            &[
                ("X-Hub-Signature-256", &signature),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        )
    }

    pub fn admin(&self, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let mut headers = vec![("Authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        self.send(method, path, &headers, body.unwrap_or("").as_bytes())
    }

    /// Every key in local KV, read by `wrangler kv key list --local` from the same directory.
    pub fn kv_keys(&self) -> Vec<KvKey> {
        let out = Command::new("node_modules/.bin/wrangler")
            .args([
                "kv",
                "key",
                "list",
                "--binding",
                "WHATSAPP_KV",
                "--local",
                "--persist-to",
            ])
            .arg(&self.persist)
            .current_dir(root())
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("WRANGLER_SEND_METRICS", "false")
            .output()
            .expect("wrangler kv key list");
        assert!(
            out.status.success(),
            "kv list failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let start = text.find('[').expect("a JSON list");
        serde_json::from_str(&text[start..]).expect("kv list JSON")
    }

    /// The KV key of one message record, derived as the worker derives it.
    pub fn message_key(&self, wa_id: &str, message_id: &str) -> String {
        let keys = wa_edge::keys::KeyScheme::new(CONTACT_KEY_SECRET);
        let contact = keys.contact(&wa_edge::ids::WaId::new(wa_id));
        wa_edge::keys::message_record(
            &contact,
            &keys.message(&wa_edge::ids::MessageId::new(message_id)),
        )
    }

    /// The contact's history, newest first, in one direction.
    pub fn history(&self, wa_id: &str, direction: &str) -> Vec<serde_json::Value> {
        let r = self.admin(
            "GET",
            &format!("/v1/contacts/{wa_id}/messages?limit=100"),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let all = r.json()["messages"].as_array().cloned().unwrap_or_default();
        all.into_iter()
            .filter(|m| m["direction"] == direction)
            .collect()
    }

    /// Waits (bounded) until `n` outbound messages are in the contact's history: replies are
    /// recorded after the response, so tests that count keys wait for them first.
    pub fn wait_for_outbound(&self, wa_id: &str, n: usize) {
        let deadline = Instant::now() + SETTLE;
        while self.history(wa_id, "outbound").len() < n {
            assert!(
                Instant::now() < deadline,
                "outbound messages for the contact never reached {n}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Delivers a text from `wa_id` with the given timestamp; returns its message id.
    pub fn say_at(&self, wa_id: &str, at: u64, text: &str) -> String {
        let id = message_id();
        let r = self.deliver(&messages_delivery(
            wa_id,
            "Ana",
            &[text_message(wa_id, &id, at, text)],
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        id
    }

    pub fn say(&self, wa_id: &str, text: &str) -> String {
        self.say_at(wa_id, now(), text)
    }

    /// What the worker decided on one inbound message (recorded before its 200).
    pub fn action_of(&self, wa_id: &str, message_id: &str) -> Option<String> {
        let h = self
            .admin(
                "GET",
                &format!("/v1/contacts/{wa_id}/messages?limit=100"),
                None,
            )
            .json();
        let messages = h["messages"].as_array()?;
        messages
            .iter()
            .find(|m| m["id"] == message_id)
            .and_then(|m| m["action"].as_str().map(str::to_string))
    }

    /// The KV key of a contact, derived as the worker derives it.
    pub fn contact_key(&self, wa_id: &str) -> String {
        wa_edge::keys::KeyScheme::new(CONTACT_KEY_SECRET)
            .contact(&wa_edge::ids::WaId::new(wa_id))
            .0
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct KvKey {
    pub name: String,
    pub expiration: Option<u64>,
}

/// One request the worker made to the Graph API.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

#[derive(Default)]
struct GraphState {
    requests: Vec<GraphRequest>,
    /// Scripted answers per recipient, used in order; otherwise success.
    scripted: HashMap<String, VecDeque<(u16, String)>>,
    sent: u64,
}

#[derive(Clone)]
pub struct FakeGraph {
    pub base: String,
    state: Arc<Mutex<GraphState>>,
}

impl FakeGraph {
    fn start() -> FakeGraph {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake graph");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(GraphState::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        FakeGraph { base, state }
    }

    /// The next sends to `to` get these answers (HTTP status, JSON body), in order.
    pub fn script(&self, to: &str, answers: &[(u16, &str)]) {
        let mut s = self.state.lock().expect("graph state");
        s.scripted
            .entry(to.to_string())
            .or_default()
            .extend(answers.iter().map(|(c, b)| (*c, b.to_string())));
    }

    pub fn requests_to(&self, to: &str) -> Vec<GraphRequest> {
        let s = self.state.lock().expect("graph state");
        s.requests
            .iter()
            .filter(|r| r.body["to"] == to)
            .cloned()
            .collect()
    }

    /// The next send to `to` is answered with Meta error `code` (HTTP 400).
    pub fn fail_next(&self, to: &str, code: i64) {
        let body = format!(
            r#"{{"error":{{"message":"scripted","type":"OAuthException","code":{code}}}}}"#
        );
        self.script(to, &[(400, &body)]);
    }

    /// Mark-as-read calls for one inbound message.
    pub fn read_receipts(&self, message_id: &str) -> usize {
        let s = self.state.lock().expect("graph state");
        s.requests
            .iter()
            .filter(|r| r.body["status"] == "read" && r.body["message_id"] == message_id)
            .count()
    }

    /// Waits (bounded) until `to` has received `n` requests, and returns them.
    pub fn wait_for(&self, to: &str, n: usize) -> Vec<GraphRequest> {
        let deadline = Instant::now() + SETTLE;
        loop {
            let got = self.requests_to(to);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<GraphState>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
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
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let to = json["to"].as_str().unwrap_or_default().to_string();
    let (status, answer) = {
        let mut s = state.lock().expect("graph state");
        s.requests.push(GraphRequest {
            method,
            path,
            authorization,
            body: json,
        });
        s.sent += 1;
        let n = s.sent;
        match s.scripted.get_mut(&to).and_then(|q| q.pop_front()) {
            Some(a) => a,
            None => (
                200,
                format!(
                    r#"{{"messaging_product":"whatsapp","contacts":[{{"input":"{to}","wa_id":"{to}"}}],"messages":[{{"id":"wamid.FAKEOUT{n}"}}]}}"#
                ),
            ),
        }
    };
    let reason = if status == 200 { "OK" } else { "Error" };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(response.as_bytes());
}

/// Polls (bounded by `SETTLE`) until `check` holds, for effects recorded after the response.
pub fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + SETTLE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `messages` delivery with the given message objects, from one contact.
pub fn messages_delivery(wa_id: &str, name: &str, messages: &[serde_json::Value]) -> String {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA1", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550009999", "phone_number_id": PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": name }, "wa_id": wa_id }],
            "messages": messages,
        }}]}]
    })
    .to_string()
}

pub fn text_message(wa_id: &str, id: &str, at: u64, body: &str) -> serde_json::Value {
    serde_json::json!({ "from": wa_id, "id": id, "timestamp": at.to_string(), "type": "text", "text": { "body": body } })
}

/// A contact no other test uses (the KV directory is new each run).
pub fn contact() -> String {
    format!("1555{:07}", UNIQUE.fetch_add(1, Ordering::SeqCst))
}

pub fn message_id() -> String {
    format!("wamid.E2E{}", unique())
}

#[allow(dead_code)]
pub fn fixture(path: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path),
    )
    .expect("fixture")
}
