//! Auto-replies, Meta's error codes and the guarded send API through the real worker.

use crate::harness::*;
use serde_json::json;
use std::time::Duration;

fn send_api(w: &Worker, body: serde_json::Value) -> HttpResponse {
    w.admin("POST", "/v1/messages", Some(&body.to_string()))
}

#[test]
fn a_message_in_the_window_gets_one_reply_with_the_right_body_and_token() {
    let w = worker();
    let wa = contact();
    let id = w.say_at(&wa, now(), "What are your opening hours?");
    let sent = w.graph.wait_for(&wa, 1);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["text"]["body"], "E2E: open 9 to 5.");
    assert_eq!(sent[0].body["context"]["message_id"], id.as_str());
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    assert_eq!(w.action_of(&wa, &id).as_deref(), Some("auto_reply:hours"));
    // The message was also marked as read (a status call, not a message to the contact).
    eventually("mark-as-read", || w.graph.read_receipts(&id) == 1);
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
    assert_eq!(w.graph.requests_to(&wa).len(), 1);
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
    assert!(w.graph.requests_to(&wa).is_empty());
    let r = send_api(
        w,
        json!({"to": wa, "text": "late answer", "from": PHONE_NUMBER_ID}),
    );
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["error"], "window_closed");
}

#[test]
fn the_default_reply_is_paced_and_then_cooled_down() {
    let w = worker();
    let wa = contact();
    w.say_at(&wa, now(), "hi there");
    assert_eq!(w.graph.wait_for(&wa, 1).len(), 1);
    let paced = w.say_at(&wa, now(), "anyone?");
    assert_eq!(w.action_of(&wa, &paced).as_deref(), Some("no_reply_paced"));
    // Past Meta's 6 s pair interval (a policy interval, not a race): the cooldown still holds.
    std::thread::sleep(Duration::from_secs(7));
    let cooled = w.say_at(&wa, now(), "hello again");
    assert_eq!(
        w.action_of(&wa, &cooled).as_deref(),
        Some("no_reply_cooldown")
    );
    assert_eq!(w.graph.requests_to(&wa).len(), 1);
}

#[test]
fn an_opted_out_contact_gets_nothing() {
    let w = worker();
    let wa = contact();
    w.say_at(&wa, now(), "STOP");
    assert_eq!(w.graph.wait_for(&wa, 1).len(), 1, "the confirmation");
    let id = w.say_at(&wa, now(), "opening hours?");
    assert_eq!(w.action_of(&wa, &id).as_deref(), Some("no_reply_opted_out"));
    let r = send_api(w, json!({"to": wa, "text": "special offer"}));
    assert_eq!(r.status, 409);
    assert_eq!(r.json()["error"], "opted_out");
    assert_eq!(w.graph.requests_to(&wa).len(), 1);
}

#[test]
fn meta_131047_closes_the_window_for_the_send_api() {
    let w = worker();
    let wa = contact();
    w.graph.fail_next(&wa, 131047);
    w.say_at(&wa, now(), "opening hours?");
    assert_eq!(w.graph.wait_for(&wa, 1).len(), 1);
    eventually("window closed", || {
        send_api(w, json!({"to": wa, "text": "x"})).status == 422
    });
}

#[test]
fn meta_131056_is_retried_after_a_pause_and_5xx_once() {
    let w = worker();
    let wa = contact();
    w.graph.fail_next(&wa, 131056);
    w.say_at(&wa, now(), "opening hours?");
    assert_eq!(
        w.graph.wait_for(&wa, 2).len(),
        2,
        "retried after the 1 s wait"
    );
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
    eventually("the failure recorded", || {
        let h = w
            .admin("GET", &format!("/v1/contacts/{other}/messages"), None)
            .json();
        h["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["action"] == "not_sent"))
    });
    assert_eq!(w.graph.requests_to(&other).len(), 2, "one retry, no more");
}

#[test]
fn meta_131048_pauses_sending_until_a_person_resumes() {
    let w = worker();
    let wa = contact();
    w.graph.fail_next(&wa, 131048);
    w.say_at(&wa, now(), "opening hours?");
    eventually("pause shown", || {
        w.admin("GET", "/v1/account", None).json()["paused"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    });
    let other = contact();
    let id = w.say_at(&other, now(), "opening hours?");
    assert_eq!(
        w.action_of(&other, &id).as_deref(),
        Some("no_reply_number_paused")
    );
    let r = w.admin("DELETE", "/v1/account/pause", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["resumed"], 1);
    let third = contact();
    w.say_at(&third, now(), "opening hours?");
    assert_eq!(w.graph.wait_for(&third, 1).len(), 1);
}

#[test]
fn the_send_api_sends_inside_the_window_and_records_it() {
    let w = worker();
    let wa = contact();
    w.say_at(&wa, now(), "STOP");
    w.say_at(&wa, now(), "START");
    assert_eq!(w.graph.wait_for(&wa, 2).len(), 2);
    // The confirmations just went out: Meta's pair rate applies to the API too.
    let r = send_api(w, json!({"to": wa, "text": "Your order shipped"}));
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.json()["retry_after_seconds"].as_u64().is_some());
    std::thread::sleep(Duration::from_secs(7));
    let r = send_api(w, json!({"to": wa, "text": "Your order shipped"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap_or_default().to_string();
    assert!(id.starts_with("wamid.FAKEOUT"));
    let sent = w.graph.requests_to(&wa);
    assert_eq!(
        sent.last().map(|s| s.body["text"]["body"].clone()),
        Some(json!("Your order shipped"))
    );
    let h = w
        .admin("GET", &format!("/v1/contacts/{wa}/messages"), None)
        .json();
    assert!(h["messages"].as_array().is_some_and(|m| m
        .iter()
        .any(|m| m["id"] == id.as_str() && m["purpose"] == "api")));
    let bad = send_api(w, json!({"to": wa}));
    assert_eq!(bad.status, 400);
}
