//! Auto-replies, Meta's error codes and the guarded send API through the real worker.

use crate::harness::*;
use serde_json::json;

fn send_api(w: &Worker, body: serde_json::Value) -> HttpResponse {
    w.admin("POST", "/v1/messages", Some(&body.to_string()))
}

#[test]
fn a_message_in_the_window_gets_one_reply_with_the_right_body_and_token() {
    let w = worker();
    let wa = contact();
    let id = w.say_at(&wa, now(), "What are your opening hours?");
    let sent = w.sent_to(&wa);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["text"]["body"], "E2E: open 9 to 5.");
    assert_eq!(sent[0].body["context"]["message_id"], id.as_str());
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    assert_eq!(w.action_of(&wa, &id).as_deref(), Some("auto_reply:hours"));
    // The message was also marked as read (a status call, not a message to the contact).
    w.settle(&wa);
    assert_eq!(w.graph.read_receipts(&id), 1);
    // A redelivery of the same message sends nothing more.
    let again = messages_delivery(
        &wa,
        "Kai",
        &[text_message(
            &wa,
            &id,
            now(),
            "What are your opening hours?",
        )],
    );
    assert_eq!(w.deliver(&again).status, 200);
    assert_eq!(w.action_of(&wa, &id).as_deref(), Some("auto_reply:hours"));
    assert_eq!(w.sent_to(&wa).len(), 1);
}

#[test]
fn a_message_25_hours_old_gets_no_reply() {
    let w = worker();
    let wa = contact();
    let id = w.say_at(&wa, now() - 25 * 3600, "opening hours?");
    // Decided and recorded before the 200: nothing was queued, so nothing can be sent later.
    assert_eq!(
        w.action_of(&wa, &id).as_deref(),
        Some("no_reply_window_closed")
    );
    assert!(w.sent_to(&wa).is_empty());
    let r = send_api(
        w,
        json!({"to": wa, "text": "late answer", "from": number_for(&wa)}),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"], "window_closed");
}

#[test]
fn the_default_reply_is_cooled_down() {
    let w = worker();
    let wa = contact();
    w.say_at(&wa, now(), "hi there");
    assert_eq!(w.sent_to(&wa).len(), 1);
    let cooled = w.say_at(&wa, now(), "anyone?");
    assert_eq!(
        w.action_of(&wa, &cooled).as_deref(),
        Some("no_reply_cooldown")
    );
    assert_eq!(w.sent_to(&wa).len(), 1);
}

#[test]
fn an_opted_out_contact_gets_nothing() {
    let w = worker();
    let wa = contact();
    w.say_at(&wa, now(), "STOP");
    assert_eq!(w.sent_to(&wa).len(), 1, "the confirmation");
    let id = w.say_at(&wa, now(), "opening hours?");
    assert_eq!(w.action_of(&wa, &id).as_deref(), Some("no_reply_opted_out"));
    let r = send_api(w, json!({"to": wa, "text": "special offer"}));
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["error"], "opted_out");
    assert_eq!(w.sent_to(&wa).len(), 1);
}

#[test]
fn meta_131047_closes_the_window_for_the_send_api() {
    let w = worker();
    let wa = contact();
    w.graph.fail_next(&wa, 131047);
    w.say_at(&wa, now(), "opening hours?");
    assert_eq!(w.sent_to(&wa).len(), 1);
    let r = send_api(w, json!({"to": wa, "text": "x"}));
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["error"], "window_closed");
}

#[test]
fn meta_131056_is_retried_after_a_pause_and_5xx_once() {
    let w = worker();
    let wa = contact();
    w.graph.fail_next(&wa, 131056);
    w.say_at(&wa, now(), "opening hours?");
    assert_eq!(w.sent_to(&wa).len(), 2, "retried after the 1 s wait");
    let other = contact();
    w.graph.script(
        &other,
        &[
            (
                503,
                r#"{"error":{"message":"Service unavailable","code":1}}"#,
            ),
            (503, r#"{"error":{"code":1}}"#),
        ],
    );
    w.say_at(&other, now(), "opening hours?");
    assert_eq!(w.sent_to(&other).len(), 2, "one retry, no more");
    let failed = w.history(&other, "outbound");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["action"], "not_sent");
}

#[test]
fn meta_131048_pauses_sending_until_a_person_resumes() {
    let w = worker();
    let wa = contact();
    let number = number_for(&wa);
    w.graph.fail_next(&wa, 131048);
    w.say_at(&wa, now(), "opening hours?");
    w.settle(&wa);
    let paused = w.admin("GET", "/v1/account", None).json()["paused"].clone();
    assert!(
        paused
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["phone_number_id"] == number.as_str())),
        "{paused}"
    );
    // Another person writing to the same number gets no automatic reply; the send API refuses.
    let other = contact();
    let id = w.say_to(&number, &other, now(), "opening hours?");
    assert_eq!(
        w.action_of(&other, &id).as_deref(),
        Some("no_reply_number_paused")
    );
    let r = send_api(w, json!({"to": other, "text": "hello", "from": number}));
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "number_paused");
    assert!(w.sent_to(&other).is_empty());
    let r = w.admin("DELETE", "/v1/account/pause", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["resumed"], 1);
    let third = contact();
    w.say_to(&number, &third, now(), "opening hours?");
    assert_eq!(w.sent_to(&third).len(), 1, "sending resumed on that number");
}

#[test]
fn the_send_api_sends_inside_the_window_and_records_it() {
    let w = worker();
    let wa = contact();
    w.say_at(&wa, now(), "STOP");
    w.say_at(&wa, now(), "START");
    // A confirmation goes only while what it confirms is in force: the unsubscribe went out
    // only if it left before the START arrived; the subscribe always does.
    let confirmations = w.sent_to(&wa);
    assert!((1..=2).contains(&confirmations.len()), "{confirmations:?}");
    let last = confirmations.last().map(|c| c.body["text"]["body"].clone());
    assert_eq!(last, Some(json!(OPT_IN_CONFIRMATION)));
    // The confirmations just went out; an agent's message right after them is not refused:
    // Meta's pair rate allows a burst.
    let r = send_api(w, json!({"to": wa, "text": "Your order shipped"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap_or_default().to_string();
    assert!(id.starts_with("wamid.FAKEOUT"));
    // The bucket holds 10: with the two confirmations and this one, seven more fit.
    let mut accepted = 0;
    let refused = loop {
        let r = send_api(w, json!({"to": wa, "text": format!("update {accepted}")}));
        if r.status != 200 {
            break r;
        }
        accepted += 1;
        assert!(accepted <= 10, "the bucket never emptied");
    };
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert!(
        (6..=8).contains(&accepted),
        "{accepted} more before the bucket emptied"
    );
    let wait = refused.json()["retry_after_seconds"].as_u64().unwrap_or(0);
    assert!((1..=6).contains(&wait), "{wait}");
    let sent = w.sent_to(&wa);
    assert!(sent
        .iter()
        .any(|s| s.body["text"]["body"] == json!("Your order shipped")));
    let h = w
        .admin("GET", &format!("/v1/contacts/{wa}/messages"), None)
        .json();
    assert!(h["messages"].as_array().is_some_and(|m| m
        .iter()
        .any(|m| m["id"] == id.as_str() && m["purpose"] == "api")));
    let bad = send_api(w, json!({"to": wa}));
    assert_eq!(bad.status, 400);
}
