//! Failures injected on every storage operation of a delivery, in the person's authority and in
//! KV: a delivery that fails answers 500 and changes nothing (the authority commits in one atomic
//! write), a KV write that fails after the commit is left queued and written by the alarm, and
//! in every case the record is stored once and the reply sent once.

use crate::authority::outbox;
use crate::send::Purpose;
use crate::store::kv::KvError;
use crate::testing::payloads::{messages_delivery, status, statuses_delivery, text_message};
use crate::testing::{block_on, KvOps, World};

const T0: u64 = 1_732_000_000;
const WA: &str = "16505550199";
const ID: &str = "wamid.FAULT1";

fn world() -> World {
    World::new(&[
        ("DEFAULT_REPLY", "Thanks, a person will answer."),
        ("MARK_AS_READ", "false"),
    ])
}

fn total(ops: KvOps) -> u32 {
    ops.reads + ops.writes + ops.deletes + ops.lists
}

/// What reached the Graph API in reply to the message.
fn replies(w: &World) -> Vec<serde_json::Value> {
    w.graph
        .bodies()
        .into_iter()
        .filter(|b| b["context"]["message_id"] == ID)
        .collect()
}

fn inbound_records(w: &World) -> usize {
    let (_, h) = w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "", T0 + 100);
    h["messages"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["direction"] == "inbound").count())
        .unwrap_or(0)
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Authority(u32),
    Kv(u32),
}

fn every_failure_point_then_retry(text: &str, expected: Purpose) {
    let body = messages_delivery("PNID", WA, "Ann", &[text_message(WA, ID, T0, text)]);
    let probe = world();
    let store = probe.store_of(WA);
    let (ok, outbox) = probe.deliver_at(&body, T0 + 1);
    assert_eq!(ok.status, 200);
    assert_eq!(
        outbox.iter().map(|o| o.purpose).collect::<Vec<_>>(),
        vec![expected]
    );
    let (local_ops, kv_ops) = (total(store.ops()), total(probe.kv.ops()));
    assert!(local_ops >= 2 && kv_ops >= 2, "{local_ops} {kv_ops}");
    let targets = (1..=local_ops)
        .map(Target::Authority)
        .chain((1..=kv_ops).map(Target::Kv));
    for target in targets {
        let w = world();
        let error = KvError::Unavailable("injected".into());
        match target {
            Target::Authority(n) => w.store_of(WA).fail_nth(n, error),
            Target::Kv(n) => w.kv.fail_nth(n, error),
        }
        let (first, _) = w.deliver_at(&body, T0 + 1);
        if first.status == 500 {
            assert!(
                replies(&w).is_empty(),
                "{target:?}: nothing sent from a failed delivery"
            );
            let (retried, _) = w.deliver_at(&body, T0 + 2);
            assert_eq!(retried.status, 200, "{target:?}: Meta's retry");
        } else {
            assert_eq!(first.status, 200, "{target:?}");
        }
        w.send_until(T0 + 2, T0 + 10);
        let (again, _) = w.deliver_at(&body, T0 + 11);
        assert_eq!(again.status, 200);
        w.send_until(T0 + 11, T0 + 20);
        let sent = replies(&w);
        assert_eq!(
            sent.len(),
            1,
            "{text}, failure at {target:?}: one reply, {sent:?}"
        );
        assert_eq!(inbound_records(&w), 1, "{target:?}: stored once");
    }
}

#[test]
fn a_text_that_fails_anywhere_is_stored_and_answered_once() {
    every_failure_point_then_retry("hello", Purpose::DefaultReply);
}

#[test]
fn a_stop_that_fails_anywhere_is_confirmed_once() {
    every_failure_point_then_retry("STOP", Purpose::OptOutConfirmation);
}

/// A STOP whose confirmation the alarm marked as leaving when the worker stopped: what the
/// restarted authority finds.
fn interrupted(w: &World) -> String {
    let body = messages_delivery("PNID", WA, "Ann", &[text_message(WA, ID, T0, "STOP")]);
    w.deliver_at(&body, T0 + 1);
    let store = w.store_of(WA);
    let items = block_on(outbox::load(store.as_ref())).unwrap();
    let (key, mut item) = items
        .into_iter()
        .next()
        .expect("the confirmation is pending");
    item.sending = true;
    item.sending_since = Some(crate::time::UnixTime(T0 + 2));
    item.due = crate::time::UnixTime(T0 + 2 + 300);
    block_on(outbox::save(store.as_ref(), &key, &item)).unwrap();
    item.outbound
        .callback
        .expect("every outbox send carries its callback")
}

fn outbound_history(w: &World, now: u64) -> Vec<serde_json::Value> {
    let (_, h) = w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "", now);
    h["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "outbound")
        .cloned()
        .collect()
}

#[test]
fn an_interrupted_send_with_no_status_from_meta_goes_again_once() {
    let w = world();
    interrupted(&w);
    // Found interrupted at its deadline (T0 + 302); Meta gets five minutes from there.
    w.send_until(T0 + 3, T0 + 601);
    assert!(
        replies(&w).is_empty(),
        "not before Meta had five minutes to confirm it"
    );
    w.send_until(T0 + 602, T0 + 610);
    assert_eq!(replies(&w).len(), 1, "then once");
    let out = outbound_history(&w, T0 + 620);
    assert_eq!(out.len(), 1, "recorded once: {out:?}");
    assert!(out[0].get("errors").is_none(), "{out:?}");
}

#[test]
fn an_interrupted_send_that_meta_confirms_is_recorded_and_never_sent_again() {
    let w = world();
    let callback = interrupted(&w);
    let mut sent = status("wamid.CONFIRMED", "sent", T0 + 3, WA, None);
    sent["biz_opaque_callback_data"] = callback.into();
    let (r, _) = w.deliver_at(&statuses_delivery("PNID", &[sent]), T0 + 10);
    assert_eq!(r.status, 200);
    w.send_until(T0 + 11, T0 + 700);
    assert!(
        replies(&w).is_empty(),
        "it went out before the restart: never again"
    );
    let out = outbound_history(&w, T0 + 700);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["id"], "wamid.CONFIRMED");
    assert_eq!(out[0]["purpose"], "opt_out_confirmation");
}

/// A STOP whose confirmation gets `answers` from the Graph API (then success): the delivery is
/// made at T0 + 1 and its alarm runs from T0 + 2. Returns the confirmation's callback.
fn confirmation_answered(w: &World, answers: &[Option<(u16, &str)>]) -> String {
    let body = messages_delivery("PNID", WA, "Ann", &[text_message(WA, ID, T0, "STOP")]);
    w.script(answers);
    assert_eq!(w.deliver_at(&body, T0 + 1).0.status, 200);
    w.send_until(T0 + 2, T0 + 2);
    let first = replies(w);
    assert_eq!(first.len(), 1, "{first:?}");
    first[0]["biz_opaque_callback_data"]
        .as_str()
        .expect("the confirmation carries its callback")
        .to_string()
}

#[test]
fn a_send_whose_outcome_is_unknown_waits_for_metas_status_then_goes_again_once() {
    let answers: [Option<(u16, &str)>; 3] = [
        None,
        Some((503, "<html>Service Unavailable</html>")),
        Some((200, r#"{"messaging_product":"whatsapp"}"#)),
    ];
    for answer in answers {
        let w = world();
        confirmation_answered(&w, &[answer]);
        w.send_until(T0 + 3, T0 + 301);
        assert_eq!(
            replies(&w).len(),
            1,
            "{answer:?}: not again before Meta had five minutes to say it went out"
        );
        assert!(outbound_history(&w, T0 + 301).is_empty(), "{answer:?}");
        w.send_until(T0 + 302, T0 + 310);
        assert_eq!(replies(&w).len(), 2, "{answer:?}: then once more");
        let out = outbound_history(&w, T0 + 320);
        assert_eq!(out.len(), 1, "{answer:?}: recorded once, as sent: {out:?}");
        assert!(out[0].get("errors").is_none(), "{answer:?}: {out:?}");
        assert_eq!(out[0]["purpose"], "opt_out_confirmation");
    }
}

#[test]
fn a_send_whose_outcome_is_unknown_that_meta_confirms_is_never_sent_again() {
    let w = world();
    let callback = confirmation_answered(&w, &[None]);
    let mut sent = status("wamid.REACHED", "sent", T0 + 3, WA, None);
    sent["biz_opaque_callback_data"] = callback.into();
    let (r, _) = w.deliver_at(&statuses_delivery("PNID", &[sent]), T0 + 20);
    assert_eq!(r.status, 200);
    w.send_until(T0 + 21, T0 + 700);
    assert_eq!(replies(&w).len(), 1, "it reached Meta: never again");
    let out = outbound_history(&w, T0 + 700);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["id"], "wamid.REACHED");
}

#[test]
fn a_send_that_never_gets_an_answer_is_recorded_unknown_after_its_last_wait() {
    let w = world();
    let silence = vec![None; outbox::UNKNOWN_OUTCOME_WAITS as usize + 1];
    confirmation_answered(&w, &silence);
    let end = T0 + 3 + 301 * (outbox::UNKNOWN_OUTCOME_WAITS as u64 + 1);
    w.send_until(T0 + 3, end);
    assert_eq!(
        replies(&w).len(),
        outbox::UNKNOWN_OUTCOME_WAITS as usize + 1,
        "the first try and one after each wait"
    );
    let out = outbound_history(&w, end);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["action"], "unknown");
    assert_eq!(out[0]["http_status"], 0);
    let store = w.store_of(WA);
    assert!(block_on(outbox::load(store.as_ref())).unwrap().is_empty());
}

#[test]
fn an_interrupted_or_unanswered_mark_as_read_simply_goes_again() {
    let w = World::new(&[("MARK_AS_READ", "true"), ("DEFAULT_REPLY", "")]);
    let body = messages_delivery("PNID", WA, "Ann", &[text_message(WA, ID, T0, "hi")]);
    w.script(&[None]);
    assert_eq!(w.deliver_at(&body, T0 + 1).0.status, 200);
    w.send_until(T0 + 2, T0 + 5);
    assert_eq!(w.graph.calls.borrow().len(), 2, "one retry after no answer");
    assert!(w.graph.bodies().iter().all(|b| b["status"] == "read"));

    // Interrupted while leaving: it goes again soon, with no wait for a status that never comes.
    let w = World::new(&[("MARK_AS_READ", "true"), ("DEFAULT_REPLY", "")]);
    assert_eq!(w.deliver_at(&body, T0 + 1).0.status, 200);
    let store = w.store_of(WA);
    let (key, mut item) = block_on(outbox::load(store.as_ref()))
        .unwrap()
        .into_iter()
        .next()
        .expect("the mark-as-read is pending");
    item.sending = true;
    item.due = crate::time::UnixTime(T0 + 2 + outbox::INTERRUPTED_RESEND);
    block_on(outbox::save(store.as_ref(), &key, &item)).unwrap();
    w.send_until(T0 + 2, T0 + 2 + outbox::INTERRUPTED_RESEND);
    assert_eq!(w.graph.calls.borrow().len(), 1);
    assert!(block_on(outbox::load(store.as_ref())).unwrap().is_empty());
}

#[test]
fn an_erasure_between_a_decision_and_its_send_drops_the_send() {
    let w = world();
    let body = messages_delivery("PNID", WA, "Ann", &[text_message(WA, ID, T0, "hello")]);
    w.deliver_at(&body, T0 + 1);
    let (status, erased) = w.admin("DELETE", &format!("/v1/contacts/{WA}"), "", T0 + 2);
    assert_eq!(status, 200);
    assert_eq!(erased["deleted"]["pending_sends"], 1);
    w.send_until(T0 + 2, T0 + 20);
    assert!(replies(&w).is_empty(), "nothing goes to an erased person");
    assert_eq!(inbound_records(&w), 0);
}
