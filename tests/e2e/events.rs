//! Storage, dedupe, statuses, retention, history and erasure through the real worker and KV.

use crate::harness::*;
use serde_json::json;

fn history(w: &Worker, wa: &str) -> Vec<serde_json::Value> {
    let r = w.admin(
        "GET",
        &format!("/v1/contacts/{wa}/messages?limit=100"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["messages"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_two_by_three_batch_is_six_records_and_a_redelivery_adds_none() {
    let w = worker();
    let wa = contact();
    let t = now();
    let entry = |e: u64| {
        let messages: Vec<_> = (0..3)
            .map(|i| text_message(&wa, &format!("wamid.B{wa}{e}{i}"), t, &format!("m{e}.{i}")))
            .collect();
        json!({ "id": "WABA1", "changes": [{ "field": "messages", "value": {
            "metadata": { "phone_number_id": number_for(&wa) }, "messages": messages }}]})
    };
    let body =
        json!({ "object": "whatsapp_business_account", "entry": [entry(0), entry(1)] }).to_string();
    assert_eq!(w.deliver(&body).status, 200);
    assert_eq!(w.history(&wa, "inbound").len(), 6);
    // One default reply for the whole batch (pair rate); wait until it is recorded.
    w.settle(&wa);
    assert_eq!(w.history(&wa, "outbound").len(), 1);
    let prefix = format!("c:{}:", w.contact_key(&wa));
    let keys_before: Vec<_> = w
        .kv_keys()
        .into_iter()
        .filter(|k| k.name.starts_with(&prefix))
        .map(|k| k.name)
        .collect();
    let records = keys_before.iter().filter(|k| k.contains(":m:")).count();
    assert_eq!(records, 7, "six inbound records and the reply");
    assert_eq!(w.deliver(&body).status, 200);
    let keys_after: Vec<_> = w
        .kv_keys()
        .into_iter()
        .filter(|k| k.name.starts_with(&prefix))
        .map(|k| k.name)
        .collect();
    assert_eq!(keys_after, keys_before, "a redelivery stores nothing new");
    assert_eq!(w.history(&wa, "inbound").len(), 6);
    assert_eq!(w.history(&wa, "outbound").len(), 1, "and sends nothing new");
}

#[test]
fn out_of_order_statuses_end_at_read() {
    let w = worker();
    let wa = contact();
    let id = message_id();
    let t = now();
    for (status, at) in [("read", t + 2), ("delivered", t + 1), ("sent", t)] {
        let body = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":number_for(&wa)},
            "statuses":[{"id":id,"status":status,"timestamp":at.to_string(),"recipient_id":wa,
                "pricing":{"billable":true,"pricing_model":"PMP","category":"service"}}]}}]}]})
        .to_string();
        assert_eq!(w.deliver(&body).status, 200);
    }
    let h = history(w, &wa);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["status"], "read");
    assert_eq!(h[0]["statuses"].as_array().map(Vec::len), Some(3));
}

#[test]
fn every_key_has_a_ttl_counted_from_the_event_and_no_key_holds_an_id() {
    let w = worker();
    let wa = contact();
    let id = message_id();
    let event_time = now() - 3 * 3600;
    let body = messages_delivery(
        &wa,
        "Priya",
        &[text_message(&wa, &id, event_time, "ttl check")],
    );
    assert_eq!(w.deliver(&body).status, 200);
    let keys = w.kv_keys();
    let record_key = w.message_key(&wa, &id);
    let record = keys
        .iter()
        .find(|k| k.name == record_key)
        .expect("the message record");
    let expires = record.expiration.expect("message record has a TTL");
    assert_eq!(
        expires,
        event_time + 30 * 86_400,
        "30 days from the event, not from arrival"
    );
    for key in &keys {
        assert!(
            !key.name.contains(&wa) && !key.name.contains("wamid"),
            "{}",
            key.name
        );
        // Suppressions and number pauses last until a person lifts them, by design.
        if !key.name.starts_with("consent:") && !key.name.starts_with("a:pause:") {
            let e = key
                .expiration
                .unwrap_or_else(|| panic!("{} has no TTL", key.name));
            assert!(
                e <= now() + 30 * 86_400 + 5,
                "{} lives longer than 30 days",
                key.name
            );
        }
    }
}

#[test]
fn history_shows_profile_and_media_and_erasure_leaves_nothing_personal() {
    let w = worker();
    let wa = contact();
    let t = now();
    let image = json!({"from":wa,"id":message_id(),"timestamp":t.to_string(),"type":"image",
        "image":{"caption":"the broken part","mime_type":"image/jpeg","id":"1479537139650973"}});
    let body = messages_delivery(
        &wa,
        "Émile",
        &[
            text_message(&wa, &message_id(), t - 1, "my address is 1 Main St"),
            image,
        ],
    );
    assert_eq!(w.deliver(&body).status, 200);
    let h = w.history(&wa, "inbound");
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["type"], "image");
    assert_eq!(h[0]["media_id"], "1479537139650973");
    assert_eq!(h[0]["text"], "the broken part");
    assert_eq!(h[1]["profile_name"], "Émile");

    // The default reply is recorded after the response: erase once it is there.
    w.settle(&wa);
    assert_eq!(w.history(&wa, "outbound").len(), 1);
    let r = w.admin("DELETE", &format!("/v1/contacts/{wa}"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["deleted"]["messages"], 3, "two inbound, one reply");
    let contact_key = w.contact_key(&wa);
    let left: Vec<_> = w
        .kv_keys()
        .into_iter()
        .filter(|k| k.name.contains(&contact_key))
        .collect();
    assert!(left.is_empty(), "left after erasure: {left:?}");
    assert!(history(w, &wa).is_empty());
}

#[test]
fn replays_older_than_seven_days_are_acknowledged_and_ignored() {
    let w = worker();
    let wa = contact();
    let body = messages_delivery(
        &wa,
        "Old",
        &[text_message(&wa, &message_id(), now() - 8 * 86_400, "STOP")],
    );
    assert_eq!(w.deliver(&body).status, 200);
    assert!(history(w, &wa).is_empty());
    let consent = w
        .admin("GET", &format!("/v1/contacts/{wa}/consent"), None)
        .json();
    assert_eq!(consent["status"], "unknown");
    assert!(w.sent_to(&wa).is_empty());
}

#[test]
fn account_signals_show_in_the_account_endpoint() {
    let w = worker();
    let t = now();
    let body = json!({"object":"whatsapp_business_account","entry":[{"id":"WABA1","time":t,"changes":[
        {"field":"phone_number_quality_update","value":{"display_phone_number":"15550009999","event":"DOWNGRADE","current_limit":"TIER_250"}},
        {"field":"message_template_status_update","value":{"event":"REJECTED","message_template_id":777,"message_template_name":"e2e_promo","message_template_language":"en_US","reason":"INCORRECT_CATEGORY"}}]}]})
    .to_string();
    assert_eq!(w.deliver(&body).status, 200);
    let account = w.admin("GET", "/v1/account", None).json();
    let quality = account["quality"].as_array().cloned().unwrap_or_default();
    assert!(
        quality
            .iter()
            .any(|q| q["event"] == "DOWNGRADE" && q["messaging_limit"] == "TIER_250"),
        "{account}"
    );
    let templates = account["templates"].as_array().cloned().unwrap_or_default();
    assert!(
        templates
            .iter()
            .any(|t| t["name"] == "e2e_promo" && t["event"] == "REJECTED"),
        "{account}"
    );
}

#[test]
fn a_message_naming_no_one_is_counted_invalid_and_stored_nowhere() {
    // A worker of its own: its KV must hold nothing afterwards.
    let graph = FakeGraph::start();
    let persist = std::env::temp_dir().join(format!("wa-edge-e2e-no-one-{}", unique()));
    let w = start(graph, persist, &[]);
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": { "phone_number_id": number_for(&contact()) },
        "contacts": [{ "profile": { "name": "Nobody" }, "wa_id": "" }],
        "messages": [text_message("", &message_id(), now(), "hello")],
    });
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "WABA1",
        "changes": [{ "field": "messages", "value": value }]}]})
    .to_string();
    let from = w.log_text().len();
    let r = w.deliver(&body);
    assert_eq!(r.status, 200, "{}", r.body);
    let line = w.log_after(from, "webhook delivery");
    assert!(
        line.contains(r#""stored":0"#) && line.contains(r#""invalid":1"#),
        "{line}"
    );
    assert!(line.contains("0 person(s)"), "{line}");
    assert_eq!(w.kv_keys().len(), 0, "nothing is stored for no one");
    w.kill();
}
