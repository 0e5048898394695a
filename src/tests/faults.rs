//! Failures injected on a chosen KV operation: a delivery that fails part-way answers 500 with
//! nothing marked done, and Meta's retry stores each record once and sends each reply once.
//! If the markers were ever written before the records, failing the last write would leave a
//! marker without its record, and the retry would be dropped as a duplicate: these tests fail.

use crate::ids::MessageId;
use crate::send::{Outbound, Purpose};
use crate::store::keys::{dedupe_message, message_record, KeyScheme};
use crate::store::kv::KvError;
use crate::testing::payloads::{messages_delivery, text_message};
use crate::testing::{World, CONTACT_KEY_SECRET};

const T0: u64 = 1_732_000_000;
const WA: &str = "16505550199";
const ID: &str = "wamid.FAULT1";

fn world() -> World {
    World::new(&[("DEFAULT_REPLY", "Thanks, a person will answer.")])
}

fn sends(outbox: &[Outbound]) -> Vec<Purpose> {
    outbox
        .iter()
        .map(|o| o.purpose)
        .filter(|p| *p != Purpose::MarkRead)
        .collect()
}

/// Every failure point of one delivery, then Meta's retry and a further redelivery.
fn every_failure_point_then_retry(text: &str, expected: Purpose) {
    let body = messages_delivery("PNID", WA, "Ann", &[text_message(WA, ID, T0, text)]);
    let probe = world();
    let (ok, outbox) = probe.deliver_at(&body, T0 + 1);
    assert_eq!(ok.status, 200);
    assert_eq!(sends(&outbox), vec![expected], "{text} without failures");
    let ops = probe.kv.ops();
    let total = ops.reads + ops.writes + ops.deletes + ops.lists;
    assert!(total >= 3, "a read, the writes, the marker: {ops:?}");

    let keys = KeyScheme::new(CONTACT_KEY_SECRET);
    let mk = keys.message(&MessageId::new(ID));
    let marker = dedupe_message(&mk);
    let record = message_record(&keys.contact(&crate::ids::WaId::new(WA)), &mk);
    for fail_at in 1..=total {
        let w = world();
        w.kv.fail_nth(fail_at, KvError::Unavailable("injected".into()));
        let (failed, outbox) = w.deliver_at(&body, T0 + 1);
        assert_eq!(failed.status, 500, "{text}: failure at operation {fail_at}");
        assert!(outbox.is_empty(), "nothing is sent from a failed delivery");
        assert!(w.kv.entry(&marker).is_none(), "no marker after a failure");
        if fail_at == total {
            assert!(
                w.kv.entry(&record).is_some(),
                "the last write is the marker: the record was written before it"
            );
        }
        let (retried, outbox) = w.deliver_at(&body, T0 + 2);
        assert_eq!(retried.status, 200);
        assert_eq!(
            sends(&outbox),
            vec![expected],
            "{text}: the retry after a failure at operation {fail_at} sends once"
        );
        let (again, outbox) = w.deliver_at(&body, T0 + 3);
        assert_eq!(again.status, 200);
        assert!(sends(&outbox).is_empty(), "a redelivery sends nothing");
        let records =
            w.kv.keys()
                .into_iter()
                .filter(|k| k.starts_with("c:") && k.contains(":m:"))
                .count();
        assert_eq!(records, 1, "stored once");
    }
}

#[test]
fn a_text_that_fails_anywhere_is_stored_and_answered_once_on_retry() {
    every_failure_point_then_retry("hello", Purpose::DefaultReply);
}

#[test]
fn a_stop_that_fails_anywhere_is_confirmed_once_on_retry() {
    every_failure_point_then_retry("STOP", Purpose::OptOutConfirmation);
}

#[test]
fn a_kv_429_fails_the_delivery_without_marking_it() {
    let w = world();
    let body = messages_delivery("PNID", WA, "Ann", &[text_message(WA, ID, T0, "hello")]);
    w.kv.fail_nth(2, KvError::RateLimited);
    assert_eq!(w.deliver_at(&body, T0 + 1).0.status, 500);
    assert_eq!(
        sends(&w.deliver_at(&body, T0 + 2).1),
        vec![Purpose::DefaultReply]
    );
}
