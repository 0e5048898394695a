//! KV operations per request for the benchmark's workloads, counted over the same core the worker
//! runs (the shell maps each `Kv` call to one KV operation; a bulk get of up to 100 keys is one).
//! Prints JSON: `{"<workload>": {"reads": r, "writes": w, "lists": l}}`.

use serde_json::json;
use wa_edge::config::Config;
use wa_edge::http::{handle, route, Request};
use wa_edge::testing::{block_on, FakeGraph, MemoryKv};
use wa_edge::time::UnixTime;
use wa_edge::webhook::signature::sign;

const SECRET: &str = "bench-app-secret";
const NOW: u64 = 1_732_000_000;

fn envelope(value: serde_json::Value) -> serde_json::Value {
    json!({"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":value}]}]})
}

fn text(from: &str, id: &str, body: &str) -> serde_json::Value {
    json!({"from":from,"id":id,"timestamp":NOW.to_string(),"type":"text","text":{"body":body}})
}

fn messages(from: &str, list: Vec<serde_json::Value>) -> serde_json::Value {
    envelope(
        json!({"metadata":{"phone_number_id":"PNID"},"contacts":[{"profile":{"name":"B"},"wa_id":from}],"messages":list}),
    )
}

fn main() {
    let vars = [
        ("WHATSAPP_APP_SECRET", SECRET),
        ("WHATSAPP_VERIFY_TOKEN", "v"),
        ("WHATSAPP_ACCESS_TOKEN", "t"),
        ("ADMIN_TOKEN", "a"),
        ("CONTACT_KEY_SECRET", "bench-contact-secret"),
        ("DEFAULT_REPLY", "Thanks, a person will answer soon."),
    ];
    let config = Config::from_lookup(|n| {
        vars.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    });
    let kv = MemoryKv::new();
    let deliver = |body: &serde_json::Value, signature: Option<String>| {
        let body = body.to_string();
        let req = Request {
            route: route("POST", "/webhook"),
            query: vec![],
            signature: Some(signature.unwrap_or_else(|| sign(SECRET.as_bytes(), body.as_bytes()))),
            authorization: None,
            body: body.into_bytes(),
            in_flight_sends: 0,
        };
        kv.reset_ops();
        let (reply, _) = block_on(handle(
            req,
            &config,
            &kv,
            &FakeGraph::default(),
            UnixTime(NOW + 1),
        ));
        assert!(reply.status < 500, "{}", reply.body);
        let ops = kv.ops();
        json!({"reads": ops.reads, "writes": ops.writes, "lists": ops.lists})
    };
    let statuses: Vec<_> = (0..50)
        .zip(["sent", "delivered", "read"].iter().cycle())
        .map(|(i, status)| json!({"id":format!("wamid.S{i}"),"status":status,"timestamp":NOW.to_string(),"recipient_id":format!("1555000{i:04}")}))
        .collect();
    let change = |e: u32| json!({"field":"messages","value":{"metadata":{"phone_number_id":"PNID"},"messages":(0..3).map(|i| text("15550000777", &format!("wamid.BA{e}{i}"), "batched")).collect::<Vec<_>>()}});
    deliver(
        &messages(
            "15550000001",
            vec![text("15550000001", "wamid.warm", "first")],
        ),
        None,
    );
    let out = json!({
        "text, new contact": deliver(&messages("15550000002", vec![text("15550000002", "wamid.N1", "hello")]), None),
        "text, known contact": deliver(&messages("15550000001", vec![text("15550000001", "wamid.K1", "again")]), None),
        "STOP": deliver(&messages("15550000003", vec![text("15550000003", "wamid.T1", "STOP")]), None),
        "status batch of 50": deliver(&envelope(json!({"metadata":{"phone_number_id":"PNID"},"statuses":statuses})), None),
        "2 entries x 3 messages": deliver(&json!({"object":"whatsapp_business_account","entry":[{"id":"W","changes":[change(0)]},{"id":"W","changes":[change(1)]}]}), None),
        "bad signature": deliver(&messages("15550000004", vec![text("15550000004", "wamid.F1", "forged")]), Some(sign(b"other", b"x"))),
        "1 MB payload": deliver(&messages("15550000005", vec![text("15550000005", "wamid.M1", &"x".repeat(1 << 20))]), None),
        "3 MB payload": deliver(&messages("15550000006", vec![text("15550000006", "wamid.M3", &"x".repeat(3 * (1 << 20) - 4096))]), None),
    });
    println!("{out}");
}
