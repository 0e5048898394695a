//! One authority per person, end to end: concurrent deliveries, copies of one delivery, a worker
//! killed mid-load, a Graph API that hangs, and pacing, on real workerd with real Durable
//! Objects and KV.

use crate::harness::*;
use std::sync::{Arc, Barrier};
use std::time::Duration;

/// Sends every body at the same moment (threads released together) and returns the statuses.
pub fn all_at_once(w: &Worker, bodies: Vec<String>) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(bodies.len()));
    std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    barrier.wait();
                    w.deliver(&body).status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}

fn texts_sent(w: &Worker, wa: &str) -> Vec<String> {
    w.sent_to(wa)
        .iter()
        .filter_map(|r| r.body["text"]["body"].as_str().map(str::to_string))
        .collect()
}

fn consent(w: &Worker, wa: &str) -> serde_json::Value {
    w.admin("GET", &format!("/v1/contacts/{wa}/consent"), None)
        .json()
}

#[test]
fn a_newer_stop_and_an_older_start_at_once_always_end_opted_out() {
    let w = worker();
    let t = now();
    let mut contacts = Vec::new();
    let mut bodies = Vec::new();
    for i in 0..20 {
        let wa = contact();
        let stop = messages_delivery(&wa, "Ana", &[text_message(&wa, &message_id(), t, "STOP")]);
        let start = messages_delivery(
            &wa,
            "Ana",
            &[text_message(&wa, &message_id(), t - 5, "START")],
        );
        // Both orders: half the contacts' STOP is sent first, half their START.
        if i % 2 == 0 {
            bodies.extend([stop, start]);
        } else {
            bodies.extend([start, stop]);
        }
        contacts.push(wa);
    }
    let statuses = all_at_once(w, bodies);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    for wa in &contacts {
        let c = consent(w, wa);
        assert_eq!(c["status"], "opted_out", "{c}");
        let history = c["history"].as_array().cloned().unwrap_or_default();
        assert_eq!(history.len(), 2, "both changes are evidence: {c}");
        let texts = texts_sent(w, wa);
        assert_eq!(
            texts,
            vec![OPT_OUT_CONFIRMATION.to_string()],
            "one confirmation, the unsubscribe, and no 'subscribed again'"
        );
        let check = w.admin(
            "POST",
            "/v1/consent/check",
            Some(&format!(r#"{{"wa_ids":["{wa}"]}}"#)),
        );
        assert_eq!(check.json()["results"][0]["can_message"], false);
    }
}

#[test]
fn ten_copies_of_one_stop_get_one_confirmation_and_ten_texts_one_default_reply() {
    let w = worker();
    let wa = contact();
    let stop = messages_delivery(
        &wa,
        "Ana",
        &[text_message(&wa, &message_id(), now(), "STOP")],
    );
    let statuses = all_at_once(w, vec![stop; 10]);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(texts_sent(w, &wa).len(), 1, "exactly one confirmation");
    assert_eq!(w.history(&wa, "inbound").len(), 1, "stored once");

    let other = contact();
    let bodies = (0..10)
        .map(|i| {
            let text = format!("question number {i}");
            messages_delivery(
                &other,
                "Kai",
                &[text_message(&other, &message_id(), now(), &text)],
            )
        })
        .collect();
    let statuses = all_at_once(w, bodies);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let texts = texts_sent(w, &other);
    assert_eq!(
        texts,
        vec![DEFAULT_REPLY.to_string()],
        "exactly one default reply"
    );
    assert_eq!(w.history(&other, "inbound").len(), 10);
}

#[test]
fn a_flood_of_helps_gets_a_few_answers_not_twenty() {
    let w = worker();
    let wa = contact();
    let bodies = (0..20)
        .map(|_| {
            messages_delivery(
                &wa,
                "Ana",
                &[text_message(&wa, &message_id(), now(), "HELP")],
            )
        })
        .collect();
    let statuses = all_at_once(w, bodies);
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let texts = texts_sent(w, &wa);
    assert!(
        !texts.is_empty() && texts.len() <= 10,
        "{} help texts",
        texts.len()
    );
    let actions: Vec<_> = w
        .history(&wa, "inbound")
        .iter()
        .filter_map(|m| m["action"].as_str().map(str::to_string))
        .collect();
    assert_eq!(actions.len(), 20);
    assert!(
        actions.iter().all(|a| a == "help" || a == "help_coalesced"),
        "{actions:?}"
    );
}

#[test]
fn a_confirmation_outlives_a_graph_api_that_hangs_for_40_seconds() {
    let w = worker();
    let wa = contact();
    w.graph
        .script_answers(&wa, vec![Answer::Delay(Duration::from_secs(40))]);
    w.say(&wa, "STOP");
    // Settled: the send waited the 40 s and was answered; nothing was retried meanwhile.
    let sent = w.sent_to(&wa);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let out = w.history(&wa, "outbound");
    assert_eq!(out.len(), 1, "recorded once: {out:?}");
    assert_eq!(out[0]["purpose"], "opt_out_confirmation");
    assert!(out[0].get("errors").is_none(), "{out:?}");
}

#[test]
fn a_worker_killed_under_a_load_of_stops_confirms_each_once_after_restart() {
    let graph = FakeGraph::start();
    let persist = std::env::temp_dir().join(format!("wa-edge-e2e-crash-{}", unique()));
    // Sends interrupted by the kill wait 20 s (not 5 minutes) for Meta's status before going
    // again: longer than the worker takes to restart, so a status Meta redelivers to the new
    // worker arrives first, as it would with the default.
    let quick = [("UNCONFIRMED_SEND_RETRY_SECONDS", "20")];
    let first = start(graph.clone(), persist.clone(), &quick);
    graph.echo_statuses_to(&first.base);
    let contacts: Vec<String> = (0..30).map(|_| contact()).collect();
    for wa in &contacts {
        // Meta's pair limit refuses each confirmation's first try: the kill finds sends waiting,
        // leaving and unanswered.
        graph.fail_next(wa, 131056);
    }
    let t = now();
    let bodies: Vec<String> = contacts
        .iter()
        .map(|wa| {
            messages_delivery(
                wa,
                "Ana",
                &[text_message(wa, &format!("wamid.CRASH{wa}"), t, "STOP")],
            )
        })
        .collect();
    // The load goes out at once; the worker is killed while it is being answered.
    std::thread::scope(|scope| {
        let sending = scope.spawn(|| {
            for body in &bodies {
                let _ = request(
                    "POST",
                    &format!("{}/webhook", first.base),
                    &[(
                        "X-Hub-Signature-256",
                        &wa_edge::webhook::signature::sign(APP_SECRET.as_bytes(), body.as_bytes()),
                    )],
                    body.as_bytes(),
                );
            }
        });
        // Bounded: kill as soon as some confirmations have gone out (or after 10 s).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while contacts
            .iter()
            .filter(|wa| !graph.requests_to(wa).is_empty())
            .count()
            < 3
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        first.kill();
        let _ = sending.join();
    });
    // Restart on the same storage and redeliver everything, as Meta would.
    let second = start(graph.clone(), persist, &quick);
    graph.echo_statuses_to(&second.base);
    for body in &bodies {
        assert_eq!(second.deliver(body).status, 200);
    }
    for wa in &contacts {
        let c = second
            .admin("GET", &format!("/v1/contacts/{wa}/consent"), None)
            .json();
        assert_eq!(c["status"], "opted_out", "{c}");
        second.settle(wa);
        let confirmations = graph.requests_to(wa).iter().filter(|r| r.accepted).count();
        assert_eq!(confirmations, 1, "each contact confirmed exactly once");
    }
    second.kill();
}

#[test]
fn a_confirmation_whose_answer_never_came_is_sent_once_as_metas_statuses_tell() {
    let graph = FakeGraph::start();
    let persist = std::env::temp_dir().join(format!("wa-edge-e2e-lost-{}", unique()));
    let w = start(
        graph.clone(),
        persist,
        &[("UNCONFIRMED_SEND_RETRY_SECONDS", "5")],
    );
    graph.echo_statuses_to(&w.base);
    // Meta took one and the answer was lost on the way back; one more, and its status came
    // back before the broken answer did; the last never reached Meta.
    let (reached, overtaken, lost) = (contact(), contact(), contact());
    graph.script_answers(&reached, vec![Answer::Lost]);
    graph.script_answers(&overtaken, vec![Answer::StatusFirst]);
    graph.script_answers(&lost, vec![Answer::Close]);
    for wa in [&reached, &overtaken, &lost] {
        w.say(wa, "STOP");
    }
    for (wa, tries) in [(&reached, 1), (&overtaken, 1), (&lost, 2)] {
        let sent = w.sent_to(wa);
        assert_eq!(sent.len(), tries, "{sent:?}");
        assert_eq!(sent.iter().filter(|r| r.accepted).count(), 1, "{sent:?}");
        let out = w.history(wa, "outbound");
        assert_eq!(out.len(), 1, "recorded once: {out:?}");
        assert_eq!(out[0]["purpose"], "opt_out_confirmation");
        assert!(out[0].get("errors").is_none(), "recorded as sent: {out:?}");
    }
    w.kill();
}
