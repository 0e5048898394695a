//! Records written by the build before this one (KV and each authority's storage, dumped from
//! its native world into `tests/records/earlier_build.json`) are read by this one: consent
//! with its ledger, message history, pending sends, identity links, account signals, and each
//! authority value inside the envelope Durable Object storage keeps it in.

use crate::authority::envelope;
use crate::serde_ext::RawJson;
use crate::store::keys::ContactKey;
use crate::store::kv::Kv;
use crate::testing::{block_on, MemoryKv, World};
use crate::time::UnixTime;
use serde_json::Value;

const RECORDS: &str = include_str!("../../tests/records/earlier_build.json");
/// The dump's own clock: its events happened from here on.
const T0: u64 = 1_732_000_000;

fn plant(kv: &MemoryKv, entry: &Value) {
    let key = entry["key"].as_str().unwrap();
    let value = entry["value"].as_str().unwrap();
    let expires = entry["expires"].as_u64().map(UnixTime);
    let metadata = entry
        .get("metadata")
        .filter(|m| !m.is_null())
        .map(RawJson::from_value);
    block_on(kv.put(key, value, expires, metadata)).unwrap();
}

/// A world holding every record of the dump.
fn world() -> World {
    let records: Value = serde_json::from_str(RECORDS).unwrap();
    let w = World::new(&[]);
    for entry in records["kv"].as_array().unwrap() {
        plant(&w.kv, entry);
    }
    for (contact, entries) in records["authorities"].as_object().unwrap() {
        let store = w.store_of_key(&ContactKey(contact.clone()));
        for entry in entries.as_array().unwrap() {
            plant(&store, entry);
        }
    }
    w
}

#[test]
fn every_authority_value_reads_back_from_the_envelope_it_was_stored_in() {
    let records: Value = serde_json::from_str(RECORDS).unwrap();
    let mut count = 0;
    for entries in records["authorities"].as_object().unwrap().values() {
        for entry in entries.as_array().unwrap() {
            // As the earlier build wrote it: value, then expiry and metadata when there are.
            let value = entry["value"].as_str().unwrap();
            let mut text = format!(r#"{{"v":{}"#, serde_json::to_string(value).unwrap());
            if let Some(e) = entry["expires"].as_u64() {
                text.push_str(&format!(r#","e":{e}"#));
            }
            text.push('}');
            let stored = envelope::decode(Some(&text));
            assert_eq!(stored.v, value);
            assert_eq!(stored.e, entry["expires"].as_u64());
            count += 1;
        }
    }
    assert!(count > 20, "{count}");
}

#[test]
fn consent_ledgers_history_and_signals_written_earlier_read_the_same() {
    let w = world();
    let now = T0 + 50;
    let (status, ana) = w.admin("GET", "/v1/contacts/15550001001/consent", "", now);
    assert_eq!(status, 200, "{ana}");
    assert_eq!(ana["status"], "opted_out");
    let stop = ana["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&stop["source"], &stop["keyword"], &stop["message_id"]),
        (&"keyword".into(), &"stop".into(), &"wamid.A2".into())
    );
    let (_, offline) = w.admin("GET", "/v1/contacts/15550001005/consent", "", now);
    assert_eq!(offline["status"], "opted_in");
    assert_eq!(offline["history"][0]["evidence"], "web form, order 77");
    // Linked ids written earlier still name one person.
    let (_, by_phone) = w.admin("GET", "/v1/contacts/16505551234/consent", "", now);
    let (_, by_bsuid) = w.admin(
        "GET",
        "/v1/contacts/US.13491208655302741918/consent",
        "",
        now,
    );
    assert_eq!(by_phone["status"], "opted_out");
    assert_eq!(by_phone["history"], by_bsuid["history"]);
    let (status, history) = w.admin("GET", "/v1/contacts/15550001001/messages", "", now);
    assert_eq!(status, 200, "{history}");
    let messages = history["messages"].as_array().unwrap();
    let hello = messages.iter().find(|m| m["id"] == "wamid.A1").unwrap();
    assert_eq!(
        (&hello["text"], &hello["profile_name"]),
        (&"hello".into(), &"Ana".into())
    );
    let replies: Vec<&Value> = messages
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .collect();
    assert!(!replies.is_empty());
    assert!(
        replies.iter().all(|m| m["status"] == "delivered"),
        "{replies:?}"
    );
    let (_, account) = w.admin("GET", "/v1/account", "", now);
    assert_eq!(
        account["alerts"].as_array().map(Vec::len),
        Some(1),
        "{account}"
    );
    assert_eq!(
        account["templates"].as_array().map(Vec::len),
        Some(1),
        "{account}"
    );
    // The opt-out written earlier is in force.
    let (status, refused) = w.admin(
        "POST",
        "/v1/messages",
        r#"{"to":"15550001001","text":"hi","from":"106540352242922"}"#,
        now,
    );
    assert_eq!(
        (status, &refused["error"]),
        (409, &"opted_out".into()),
        "{refused}"
    );
}

#[test]
fn pending_sends_written_earlier_go_out() {
    let w = world();
    let now = T0 + 50;
    let (_, outbox) = w.admin("GET", "/v1/contacts/16505551234/outbox", "", now);
    assert_eq!(outbox["pending"], 2, "{outbox}");
    w.send_until(now, now + 30);
    let bodies = w.graph.bodies();
    assert!(
        bodies
            .iter()
            .any(|b| b["to"] == "16505551234" && b["type"] == "text"),
        "{bodies:?}"
    );
    assert!(bodies.iter().any(|b| b["status"] == "read"), "{bodies:?}");
    let (_, outbox) = w.admin("GET", "/v1/contacts/16505551234/outbox", "", now + 31);
    assert_eq!(outbox["pending"], 0, "{outbox}");
}

#[test]
fn an_outbox_item_that_cannot_be_read_is_dropped_and_logged_and_the_rest_go_out() {
    let w = world();
    let now = T0 + 50;
    let store = w.store_of("16505551234");
    let broken = "o:737e5811-00000000000000000099";
    store.plant(broken, "{\"outbound\":");
    let log = w.send_until(now, now + 30).join("\n");
    assert!(log.contains("unreadable item(s) dropped"), "{log}");
    assert!(log.contains(broken), "{log}");
    assert!(!log.contains("16505551234"), "{log}");
    assert!(store.entry(broken).is_none(), "dropped");
    assert!(w.graph.bodies().iter().any(|b| b["to"] == "16505551234"));
}
