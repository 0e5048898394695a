//! The whole request path (verify → parse → decide → act) over `MemoryKv`, natively.

use crate::http::Response;
use crate::send::{Outbound, Purpose};
use crate::testing;
use serde_json::{json, Value};

pub(super) const T0: u64 = 1_732_000_000;
const DAY: u64 = 86_400;

struct World(testing::World);

impl World {
    fn new() -> World {
        World(testing::World::new(&[("HELP_TEXT", "Help: call us.")]))
    }

    fn deliver_at(&self, body: &str, now: u64) -> (Response, Vec<Outbound>) {
        self.0.deliver_at(body, now)
    }

    fn deliver(&self, body: &str) -> (Response, Vec<Outbound>) {
        self.deliver_at(body, T0 + 60)
    }

    fn fixture(&self, path: &str) -> (Response, Vec<Outbound>) {
        let body = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(path),
        )
        .expect("fixture");
        self.deliver(&body)
    }

    fn admin(&self, method: &str, path: &str, body: &str) -> Value {
        let (status, mut v) = self.0.admin(method, path, body, T0 + 120);
        v["_status"] = json!(status);
        v
    }
}

impl std::ops::Deref for World {
    type Target = testing::World;
    fn deref(&self) -> &testing::World {
        &self.0
    }
}

const WA: &str = "16505551234";

fn text(id: &str, at: u64, body: &str) -> String {
    json!({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"PNID"},
        "contacts":[{"profile":{"name":"Ann"},"wa_id":WA}],
        "messages":[{"from":WA,"id":id,"timestamp":at.to_string(),"type":"text","text":{"body":body}}]}}]}]})
    .to_string()
}

/// What was queued to the contact, leaving out mark-as-read (not a message).
fn purposes(outbox: &[Outbound]) -> Vec<Purpose> {
    outbox
        .iter()
        .map(|o| o.purpose)
        .filter(|p| *p != Purpose::MarkRead)
        .collect()
}

#[test]
fn batch_of_two_entries_by_three_messages_is_six_records() {
    let w = World::new();
    let (reply, _) = w.fixture("messages/batched_2x3.json");
    assert_eq!(reply.status, 200);
    let history = w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "");
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(6));
}

#[test]
fn duplicate_delivery_is_stored_once_and_costs_no_kv_operation() {
    let w = World::new();
    let body = text("wamid.D1", T0, "hello");
    w.deliver(&body);
    let keys_after_first = w.kv.keys();
    w.kv.reset_ops();
    let (reply, _) = w.deliver(&body);
    assert_eq!(reply.status, 200);
    assert_eq!(w.kv.keys(), keys_after_first);
    assert_eq!(
        (w.kv.ops().reads, w.kv.ops().writes),
        (0, 0),
        "the person's authority knows it is a duplicate: KV is not touched"
    );
    // Re-batched: the same message inside a bigger delivery.
    let rebatched = body.replace(r#""messages":[{"#, r#""messages":[{"from":"16505551234","id":"wamid.D2","timestamp":"1732000000","type":"text","text":{"body":"new"}},{"#);
    w.deliver(&rebatched);
    let history = w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "");
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(2));
}

#[test]
fn inbound_text_costs_at_most_one_kv_read_and_one_write() {
    let w = World::new();
    w.kv.reset_ops();
    w.deliver(&text("wamid.B1", T0, "what time do you open?"));
    let ops = w.kv.ops();
    // KV: one bulk read (the person's records, on first use only), one write (the message
    // record). Marker, consent and window live in the person's authority, pauses in the number's.
    assert_eq!((ops.reads, ops.writes, ops.lists), (1, 1, 0));
    w.kv.reset_ops();
    let store = w.store_of(WA);
    store.reset_ops();
    w.deliver(&text("wamid.B2", T0 + 120, "and on Sundays?"));
    let ops = w.kv.ops();
    assert_eq!((ops.reads, ops.writes, ops.lists), (0, 1, 0));
    // The authority commits in one atomic write.
    let local = store.ops();
    assert_eq!(local.writes, 1, "{local:?}");
}

#[test]
fn every_record_expires_thirty_days_after_its_event_and_keys_hold_no_ids() {
    let w = World::new();
    w.deliver(&text("wamid.HBgLMTY1MDU1NTEyMzQVAgAS", T0 - DAY, "hi"));
    w.fixture("messages/statuses_sent_delivered_read.json");
    for key in w.kv.keys() {
        assert!(!key.contains(WA) && !key.contains("wamid"), "{key}");
        let (_, expires, _) = w.kv.entry(&key).expect("entry");
        let expires = expires.expect("every message-data key has a TTL").0;
        if key.starts_with("d:") {
            assert_eq!(expires, T0 + 60 + 8 * DAY, "dedupe markers live 8 days");
        } else if key.ends_with(":state") {
            // Window and pacing state lives only as long as it matters, never past retention.
            assert!(
                expires > T0 + 60 && expires <= T0 + 60 + 30 * DAY,
                "{key} expires {expires}"
            );
        } else {
            assert!(expires <= T0 + 30 * DAY + 3, "{key} expires {expires}");
            assert!(expires >= T0 - DAY + 30 * DAY, "{key} expires {expires}");
        }
    }
}

#[test]
fn out_of_order_statuses_never_go_back() {
    let w = World::new();
    let status = |s: &str, at: u64| {
        json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[
            {"id":"wamid.OUT1","status":s,"timestamp":at.to_string(),"recipient_id":WA}]}}]}]})
        .to_string()
    };
    w.deliver(&status("read", T0 + 5));
    w.deliver(&status("delivered", T0 + 3));
    w.deliver(&status("delivered", T0 + 3));
    w.deliver(&status("sent", T0 + 1));
    let history = w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "");
    let m = &history["messages"][0];
    assert_eq!(m["status"], "read");
    assert_eq!(m["direction"], "outbound");
    let order: Vec<&str> = m["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .filter_map(|s| s["status"].as_str())
        .collect();
    assert_eq!(order, ["sent", "delivered", "read"]);
}

#[test]
fn failed_status_keeps_its_error_codes() {
    let w = World::new();
    w.fixture("messages/status_failed.json");
    let history = w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "");
    assert_eq!(history["messages"][0]["status"], "failed");
    assert_eq!(
        history["messages"][0]["statuses"][0]["errors"][0]["code"],
        131047
    );
}

#[test]
fn kv_failure_answers_500_and_the_retry_stores_once() {
    let w = World::new();
    let body = text("wamid.K1", T0, "hello");
    w.kv.down.set(true);
    let (reply, _) = w.deliver(&body);
    assert_eq!(reply.status, 500);
    assert!(!reply.body.contains("hello") && !reply.body.contains(WA));
    w.kv.down.set(false);
    assert_eq!(w.deliver(&body).0.status, 200);
    assert_eq!(w.deliver(&body).0.status, 200);
    let history = w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "");
    assert_eq!(history["messages"].as_array().map(Vec::len), Some(1));
}

#[test]
fn replays_older_than_seven_days_are_ignored() {
    let w = World::new();
    let (reply, outbox) = w.deliver_at(&text("wamid.OLD", T0, "STOP"), T0 + 8 * DAY);
    assert_eq!(reply.status, 200);
    assert!(purposes(&outbox).is_empty());
    assert!(w.kv.keys().is_empty());
}

#[test]
fn unknown_kinds_are_stored_by_name_and_unknown_fields_ignored() {
    let w = World::new();
    w.fixture("messages/unknown_type.json");
    let history = w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "");
    assert_eq!(history["messages"][0]["type"], "hologram");
    let before = w.kv.keys();
    assert_eq!(w.fixture("unknown/new_field.json").0.status, 200);
    assert_eq!(w.kv.keys(), before);
}

#[test]
fn stop_confirms_once_then_silence_and_help_still_answers() {
    let w = World::new();
    let (_, outbox) = w.deliver(&text("wamid.S1", T0, "STOP"));
    assert_eq!(purposes(&outbox), [Purpose::OptOutConfirmation]);
    let (_, outbox) = w.deliver(&text("wamid.S2", T0 + 1, "stop please"));
    assert!(purposes(&outbox).is_empty(), "one confirmation per opt-out");
    let (_, outbox) = w.deliver(&text("wamid.S3", T0 + 2, "hello?"));
    assert!(purposes(&outbox).is_empty());
    let (_, outbox) = w.deliver(&text("wamid.S4", T0 + 3, "HELP"));
    assert_eq!(purposes(&outbox), [Purpose::Help]);
    assert_eq!(
        outbox
            .iter()
            .find(|o| o.purpose == Purpose::Help)
            .map(|o| o.body.summary())
            .as_deref(),
        Some("Help: call us.")
    );
    let consent = w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "");
    assert_eq!(consent["status"], "opted_out");
    assert_eq!(consent["scope"], "all");
    assert_eq!(consent["history"][0]["source"], "keyword");
    assert_eq!(consent["history"][0]["keyword"], "stop");
    assert_eq!(consent["history"][0]["message_id"], "wamid.S1");
}

#[test]
fn start_and_yes_reverse_an_opt_out_with_one_confirmation() {
    let w = World::new();
    let (_, outbox) = w.deliver(&text("wamid.Y0", T0, "yes"));
    assert!(
        purposes(&outbox).is_empty(),
        "YES from a contact who is not opted out is ordinary"
    );
    w.deliver(&text("wamid.Y1", T0 + 1, "STOP"));
    let (_, outbox) = w.deliver(&text("wamid.Y2", T0 + 2, "Yes"));
    assert_eq!(purposes(&outbox), [Purpose::OptInConfirmation]);
    let (_, outbox) = w.deliver(&text("wamid.Y3", T0 + 3, "START"));
    assert!(purposes(&outbox).is_empty(), "already opted in");
    assert_eq!(
        w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "")["status"],
        "opted_in"
    );
}

#[test]
fn older_start_replayed_after_newer_stop_does_not_opt_in() {
    let w = World::new();
    let start = text("wamid.R1", T0, "START");
    w.deliver(&start);
    w.deliver(&text("wamid.R2", T0 + 10, "STOP"));
    // Meta redelivers the older START (say its marker expired, or a different id for it).
    let (_, outbox) = w.deliver(&text("wamid.R1b", T0, "START"));
    assert!(purposes(&outbox).is_empty());
    let consent = w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "");
    assert_eq!(consent["status"], "opted_out");
    let applied: Vec<bool> = consent["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|c| c["applied"] == true)
        .collect();
    assert_eq!(
        applied.iter().filter(|a| !**a).count(),
        1,
        "the stale START is evidence, not applied"
    );
}

#[test]
fn stop_then_start_in_one_batch_ends_opted_in_with_one_consent_write() {
    let w = World::new();
    let body = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"PNID"},
        "messages":[
            {"from":WA,"id":"wamid.Q1","timestamp":T0.to_string(),"type":"text","text":{"body":"STOP"}},
            {"from":WA,"id":"wamid.Q2","timestamp":T0.to_string(),"type":"text","text":{"body":"START"}}]}}]}]})
    .to_string();
    w.kv.reset_ops();
    let (_, outbox) = w.deliver(&body);
    assert_eq!(
        purposes(&outbox),
        [Purpose::OptOutConfirmation, Purpose::OptInConfirmation]
    );
    assert_eq!(w.kv.ops().writes, 2 + 1, "two records and the consent view");
    assert_eq!(
        w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "")["status"],
        "opted_in"
    );
}

#[test]
fn stop_promotions_button_and_user_preferences_are_marketing_opt_outs() {
    let w = World::new();
    let (_, outbox) = w.fixture("messages/button_stop_promotions.json");
    assert!(purposes(&outbox).is_empty(), "Meta confirms its own button");
    let consent = w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "");
    assert_eq!(
        (consent["status"].as_str(), consent["scope"].as_str()),
        (Some("opted_out"), Some("marketing"))
    );
    assert_eq!(consent["history"][0]["source"], "button");
    w.fixture("user_preferences/resume.json");
    assert_eq!(
        w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "")["status"],
        "opted_in"
    );
    w.fixture("user_preferences/stop.json");
    // The stop (T0) is older than the resume (T0+100): evidence, not applied.
    let consent = w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "");
    assert_eq!(consent["status"], "opted_in");
    assert_eq!(consent["history"].as_array().map(Vec::len), Some(3));
}

#[test]
fn marketing_opt_out_from_send_error_131050() {
    let w = World::new();
    let body = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[
        {"id":"wamid.M1","status":"failed","timestamp":T0.to_string(),"recipient_id":WA,"errors":[{"code":131050,"title":"user stopped marketing"}]}]}}]}]})
    .to_string();
    w.deliver(&body);
    let consent = w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "");
    assert_eq!(consent["scope"], "marketing");
    assert_eq!(consent["history"][0]["source"], "send_error");
    let check = w.admin(
        "POST",
        "/v1/consent/check",
        &json!({"wa_ids":[WA, "15550000000"]}).to_string(),
    );
    assert_eq!(check["results"][0]["can_message"], true);
    assert_eq!(check["results"][0]["can_market"], false);
    assert_eq!(check["results"][1]["can_market"], true);
}

#[test]
fn stop_from_a_message_older_than_the_window_records_without_confirming() {
    let w = World::new();
    let (_, outbox) = w.deliver_at(&text("wamid.W1", T0, "STOP"), T0 + 2 * DAY);
    assert!(purposes(&outbox).is_empty());
    let consent = w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "");
    assert_eq!(consent["status"], "opted_out");
}

#[test]
fn erasure_removes_personal_data_and_keeps_the_suppression() {
    let w = World::new();
    w.deliver(&text("wamid.E1", T0, "my address is 1 Main St"));
    w.deliver(&text("wamid.E2", T0 + 1, "STOP"));
    w.fixture("messages/statuses_sent_delivered_read.json");
    let erased = w.admin("DELETE", &format!("/v1/contacts/{WA}"), "");
    assert_eq!(erased["_status"], 200);
    assert_eq!(erased["deleted"]["messages"], 2);
    assert_eq!(erased["deleted"]["statuses"], 3);
    assert_eq!(erased["suppression_kept"], true);
    for key in w.kv.keys() {
        assert!(
            key.starts_with("consent:") || key.starts_with("d:"),
            "{key} survived erasure"
        );
        let (value, _, _) = w.kv.entry(&key).expect("entry");
        assert!(
            !value.contains("Main St") && !value.contains("Ann"),
            "{key}"
        );
    }
    assert_eq!(
        w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "")["status"],
        "opted_out"
    );
    // A redelivery of an erased message does not bring it back.
    w.deliver(&text("wamid.E1", T0, "my address is 1 Main St"));
    assert_eq!(
        w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "")["messages"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

#[test]
fn admin_consent_put_records_off_whatsapp_consent_with_evidence() {
    let w = World::new();
    let bad = w.admin(
        "PUT",
        &format!("/v1/contacts/{WA}/consent"),
        r#"{"status":"opted_in"}"#,
    );
    assert_eq!(
        (bad["_status"].as_u64(), bad["error"].as_str()),
        (Some(400), Some("evidence_required"))
    );
    let ok = w.admin(
        "PUT",
        &format!("/v1/contacts/%2B{WA}/consent"),
        r#"{"status":"opted_out","scope":"marketing","evidence":"phone call, agent 12"}"#,
    );
    assert_eq!(ok["_status"], 200);
    assert_eq!(ok["wa_id"], WA);
    assert_eq!(ok["history"][0]["source"], "admin");
    assert_eq!(ok["history"][0]["evidence"], "phone call, agent 12");
    let check = w.admin(
        "POST",
        "/v1/consent/check",
        &json!({"wa_ids":[format!("+{WA}")]}).to_string(),
    );
    assert_eq!(check["results"][0]["can_market"], false);
    let too_many: Vec<String> = (0..1001).map(|i| format!("1555{i:07}")).collect();
    let refused = w.admin(
        "POST",
        "/v1/consent/check",
        &json!({ "wa_ids": too_many }).to_string(),
    );
    assert_eq!(refused["_status"], 400);
}

#[test]
fn history_pages_newest_first() {
    let w = World::new();
    for i in 0..5u64 {
        w.deliver(&text(&format!("wamid.P{i}"), T0 + i, &format!("m{i}")));
    }
    let first = w.admin("GET", &format!("/v1/contacts/{WA}/messages?limit=2"), "");
    let texts: Vec<&str> = first["messages"]
        .as_array()
        .expect("page")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["m4", "m3"]);
    let cursor = first["next_cursor"].as_str().expect("cursor").to_string();
    let second = w.admin(
        "GET",
        &format!("/v1/contacts/{WA}/messages?limit=2&cursor={cursor}"),
        "",
    );
    assert_eq!(second["messages"][0]["text"], "m2");
    assert_eq!(
        w.admin("GET", &format!("/v1/contacts/{WA}/messages?limit=0"), "")["_status"],
        400
    );
}

#[test]
fn account_signals_are_kept_and_shown() {
    let w = World::new();
    for f in [
        "message_template_status_update/approved.json",
        "message_template_quality_update/downgraded.json",
        "phone_number_quality_update/flagged.json",
        "account_update/violation.json",
        "account_alerts/low_limit.json",
        "messages/errors.json",
    ] {
        assert_eq!(w.fixture(f).0.status, 200, "{f}");
    }
    let account = w.admin("GET", "/v1/account", "");
    assert_eq!(account["quality"][0]["event"], "FLAGGED");
    assert_eq!(account["quality"][0]["messaging_limit"], "TIER_1K");
    assert_eq!(account["templates"][0]["event"], "APPROVED");
    assert_eq!(account["template_quality"][0]["new"], "YELLOW");
    assert_eq!(account["account_updates"][0]["event"], "ACCOUNT_VIOLATION");
    assert_eq!(account["alerts"][0]["severity"], "WARNING");
    assert_eq!(account["errors"][0]["code"], 131000);
}

#[test]
fn missing_secret_is_named_not_a_panic() {
    let w = testing::World::with_config(crate::config::Config::from_lookup(|_| None));
    let (reply, _) = w.deliver_at("{}", T0);
    assert_eq!(reply.status, 500);
    assert!(reply.body.contains("WHATSAPP_APP_SECRET"));
}

#[test]
fn a_large_history_is_erased_in_bounded_steps() {
    let w = World::new();
    let body = |i: u64| {
        json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[
            {"id":format!("wamid.L{i}"),"status":"sent","timestamp":T0.to_string(),"recipient_id":WA}]}}]}]})
        .to_string()
    };
    for i in 0..950 {
        w.deliver(&body(i));
    }
    w.kv.reset_ops();
    let first = w.admin("DELETE", &format!("/v1/contacts/{WA}"), "");
    assert_eq!(
        (
            first["complete"].as_bool(),
            first["deleted"]["statuses"].as_u64()
        ),
        (Some(false), Some(900))
    );
    let ops = w.kv.ops();
    assert!(
        ops.reads + ops.writes + ops.deletes + ops.lists < 1000,
        "{ops:?}"
    );
    let second = w.admin("DELETE", &format!("/v1/contacts/{WA}"), "");
    assert_eq!(
        (
            second["complete"].as_bool(),
            second["deleted"]["statuses"].as_u64()
        ),
        (Some(true), Some(50))
    );
    assert!(w.kv.keys().iter().all(|k| !k.starts_with("c:")));
}

#[test]
fn a_shorter_retention_is_counted_from_the_event() {
    let w = testing::World::new(&[("RETENTION_DAYS", "7")]);
    let event = T0 - 2 * DAY;
    let (reply, _) = w.deliver_at(&text("wamid.R7", event, "hi"), T0);
    assert_eq!(reply.status, 200);
    let record =
        w.kv.keys()
            .into_iter()
            .find(|k| k.starts_with("c:") && k.contains(":m:"))
            .expect("the record");
    let expires = w.kv.entry(&record).and_then(|e| e.1).expect("a TTL").0;
    assert_eq!(expires, event + 7 * DAY);
    // Older than the retention period: acknowledged and not stored at all.
    let (reply, _) = w.deliver_at(&text("wamid.R8", T0 - 7 * DAY + 30, "old"), T0);
    assert_eq!(reply.status, 200);
    let records =
        w.kv.keys()
            .into_iter()
            .filter(|k| k.starts_with("c:") && k.contains(":m:"))
            .count();
    assert_eq!(records, 1);
}

#[test]
fn mark_as_read_can_be_turned_off() {
    let on = testing::World::new(&[]);
    let (_, outbox) = on.deliver_at(&text("wamid.MR1", T0, "hi"), T0 + 1);
    assert!(outbox.iter().any(|o| o.purpose == Purpose::MarkRead));
    let off = testing::World::new(&[("MARK_AS_READ", "false")]);
    let (_, outbox) = off.deliver_at(&text("wamid.MR1", T0, "hi"), T0 + 1);
    assert!(outbox.iter().all(|o| o.purpose != Purpose::MarkRead));
}

#[test]
fn a_message_or_preference_naming_no_one_is_invalid_and_stored_nowhere() {
    let w = World::new();
    // An empty `from` and no card: no person to give it to, so no authority gets it, and the
    // worker neither stores it under an empty contact nor answers it.
    let body = text("wamid.NOONE", T0, "hello")
        .replace(r#""wa_id":"16505551234""#, r#""wa_id":"""#)
        .replace(r#""from":"16505551234""#, r#""from":"""#);
    w.kv.reset_ops();
    let (reply, outbox) = w.deliver(&body);
    assert_eq!(reply.status, 200);
    // Not even read: nothing of a person is needed to count it invalid.
    assert_eq!((w.kv.ops().reads, w.kv.ops().writes), (0, 0));
    let log = reply.log.clone().unwrap_or_default();
    assert!(
        log.contains(r#""stored":0"#) && log.contains(r#""invalid":1"#),
        "{log}"
    );
    assert!(outbox.is_empty());
    assert_eq!(w.kv.keys(), Vec::<String>::new());
    let preference = json!({"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"user_preferences","value":{
        "messaging_product":"whatsapp","metadata":{"phone_number_id":"PNID"},
        "user_preferences":[{"wa_id":"","detail":"User requested to stop marketing messages","category":"marketing_messages","value":"stop","timestamp":T0}]}}]}]})
    .to_string();
    let (reply, _) = w.deliver(&preference);
    assert_eq!(reply.status, 200);
    assert!(reply
        .log
        .clone()
        .unwrap_or_default()
        .contains(r#""invalid":1"#));
    assert_eq!(w.kv.keys(), Vec::<String>::new());
}
