//! What is checked is what is sent: send bodies on both routes are read into their typed shape,
//! and a webhook item that says two things is not half-read. Stored state that cannot be read
//! blocks sending to its person.

use crate::harness::*;
use serde_json::{json, Value};
use std::process::Command;

/// The two send routes, each with its token: `/v1/messages` (wa-edge's words) and the gateway
/// (Meta's path and words).
fn both_routes(w: &Worker, wa: &str, body: &str) -> [(u16, Value); 2] {
    let post = |path: &str, token: &str| {
        let auth = format!("Bearer {token}");
        let r = w.send(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        );
        (
            r.status,
            serde_json::from_str(&r.body).unwrap_or(Value::Null),
        )
    };
    [
        post("/v1/messages", ADMIN_TOKEN),
        post(&format!("/v24.0/{}/messages", number_for(wa)), SEND_TOKEN),
    ]
}

/// A person who wrote in (their window is open) and then sent STOP.
fn opted_out(w: &Worker) -> String {
    let wa = contact();
    w.say(&wa, "hello");
    w.say(&wa, "STOP");
    w.settle(&wa);
    let consent = w
        .admin("GET", &format!("/v1/contacts/{wa}/consent"), None)
        .json();
    assert_eq!(consent["status"], "opted_out", "{consent}");
    wa
}

#[test]
fn a_second_to_key_is_refused_on_both_routes_and_nothing_goes_out() {
    let w = worker();
    let stopped = opted_out(w);
    let other = contact();
    w.say(&other, "hello");
    let marker = format!("two-tos-{}", unique());
    // A checker that reads the last `to` sees someone who may be sent to; Meta may read the
    // first. Neither is guessed: the body is refused.
    for (first, last) in [(&stopped, &other), (&other, &stopped)] {
        let body = format!(
            r#"{{"messaging_product":"whatsapp","to":"{first}","to":"{last}","type":"text","text":{{"body":"{marker}"}}}}"#
        );
        for (status, answer) in both_routes(w, &other, &body) {
            assert_eq!(status, 400, "{answer}");
            let says = answer.to_string();
            assert!(says.contains("twice"), "{says}");
            assert!(!says.contains(&stopped) && !says.contains(&other), "{says}");
        }
    }
    w.settle(&other);
    assert!(w.graph.requests_holding(&marker).is_empty());
}

#[test]
fn a_status_body_is_exactly_a_mark_as_read_or_refused() {
    let w = worker();
    let stopped = opted_out(w);
    let inbound = w.say(&stopped, "one more thing");
    let marker = format!("read-smuggle-{}", unique());
    // A "mark-as-read" that carries a message to an opted-out person.
    let smuggled = json!({ "messaging_product": "whatsapp", "status": "read", "message_id": inbound,
        "to": stopped, "type": "text", "text": { "body": marker } });
    let [_, (status, answer)] = both_routes(w, &stopped, &smuggled.to_string());
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], 100, "{answer}");
    let (status, answer) = both_routes(w, &stopped, &smuggled.to_string())[0].clone();
    assert_eq!(status, 400, "{answer}");
    // A status other than read is no mark-as-read either.
    let other =
        json!({ "messaging_product": "whatsapp", "status": "deleted", "message_id": inbound });
    assert_eq!(both_routes(w, &stopped, &other.to_string())[1].0, 400);
    w.settle(&stopped);
    assert!(w.graph.requests_holding(&marker).is_empty());
    // The real one goes to Meta in exactly its shape, the typing indicator with it.
    let real = json!({ "messaging_product": "whatsapp", "status": "read", "message_id": inbound,
        "typing_indicator": { "type": "text" } });
    let [_, (status, answer)] = both_routes(w, &stopped, &real.to_string());
    assert_eq!(status, 200, "{answer}");
    let receipts: Vec<Value> = w
        .graph
        .requests_holding(&inbound)
        .into_iter()
        .map(|r| r.body)
        .filter(|b| b.get("typing_indicator").is_some())
        .collect();
    assert_eq!(receipts, [real]);
}

#[test]
fn a_recipient_written_with_leading_zeros_is_the_same_person_or_refused() {
    let w = worker();
    let stopped = opted_out(w);
    let marker = format!("zeros-{}", unique());
    for written in [format!("00{stopped}"), format!("+00{stopped}")] {
        let body = json!({ "to": written, "type": "text", "text": { "body": marker } }).to_string();
        let [(v1, v1_answer), (gw, gw_answer)] = both_routes(w, &stopped, &body);
        assert_eq!(
            (v1, v1_answer["error"].as_str()),
            (409, Some("opted_out")),
            "{v1_answer}"
        );
        assert_eq!(gw_answer["error"]["code"], 900_001, "{gw}: {gw_answer}");
    }
    let national =
        json!({ "to": format!("0{stopped}"), "type": "text", "text": { "body": marker } });
    for (status, answer) in both_routes(w, &stopped, &national.to_string()) {
        assert_eq!(status, 400, "{answer}");
    }
    w.settle(&stopped);
    assert!(w.graph.requests_holding(&marker).is_empty());
    // Someone who may be sent to gets the message under the number as checked, not as written.
    let open = contact();
    w.say(&open, "hello");
    let body = json!({ "to": format!("+00{open}"), "type": "text", "text": { "body": marker } });
    for (status, answer) in both_routes(w, &open, &body.to_string()) {
        assert_eq!(status, 200, "{answer}");
    }
    w.settle(&open);
    let sent = w.graph.requests_holding(&marker);
    assert_eq!(sent.len(), 2, "one through each route");
    for request in sent {
        assert_eq!(request.body["to"], open.as_str());
    }
}

#[test]
fn a_webhook_item_that_gives_a_key_twice_is_invalid_and_its_neighbour_is_kept() {
    let w = worker();
    let wa = contact();
    let (twice, kept) = (message_id(), message_id());
    let placeholder = "zz_second_body";
    let items = [
        json!({ "from": wa, "id": twice, "timestamp": now().to_string(), "type": "text",
                "text": { "body": "STOP", placeholder: "hello" } }),
        json!({ "from": wa, "id": kept, "timestamp": now().to_string(), "type": "text",
                "text": { "body": "opening hours" } }),
    ];
    // `text.body` given twice: STOP, then hello. A reader that kept the last would hide a STOP.
    let body = messages_delivery(&wa, "Ana", &items).replace(placeholder, "body");
    assert!(body.matches(r#""body":"#).count() >= 3);
    let from = w.log_text().len();
    let r = w.deliver(&body);
    assert_eq!(r.status, 200, "{}", r.body);
    let log = w.log_after(from, "invalid");
    assert!(log.contains("duplicate field `body`"), "{log}");
    assert!(!log.contains("hello") && !log.contains(&wa), "{log}");
    w.settle(&wa);
    assert_eq!(w.action_of(&wa, &kept).as_deref(), Some("auto_reply:hours"));
    assert_eq!(w.action_of(&wa, &twice), None, "never half-read");
}

/// Overwrites the value under `key` in the storage of the object named `name` with `bytes` (a
/// V8-serialised value, as workerd keeps them), while the worker is down.
fn overwrite_stored(persist: &std::path::Path, name: &str, key: &str, bytes: &[u8]) {
    let script = r#"
import glob, sqlite3, sys
folder, name, key, value = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4])
done = 0
for path in glob.glob(folder + "/v3/do/*-Person/*.sqlite"):
    db = sqlite3.connect(path)
    tables = {row[0] for row in db.execute("select name from sqlite_master")}
    named = "__miniflare_do_name" in tables and db.execute(
        "select 1 from __miniflare_do_name where name = ?", (name,)).fetchone()
    if named:
        done += db.execute("update _cf_KV set value = ? where key = ?", (value, key)).rowcount
        db.commit()
    db.close()
print(done)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(persist)
        .args([name, key, &hex::encode(bytes)])
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_consent_record_that_cannot_be_read_blocks_sending_and_shows_as_an_error() {
    let graph = FakeGraph::start();
    let persist = std::env::temp_dir().join(format!("wa-edge-e2e-corrupt-{}", unique()));
    let first = start(graph.clone(), persist.clone(), &[]);
    let wa = contact();
    first.say(&wa, "hello");
    first.say(&wa, "STOP");
    first.settle(&wa);
    first.kill();
    // A value that is a string, but not the envelope every entry is stored in.
    let garbage = b"{\"v\":\"{\\\"status\\\":";
    let mut v8 = vec![0xff, 0x0f, b'"', garbage.len() as u8];
    v8.extend_from_slice(garbage);
    let key = format!("consent:{}", first.contact_key(&wa));
    overwrite_stored(&persist, &first.contact_key(&wa), &key, &v8);
    let second = start(graph.clone(), persist, &[]);
    let before = graph.requests_to(&wa).len();
    let consent = second.admin("GET", &format!("/v1/contacts/{wa}/consent"), None);
    assert_eq!(consent.status, 500, "{}", consent.body);
    assert_eq!(
        consent.json()["error"],
        "unreadable_record",
        "{}",
        consent.body
    );
    let marker = format!("after-corruption-{}", unique());
    let body = json!({ "to": wa, "type": "text", "text": { "body": marker } }).to_string();
    let [(v1, v1_answer), (gw, gw_answer)] = both_routes(&second, &wa, &body);
    assert_eq!(
        (v1, v1_answer["error"].as_str()),
        (500, Some("unreadable_record")),
        "{v1_answer}"
    );
    assert_eq!(gw, 500, "{gw_answer}");
    assert!(graph.requests_holding(&marker).is_empty());
    assert_eq!(
        graph.requests_to(&wa).len(),
        before,
        "nothing at all went to them"
    );
    second.kill();
}

#[test]
fn a_text_too_large_to_store_as_it_is_is_stored_cut_and_the_stop_beside_it_holds() {
    let w = worker();
    let wa = contact();
    let (big, stop) = (message_id(), message_id());
    // Over what one Durable Object value holds, under the 3 MiB body cap.
    let huge = "x".repeat(2_300_000);
    let body = messages_delivery(
        &wa,
        "Ana",
        &[
            text_message(&wa, &big, now(), &huge),
            text_message(&wa, &stop, now(), "STOP"),
        ],
    );
    let r = w.deliver(&body);
    assert_eq!(r.status, 200, "{}", r.body);
    // Meta's copy of the same delivery changes nothing: it is not a failure to retry.
    assert_eq!(w.deliver(&body).status, 200);
    w.settle(&wa);
    let consent = w
        .admin("GET", &format!("/v1/contacts/{wa}/consent"), None)
        .json();
    assert_eq!(consent["status"], "opted_out", "{consent}");
    let inbound = w.history(&wa, "inbound");
    let stored = inbound.iter().find(|m| m["id"] == big.as_str()).unwrap();
    let text = stored["text"].as_str().unwrap();
    assert!(
        text.len() < 10_000 && text.starts_with("xxxx"),
        "{}",
        text.len()
    );
    assert_eq!(stored["text_truncated"], true);
}
