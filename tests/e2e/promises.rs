//! What the README promises and no other suite shows through the real worker: Meta's error codes
//! as behaviour, erasure of consent with no opt-out, the future-timestamp clamp, the WebCrypto
//! switch for large bodies, and a log without phone numbers or message text.

use crate::harness::*;
use serde_json::json;

/// A utility template through the send API: needs no open window and no earlier message.
fn send_template(w: &Worker, wa: &str) -> HttpResponse {
    let body = json!({"to": wa, "from": number_for(wa), "category": "utility",
        "template": {"name": "order_update", "language": "en_US"}});
    w.admin("POST", "/v1/messages", Some(&body.to_string()))
}

/// The HTTP status a scripted answer's label names (`None`: no answer at all).
fn answer_of(label: &str) -> Option<u16> {
    label
        .strip_prefix("Respond(")
        .and_then(|rest| rest.split(',').next())
        .and_then(|s| s.parse().ok())
}

#[test]
fn the_send_api_answers_each_meta_error_as_documented() {
    let w = worker();
    // (Meta's answer, status, error code, Graph calls made: 2 only where one retry is promised)
    let cases: Vec<(Answer, u16, &str, usize)> = vec![
        (
            Answer::Respond(400, meta_error(130429)),
            429,
            "rate_limited",
            1,
        ),
        (Answer::Respond(400, meta_error(4)), 429, "rate_limited", 1),
        (
            Answer::Respond(400, meta_error(80007)),
            429,
            "rate_limited",
            1,
        ),
        (
            Answer::Respond(400, meta_error(131049)),
            429,
            "marketing_limit",
            1,
        ),
        (
            Answer::Respond(400, meta_error(130403)),
            409,
            "undeliverable",
            1,
        ),
        (Answer::Respond(401, meta_error(0)), 502, "access_token", 1),
        (Answer::Respond(403, meta_error(10)), 502, "access_token", 1),
        (Answer::Respond(500, meta_error(1)), 502, "graph_error", 2),
        (Answer::Respond(500, meta_error(2)), 502, "graph_error", 2),
        (
            Answer::Respond(500, meta_error(131000)),
            502,
            "graph_error",
            2,
        ),
        (Answer::Close, 504, "graph_unreachable", 1),
    ];
    for (answer, status, code, calls) in cases {
        let wa = contact();
        let label = format!("{answer:?}");
        // A retried error fails its retry the same way.
        w.graph.script_answers(&wa, vec![answer.clone(), answer]);
        let r = send_template(w, &wa);
        assert_eq!(r.status, status, "{label}: {}", r.body);
        assert_eq!(r.json()["error"], code, "{label}");
        assert_eq!(w.sent_to(&wa).len(), calls, "{label}");
        let recorded = w.history(&wa, "outbound");
        assert_eq!(recorded.len(), 1, "{label}: the attempt is in the history");
        // No answer may have gone out: recorded as unknown, with HTTP status 0 and no code
        // (0 is a real Meta code); an error Meta answered is not sent, with its status.
        let (action, http_status) = match &answer_of(&label) {
            Some(status) => ("not_sent", *status),
            None => ("unknown", 0),
        };
        assert_eq!(recorded[0]["action"], action, "{label}");
        assert_eq!(recorded[0]["http_status"], http_status, "{label}");
        if http_status == 0 {
            assert!(
                recorded[0].get("errors").is_none(),
                "{label}: {}",
                recorded[0]
            );
        }
    }
}

#[test]
fn an_undeliverable_contact_is_not_tried_again_and_token_problems_show() {
    let w = worker();
    let wa = contact();
    w.graph.fail_next(&wa, 130403);
    assert_eq!(send_template(w, &wa).status, 409);
    let again = send_template(w, &wa);
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.json()["code"], 130403);
    assert_eq!(w.sent_to(&wa).len(), 1, "refused before any Graph call");

    let other = contact();
    w.graph.script(&other, &[(401, &meta_error(190))]);
    assert_eq!(send_template(w, &other).status, 502);
    let account = w.admin("GET", "/v1/account", None).json();
    assert!(
        account["token_problems"]
            .as_array()
            .is_some_and(|t| t.iter().any(|p| p["code"] == 190)),
        "{account}"
    );
}

#[test]
fn throttling_backs_off_once() {
    let w = worker();
    let wa = contact();
    w.graph.fail_next(&wa, 130429);
    w.say(&wa, "opening hours?");
    let sent = w.sent_to(&wa);
    assert_eq!(sent.len(), 2, "one retry after the back-off");
    assert_eq!(w.history(&wa, "outbound")[0]["purpose"], "auto_reply");
    assert!(w.history(&wa, "outbound")[0].get("errors").is_none());
}

#[test]
fn erasure_deletes_consent_with_no_opt_out_in_force_and_keeps_an_opt_out() {
    let w = worker();
    let wa = contact();
    w.say(&wa, "STOP");
    w.say(&wa, "START");
    w.settle(&wa);
    let r = w
        .admin("DELETE", &format!("/v1/contacts/{wa}"), None)
        .json();
    assert_eq!(r["complete"], true);
    assert_eq!(r["suppression_kept"], false);
    let c = w
        .admin("GET", &format!("/v1/contacts/{wa}/consent"), None)
        .json();
    assert_eq!(c["status"], "unknown");
    assert_eq!(c["history"], json!([]));
    let key = format!("consent:{}", w.contact_key(&wa));
    assert!(!w.kv_keys().iter().any(|k| k.name == key));

    let out = contact();
    w.say(&out, "STOP");
    w.settle(&out);
    let r = w
        .admin("DELETE", &format!("/v1/contacts/{out}"), None)
        .json();
    assert_eq!(r["suppression_kept"], true);
    let c = w
        .admin("GET", &format!("/v1/contacts/{out}/consent"), None)
        .json();
    assert_eq!(c["status"], "opted_out");
}

#[test]
fn a_timestamp_from_the_future_counts_from_arrival() {
    let w = worker();
    let wa = contact();
    let id = message_id();
    let arrival = now();
    let body = messages_delivery(
        &wa,
        "Ana",
        &[text_message(&wa, &id, arrival + 86_400, "hi")],
    );
    assert_eq!(w.deliver(&body).status, 200);
    let key = w.message_key(&wa, &id);
    let record = w
        .kv_keys()
        .into_iter()
        .find(|k| k.name == key)
        .expect("record");
    let expires = record.expiration.expect("a TTL");
    // 30 days from arrival (a few seconds of slack for the request), never from the future.
    assert!(
        expires >= arrival + 30 * 86_400 && expires <= arrival + 30 * 86_400 + 10,
        "expires {expires}, arrival {arrival}"
    );
}

#[test]
fn bodies_of_16_kib_or_more_are_verified_by_webcrypto() {
    let w = worker();
    let wa = contact();
    let small = messages_delivery(
        &wa,
        "Ana",
        &[text_message(&wa, &message_id(), now(), "small")],
    );
    let from = w.log_text().len();
    assert_eq!(w.deliver(&small).status, 200);
    let line = w.log_after(from, "verified by");
    assert!(line.contains("verified by rust"), "{line}");

    let long = "x".repeat(20 * 1024);
    let large = messages_delivery(
        &wa,
        "Ana",
        &[text_message(&wa, &message_id(), now(), &long)],
    );
    let from = w.log_text().len();
    assert_eq!(w.deliver(&large).status, 200);
    let line = w.log_after(from, "verified by");
    assert!(line.contains("verified by webcrypto"), "{line}");
}

#[test]
fn the_log_holds_no_phone_number_and_no_message_text() {
    let w = worker();
    let wa = contact();
    let secret_text = format!("my card ends in {}", unique());
    w.say(&wa, &secret_text);
    w.say(&wa, "STOP");
    w.graph.fail_next(&wa, 131026);
    w.say(&wa, "HELP");
    // Looked up with the id in the body, as the README recommends: then not even wrangler's
    // own access log of request paths holds the number.
    let consent = w.lookup(&wa, "consent");
    assert_eq!(consent.json()["status"], "opted_out", "{}", consent.body);
    w.settle(&wa);
    let from = 0;
    let text = w.log_after(from, "help");
    assert!(!text.contains(&wa), "a phone number in the log");
    let worker_lines: Vec<&str> = text.lines().filter(|l| !l.contains("[wrangler:")).collect();
    assert!(
        worker_lines.iter().any(|l| l.contains("delivery")),
        "{text}"
    );
    for line in &worker_lines {
        assert!(!line.contains(&wa), "a phone number in the log: {line}");
        assert!(
            !line.contains(&secret_text),
            "message text in the log: {line}"
        );
        assert!(!line.contains(ACCESS_TOKEN), "the token in the log: {line}");
    }
}
