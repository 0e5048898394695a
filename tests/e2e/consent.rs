//! The consent engine through the real worker: confirmations reach the fake Graph API once.

use crate::harness::*;
use serde_json::json;

fn consent(w: &Worker, wa: &str) -> serde_json::Value {
    let r = w.admin("GET", &format!("/v1/contacts/{wa}/consent"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn stop_sends_exactly_one_confirmation_then_silence_until_start() {
    let w = worker();
    let wa = contact();
    let stop = w.say(&wa, "STOP");
    let sent = w.sent_to(&wa);
    assert_eq!(sent.len(), 1);
    let confirmation = &sent[0];
    assert_eq!(confirmation.method, "POST");
    assert_eq!(
        confirmation.path,
        format!("/v24.0/{}/messages", number_for(&wa))
    );
    assert_eq!(
        confirmation.authorization.as_deref(),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    assert_eq!(confirmation.body["type"], "text");
    assert_eq!(confirmation.body["context"]["message_id"], stop.as_str());
    let text = confirmation.body["text"]["body"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("START"),
        "the confirmation says how to opt back in: {text}"
    );
    assert_eq!(consent(w, &wa)["status"], "opted_out");

    // A second STOP and an ordinary message: recorded, nothing sent.
    let again = w.say(&wa, "stop please!!");
    let chat = w.say(&wa, "hello?");
    assert_eq!(w.action_of(&wa, &again).as_deref(), Some("opted_out"));
    assert_eq!(
        w.action_of(&wa, &chat).as_deref(),
        Some("no_reply_opted_out")
    );
    // HELP is still answered; once it arrives, everything sent before it has arrived too.
    w.say(&wa, "HELP");
    let sent = w.sent_to(&wa);
    assert_eq!(
        sent.len(),
        2,
        "only the confirmation and the help text: {sent:?}"
    );
    assert!(sent[1].body["text"]["body"]
        .as_str()
        .unwrap_or_default()
        .contains("555-0100"));

    w.say(&wa, "START");
    let sent = w.sent_to(&wa);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].body["text"]["body"], OPT_IN_CONFIRMATION);
    assert_eq!(consent(w, &wa)["status"], "opted_in");
    // The confirmations are part of the contact's history once Meta accepted them.
    w.settle(&wa);
    assert_eq!(w.history(&wa, "outbound").len(), 3);
}

#[test]
fn localised_and_led_keywords_opt_out_but_conversation_does_not() {
    let w = worker();
    for text in [
        "Parar",
        "ARRÊT",
        "abmelden",
        "🛑 stop 🛑",
        "unsubscribe me please",
    ] {
        let wa = contact();
        w.say(&wa, text);
        assert_eq!(consent(w, &wa)["status"], "opted_out", "{text}");
        assert_eq!(w.sent_to(&wa).len(), 1, "{text}");
    }
    let wa = contact();
    let id = w.say(&wa, "I'll stop by the store later");
    assert_eq!(consent(w, &wa)["status"], "unknown");
    // Conversation, so it gets the ordinary default reply.
    assert_eq!(w.action_of(&wa, &id).as_deref(), Some("default_reply"));
}

#[test]
fn stop_promotions_button_and_user_preferences_record_marketing_opt_outs() {
    let w = worker();
    let wa = contact();
    let button = json!({"from":wa,"id":message_id(),"timestamp":now().to_string(),"type":"button",
        "button":{"payload":"Stop promotions","text":"Stop promotions"},"context":{"from":"15550009999","id":"wamid.TEMPLATE"}});
    assert_eq!(
        w.deliver(&messages_delivery(&wa, "Ana", &[button])).status,
        200
    );
    let c = consent(w, &wa);
    assert_eq!(
        (
            c["status"].as_str(),
            c["scope"].as_str(),
            c["history"][0]["source"].as_str()
        ),
        (Some("opted_out"), Some("marketing"), Some("button"))
    );

    let other = contact();
    let prefs = |value: &str, at: u64| {
        json!({"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"field":"user_preferences","value":{
            "messaging_product":"whatsapp","metadata":{"phone_number_id":number_for(&other)},
            "user_preferences":[{"wa_id":other,"detail":"d","category":"marketing_messages","value":value,"timestamp":at}]}}]}]})
        .to_string()
    };
    let t = now();
    assert_eq!(w.deliver(&prefs("stop", t)).status, 200);
    let c = consent(w, &other);
    assert_eq!(
        (c["status"].as_str(), c["scope"].as_str()),
        (Some("opted_out"), Some("marketing"))
    );
    assert_eq!(c["history"][0]["source"], "user_preferences");
    let check = w
        .admin(
            "POST",
            "/v1/consent/check",
            Some(&json!({ "wa_ids": [other.clone()] }).to_string()),
        )
        .json();
    assert_eq!(
        (
            check["results"][0]["can_message"].as_bool(),
            check["results"][0]["can_market"].as_bool()
        ),
        (Some(true), Some(false))
    );
    assert_eq!(w.deliver(&prefs("resume", t + 1)).status, 200);
    assert_eq!(consent(w, &other)["status"], "opted_in");
    // Neither path sends anything: Meta confirms its own controls.
    assert!(w.sent_to(&wa).is_empty() && w.sent_to(&other).is_empty());
}

#[test]
fn an_older_start_replayed_after_a_newer_stop_changes_nothing() {
    let w = worker();
    let wa = contact();
    let t = now();
    let start = messages_delivery(
        &wa,
        "Ana",
        &[text_message(&wa, &message_id(), t - 60, "START")],
    );
    let stop = messages_delivery(&wa, "Ana", &[text_message(&wa, &message_id(), t, "STOP")]);
    assert_eq!(w.deliver(&stop).status, 200);
    assert_eq!(w.deliver(&start).status, 200);
    let c = consent(w, &wa);
    assert_eq!(c["status"], "opted_out");
    assert_eq!(c["history"].as_array().map(Vec::len), Some(2));
    assert_eq!(c["history"][0]["applied"], false);
    // One opt-out confirmation, no opt-in confirmation.
    let sent = w.sent_to(&wa);
    assert_eq!(sent.len(), 1);
}

#[test]
fn erasure_keeps_the_suppression_and_the_bulk_check_sees_it() {
    let w = worker();
    let wa = contact();
    let fine = contact();
    w.say(&wa, "my card ends 4242");
    w.say(&wa, "STOP");
    let r = w
        .admin("DELETE", &format!("/v1/contacts/{wa}"), None)
        .json();
    assert_eq!(r["suppression_kept"], true);
    let c = consent(w, &wa);
    assert_eq!(c["status"], "opted_out");
    assert!(!c.to_string().contains("4242") && !c.to_string().contains("Ana"));
    let ids: Vec<String> = std::iter::once(wa.clone())
        .chain(std::iter::once(fine.clone()))
        .chain((0..250).map(|_| contact()))
        .collect();
    let check = w.admin(
        "POST",
        "/v1/consent/check",
        Some(&json!({ "wa_ids": ids }).to_string()),
    );
    assert_eq!(check.status, 200, "{}", check.body);
    let results = check.json()["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), 252);
    assert_eq!(
        (
            results[0]["can_message"].as_bool(),
            results[0]["can_market"].as_bool()
        ),
        (Some(false), Some(false))
    );
    assert!(results[1..]
        .iter()
        .all(|r| r["can_message"] == true && r["can_market"] == true));
}

#[test]
fn admin_records_consent_given_off_whatsapp() {
    let w = worker();
    let wa = contact();
    let body = json!({"status":"opted_in","scope":"all","evidence":"website checkbox, order 1234"})
        .to_string();
    let r = w.admin("PUT", &format!("/v1/contacts/{wa}/consent"), Some(&body));
    assert_eq!(r.status, 200, "{}", r.body);
    let c = consent(w, &wa);
    assert_eq!(c["status"], "opted_in");
    assert_eq!(c["history"][0]["source"], "admin");
    assert_eq!(c["history"][0]["evidence"], "website checkbox, order 1234");
    let bad = w.admin(
        "PUT",
        &format!("/v1/contacts/{wa}/consent"),
        Some(r#"{"status":"maybe"}"#),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "invalid_body");
}

#[test]
fn a_131050_answer_to_a_send_records_a_marketing_opt_out() {
    let w = worker();
    let wa = contact();
    w.graph.fail_next(&wa, 131050);
    w.say(&wa, "HELP");
    // Settled: the refusal has been answered and recorded.
    assert_eq!(w.sent_to(&wa).len(), 1);
    let c = consent(w, &wa);
    assert_eq!(c["status"], "opted_out");
    assert_eq!(c["scope"], "marketing");
    assert_eq!(c["history"][0]["source"], "send_error");
}
