//! The worker process: `wrangler dev` on a free port with its own KV directory, started once,
//! stopped when the test binary exits; and what the tests ask of it.

use super::client::{request, HttpResponse};
use super::fake_graph::{FakeGraph, GraphRequest};
use super::payloads::{message_id, text_message};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wa_edge::store::keys::KeyScheme;

pub const APP_SECRET: &str = "e2e-app-secret";
pub const PREVIOUS_SECRET: &str = "e2e-previous-secret";
pub const VERIFY_TOKEN: &str = "e2e-verify-token";
pub const ACCESS_TOKEN: &str = "e2e-access-token";
pub const ADMIN_TOKEN: &str = "e2e-admin-token";
pub const SEND_TOKEN: &str = "e2e-send-token";
pub const SEND_TOKEN_PREVIOUS: &str = "e2e-send-token-rotated-out";
pub const CONTACT_KEY_SECRET: &str = "e2e-contact-key-secret";
pub const AUTO_REPLY_RULES: &str =
    r#"[{"name":"hours","match":["opening hours"],"reply":"E2E: open 9 to 5."}]"#;
pub const DEFAULT_REPLY: &str = "E2E: thanks, a person will answer.";
pub const OPT_OUT_CONFIRMATION: &str = "E2E: you are unsubscribed. Reply START to subscribe again.";
pub const OPT_IN_CONFIRMATION: &str = "E2E: you are subscribed again. Reply STOP to unsubscribe.";
/// The longest a test waits for the worker's work after its answers (sends and their records);
/// a bound, not a sleep: waits end as soon as the work is over.
pub const SETTLE: Duration = Duration::from_secs(60);

pub struct Worker {
    pub base: String,
    pub persist: PathBuf,
    pub graph: FakeGraph,
    /// Everything wrangler and the worker printed.
    pub log: PathBuf,
    _guard: Mutex<(Child, ChildStdin)>,
}

static WORKER: OnceLock<Worker> = OnceLock::new();
pub(super) static UNIQUE: AtomicU64 = AtomicU64::new(1);

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
    WORKER.get_or_init(|| {
        let persist =
            std::env::temp_dir().join(format!("wa-edge-e2e-{}-{}", std::process::id(), unique()));
        start(FakeGraph::start(), persist, &[])
    })
}

/// A worker of the test's own (to kill and restart), on `persist` (KV and Durable Objects),
/// sending to `graph`.
pub fn start(graph: FakeGraph, persist: PathBuf, extra: &[(&str, &str)]) -> Worker {
    let port = free_port();
    let inspector = free_port();
    let mut vars = vec![
        ("WHATSAPP_APP_SECRET", APP_SECRET.to_string()),
        ("WHATSAPP_APP_SECRET_PREVIOUS", PREVIOUS_SECRET.to_string()),
        ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN.to_string()),
        ("WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN.to_string()),
        ("ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
        ("SEND_TOKEN", SEND_TOKEN.to_string()),
        ("SEND_TOKEN_PREVIOUS", SEND_TOKEN_PREVIOUS.to_string()),
        ("CONTACT_KEY_SECRET", CONTACT_KEY_SECRET.to_string()),
        ("GRAPH_API_BASE", graph.base.clone()),
        ("BUSINESS_NAME", "E2E Shop".to_string()),
        (
            "HELP_TEXT",
            "E2E Shop help: call 555-0100. Reply STOP to unsubscribe.".to_string(),
        ),
        ("AUTO_REPLY_RULES", AUTO_REPLY_RULES.to_string()),
        ("DEFAULT_REPLY", DEFAULT_REPLY.to_string()),
        ("OPT_OUT_CONFIRMATION", OPT_OUT_CONFIRMATION.to_string()),
        ("OPT_IN_CONFIRMATION", OPT_IN_CONFIRMATION.to_string()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
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
        "log".into(),
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
    let log_path = std::env::temp_dir().join(format!("wa-edge-e2e-{port}.log"));
    let log = std::fs::File::create(&log_path).expect("log file");
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
        log: log_path,
        _guard: Mutex::new((child, stdin)),
    }
}

impl Worker {
    /// Kills wrangler and workerd at once (SIGKILL to the whole process group): nothing gets
    /// to finish, as when a machine dies.
    pub fn kill(&self) {
        let pid = self._guard.lock().expect("child").0.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status();
        // Bounded: the group is gone within moments.
        let deadline = Instant::now() + Duration::from_secs(10);
        while request("GET", &format!("{}/healthz", self.base), &[], b"").is_ok() {
            assert!(Instant::now() < deadline, "the worker survived SIGKILL");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

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
        let signature = wa_edge::webhook::signature::sign(APP_SECRET.as_bytes(), body.as_bytes());
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
        let keys = KeyScheme::new(CONTACT_KEY_SECRET);
        let contact = keys.contact(&wa_edge::ids::WaId::new(wa_id));
        wa_edge::store::keys::message_record(
            &contact,
            &keys.message(&wa_edge::ids::MessageId::new(message_id)),
        )
    }

    /// An admin lookup of a person with the id in the body (the form that keeps ids out of
    /// access logs): `view` is consent, messages or outbox.
    pub fn lookup(&self, wa_id: &str, view: &str) -> HttpResponse {
        let body = serde_json::json!({"wa_id": wa_id, "view": view, "limit": 100}).to_string();
        self.admin("POST", "/v1/contacts/lookup", Some(&body))
    }

    /// The contact's history, newest first, in one direction.
    pub fn history(&self, wa_id: &str, direction: &str) -> Vec<serde_json::Value> {
        let r = self.lookup(wa_id, "messages");
        assert_eq!(r.status, 200, "{}", r.body);
        let all = r.json()["messages"].as_array().cloned().unwrap_or_default();
        all.into_iter()
            .filter(|m| m["direction"] == direction)
            .collect()
    }

    /// Waits until the person's authority has no send left to make (its durable outbox is
    /// empty): every send it decided has been made and recorded, so counting requests or
    /// records after this is exact.
    pub fn settle(&self, wa_id: &str) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let r = self.lookup(wa_id, "outbox");
            assert_eq!(r.status, 200, "{}", r.body);
            if r.json()["pending"] == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the person's outbox did not drain: {}",
                r.body
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every message the worker sent to `to`, once the person's outbox is drained.
    pub fn sent_to(&self, to: &str) -> Vec<GraphRequest> {
        self.settle(to);
        self.graph.requests_to(to)
    }

    /// What the worker and wrangler printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the log holds `needle` after byte `from`, and returns that part.
    pub fn log_after(&self, from: usize, needle: &str) -> String {
        let deadline = Instant::now() + SETTLE;
        loop {
            let text = self.log_text();
            let new = text.get(from..).unwrap_or_default().to_string();
            if new.contains(needle) {
                return new;
            }
            assert!(Instant::now() < deadline, "the log never showed {needle}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Delivers a text from `wa_id` with the given timestamp; returns its message id.
    pub fn say_at(&self, wa_id: &str, at: u64, text: &str) -> String {
        self.say_to(&super::payloads::number_for(wa_id), wa_id, at, text)
    }

    /// Delivers a text to the business number `phone_number_id`; returns its message id.
    pub fn say_to(&self, phone_number_id: &str, wa_id: &str, at: u64, text: &str) -> String {
        let id = message_id();
        let body = wa_edge::testing::payloads::messages_delivery(
            phone_number_id,
            wa_id,
            "Ana",
            &[text_message(wa_id, &id, at, text)],
        );
        let r = self.deliver(&body);
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
        KeyScheme::new(CONTACT_KEY_SECRET)
            .contact(&wa_edge::ids::WaId::new(wa_id))
            .0
    }
}

#[derive(Debug, Clone, serde::Deserialize)]
pub struct KvKey {
    pub name: String,
    pub expiration: Option<u64>,
}
