//! One person across phone numbers, BSUIDs and parent BSUIDs: consent, replies, sends, lookups
//! and erasure follow the person whichever id they come by (`authority::identity`).

use crate::authority::{Authorities, Op};
use crate::send::{Outbound, Purpose};
use crate::store::keys::KeyScheme;
use crate::testing::payloads::{identity_text, number_change, Ids};
use crate::testing::{self, block_on, CONTACT_KEY_SECRET};
use serde_json::{json, Value};

const T0: u64 = 1_732_000_000;
const PHONE: &str = "16505551234";
const BSUID: &str = "US.13491208655302741918";
const PARENT: &str = "US.ENT.11815799212886844830";
const BOTH: Ids = Ids {
    phone: Some(PHONE),
    bsuid: Some(BSUID),
    parent: None,
};
const ONLY_BSUID: Ids = Ids {
    phone: None,
    bsuid: Some(BSUID),
    parent: None,
};
const ONLY_PHONE: Ids = Ids {
    phone: Some(PHONE),
    bsuid: None,
    parent: None,
};

fn world() -> testing::World {
    testing::World::new(&[
        ("MARK_AS_READ", "false"),
        ("DEFAULT_REPLY", "Thanks! A person will answer soon."),
    ])
}

fn say(w: &testing::World, ids: Ids<'_>, id: &str, at: u64, body: &str) -> Vec<Outbound> {
    let (reply, outbox) = w.deliver_at(&identity_text("PNID", ids, id, at, body), at + 1);
    assert_eq!(reply.status, 200, "{}", reply.body);
    outbox
}

fn replies(outbox: &[Outbound]) -> Vec<Purpose> {
    outbox.iter().map(|o| o.purpose).collect()
}

fn consent(w: &testing::World, id: &str, now: u64) -> Value {
    let (status, body) = w.admin("GET", &format!("/v1/contacts/{id}/consent"), "", now);
    assert_eq!(status, 200, "{body}");
    body
}

fn check(w: &testing::World, id: &str, now: u64) -> Value {
    let (status, body) = w.admin(
        "POST",
        "/v1/consent/check",
        &json!({ "wa_ids": [id] }).to_string(),
        now,
    );
    assert_eq!(status, 200, "{body}");
    body["results"][0].clone()
}

#[test]
fn a_stop_with_both_ids_holds_under_either() {
    let w = world();
    let outbox = say(&w, BOTH, "wamid.1", T0, "STOP");
    assert_eq!(replies(&outbox), [Purpose::OptOutConfirmation]);
    w.send_due(T0 + 2);
    for id in [PHONE, BSUID] {
        let record = consent(&w, id, T0 + 5);
        assert_eq!(record["status"], "opted_out", "{id}");
        let linked: Vec<&str> = record["linked_ids"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(linked, [PHONE, BSUID]);
        assert_eq!(check(&w, id, T0 + 5)["can_message"], false, "{id}");
    }
    // A later message carrying only the BSUID is the same person: no default reply.
    let outbox = say(&w, ONLY_BSUID, "wamid.2", T0 + 60, "hello?");
    assert!(replies(&outbox).is_empty(), "{outbox:?}");
    // And the send API refuses the BSUID as it refuses the number.
    let (status, body) = w.admin(
        "POST",
        "/v1/messages",
        &json!({ "to": BSUID, "text": "hi" }).to_string(),
        T0 + 70,
    );
    assert_eq!((status, body["error"].as_str()), (409, Some("opted_out")));
}

#[test]
fn a_stop_under_the_bsuid_alone_binds_the_number_once_linked() {
    let w = world();
    say(&w, ONLY_BSUID, "wamid.1", T0, "STOP");
    // The phone number is not known yet: nothing binds it.
    assert_eq!(consent(&w, PHONE, T0 + 5)["status"], "unknown");
    // A message that shows both links them; the BSUID's opt-out now holds for the number.
    let outbox = say(&w, BOTH, "wamid.2", T0 + 60, "where is my parcel");
    assert!(replies(&outbox).is_empty(), "{outbox:?}");
    assert_eq!(consent(&w, PHONE, T0 + 70)["status"], "opted_out");
    w.send_due(T0 + 70);
    assert_eq!(check(&w, PHONE, T0 + 70)["can_message"], false);
    let (status, _) = w.admin(
        "POST",
        "/v1/messages",
        &json!({ "to": PHONE, "text": "hi" }).to_string(),
        T0 + 80,
    );
    assert_eq!(status, 409);
}

#[test]
fn linking_never_loosens_an_opt_out() {
    let w = world();
    say(&w, ONLY_BSUID, "wamid.1", T0, "STOP");
    // The number opted in later, before anyone knew it was the same person.
    say(&w, ONLY_PHONE, "wamid.2", T0 + 10, "START");
    say(&w, BOTH, "wamid.3", T0 + 20, "hello");
    let record = consent(&w, PHONE, T0 + 30);
    assert_eq!(record["status"], "opted_out");
    let history = record["history"].as_array().unwrap();
    assert!(history.iter().any(|c| c["source"] == "link"), "{record}");
    // The person acting again decides, as always.
    say(&w, ONLY_PHONE, "wamid.4", T0 + 40, "START");
    assert_eq!(consent(&w, BSUID, T0 + 50)["status"], "opted_in");
}

#[test]
fn a_username_only_person_is_answered_through_recipient_and_by_phone_once_known() {
    let w = world();
    let outbox = say(&w, ONLY_BSUID, "wamid.1", T0, "hi there");
    assert_eq!(replies(&outbox), [Purpose::DefaultReply]);
    w.send_due(T0 + 1);
    let bodies = w.graph.bodies();
    let reply = bodies.last().unwrap();
    assert_eq!(reply["recipient"], BSUID, "{reply}");
    assert!(reply.get("to").is_none(), "{reply}");
    // Once the phone number is known, replies use `to`, even to a BSUID-only message.
    say(&w, BOTH, "wamid.2", T0 + 100, "what are your hours?");
    let outbox = say(&w, ONLY_BSUID, "wamid.3", T0 + 3 * 86_400, "hello again");
    let reply = outbox.iter().find(|o| o.purpose == Purpose::DefaultReply);
    assert_eq!(reply.map(|o| o.to.as_str()), Some(PHONE), "{outbox:?}");
}

#[test]
fn after_a_number_change_the_opt_out_holds_for_the_new_number() {
    let w = world();
    const NEW: &str = "16505559999";
    say(&w, ONLY_PHONE, "wamid.1", T0, "STOP");
    let (reply, _) = w.deliver_at(&number_change(PHONE, NEW, "wamid.2", T0 + 50), T0 + 51);
    assert_eq!(reply.status, 200);
    assert_eq!(consent(&w, NEW, T0 + 60)["status"], "opted_out");
    let new_only = Ids {
        phone: Some(NEW),
        ..Ids::default()
    };
    let outbox = say(&w, new_only, "wamid.3", T0 + 100, "hi");
    assert!(replies(&outbox).is_empty(), "{outbox:?}");
}

#[test]
fn three_ids_arriving_in_pieces_become_one_person_with_one_history() {
    let w = world();
    let parent_only = Ids {
        phone: None,
        bsuid: None,
        parent: Some(PARENT),
    };
    say(&w, ONLY_PHONE, "wamid.1", T0, "one");
    say(&w, parent_only, "wamid.2", T0 + 10, "two");
    say(&w, ONLY_BSUID, "wamid.3", T0 + 20, "three");
    // Each pair links: phone with BSUID, then BSUID with parent.
    say(&w, BOTH, "wamid.4", T0 + 30, "four");
    let bsuid_parent = Ids {
        phone: None,
        bsuid: Some(BSUID),
        parent: Some(PARENT),
    };
    say(&w, bsuid_parent, "wamid.5", T0 + 40, "five");
    w.send_due(T0 + 50);
    for id in [PHONE, BSUID, PARENT] {
        let (status, body) = w.admin("GET", &format!("/v1/contacts/{id}/messages"), "", T0 + 60);
        assert_eq!(status, 200, "{body}");
        let texts: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["direction"] == "inbound")
            .filter_map(|m| m["text"].as_str())
            .collect();
        assert_eq!(texts, ["five", "four", "three", "two", "one"], "{id}");
        assert_eq!(body["linked_ids"].as_array().unwrap().len(), 3, "{body}");
    }
    // Before they were linked, each id was a stranger and got the default reply; once linked,
    // the person's one cooldown holds: "four" and "five" got none.
    let defaults = w
        .graph
        .bodies()
        .iter()
        .filter(|b| b["text"]["body"] == "Thanks! A person will answer soon.")
        .count();
    assert_eq!(defaults, 3);
}

#[test]
fn a_merge_cut_short_after_the_handover_is_finished_by_the_next_request() {
    let w = world();
    let keys = KeyScheme::new(CONTACT_KEY_SECRET);
    let phone = keys.contact(&crate::ids::WaId::new(PHONE));
    let bsuid = keys.contact(&crate::ids::WaId::new(BSUID));
    // The BSUID opted out alone; the phone number wrote alone.
    say(&w, ONLY_BSUID, "wamid.1", T0, "STOP");
    say(&w, ONLY_PHONE, "wamid.2", T0 + 5, "hello");
    // A worker linked them and died after the handover: the larger key forwards to the
    // smaller, with nothing absorbed yet.
    let (home, moved) = if phone < bsuid {
        (phone, bsuid)
    } else {
        (bsuid, phone)
    };
    let answer = block_on(w.call(&moved, &Op::Handover { to: home.clone() })).unwrap();
    assert!(matches!(
        answer,
        crate::authority::Answer::Moved {
            export: Some(_),
            ..
        }
    ));
    // Any request that reaches the moved id finishes the merge before it is answered.
    let moved_id = if moved == keys.contact(&crate::ids::WaId::new(PHONE)) {
        PHONE
    } else {
        BSUID
    };
    assert_eq!(consent(&w, moved_id, T0 + 10)["status"], "opted_out");
    assert_eq!(consent(&w, PHONE, T0 + 10)["status"], "opted_out");
    // Repeating the whole link (Meta's retry of the delivery) changes nothing more.
    say(&w, BOTH, "wamid.3", T0 + 20, "STOP");
    let record = consent(&w, BSUID, T0 + 30);
    let stops = record["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["keyword"] == "stop")
        .count();
    assert_eq!(stops, 2, "two STOPs, each once: {record}");
}

#[test]
fn erasure_by_any_id_erases_the_person_and_keeps_the_suppression_under_each() {
    let w = world();
    say(&w, BOTH, "wamid.1", T0, "STOP");
    say(&w, ONLY_BSUID, "wamid.2", T0 + 60, "hi");
    w.send_due(T0 + 70);
    let (status, body) = w.admin("DELETE", &format!("/v1/contacts/{BSUID}"), "", T0 + 80);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suppression_kept"], true);
    assert!(body["deleted"]["messages"].as_u64().unwrap() >= 2, "{body}");
    for id in [PHONE, BSUID] {
        let (_, history) = w.admin("GET", &format!("/v1/contacts/{id}/messages"), "", T0 + 90);
        assert_eq!(history["messages"], json!([]), "{id}");
        assert_eq!(check(&w, id, T0 + 90)["can_message"], false, "{id}");
    }
    // The links are gone with the person, but either id alone is still refused.
    let outbox = say(&w, ONLY_BSUID, "wamid.3", T0 + 100, "hello");
    assert!(replies(&outbox).is_empty(), "{outbox:?}");
}

#[test]
fn meta_131062_is_answered_clearly_and_not_retried() {
    let w = world();
    say(&w, ONLY_BSUID, "wamid.1", T0, "hi");
    w.send_due(T0 + 1);
    let calls = w.graph.calls.borrow().len();
    w.script(&[testing::FakeGraph::error(131062)]);
    let (status, body) = w.admin(
        "POST",
        "/v1/messages",
        &json!({ "to": BSUID, "template": {"name":"otp","language":"en_US"}, "category": "authentication" }).to_string(),
        T0 + 100,
    );
    assert_eq!(
        (status, body["error"].as_str(), body["meta_code"].as_i64()),
        (422, Some("bsuid_not_supported"), Some(131062)),
        "{body}"
    );
    assert_eq!(
        w.graph.calls.borrow().len(),
        calls + 1,
        "sent once, not retried"
    );
}

#[test]
fn a_history_cursor_past_the_end_is_refused() {
    let w = world();
    say(&w, ONLY_PHONE, "wamid.1", T0, "hi");
    for cursor in ["4294967290", "2", "18446744073709551616"] {
        let (status, body) = w.admin(
            "GET",
            &format!("/v1/contacts/{PHONE}/messages?limit=10&cursor={cursor}"),
            "",
            T0 + 10,
        );
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_cursor")),
            "{cursor}"
        );
    }
    let (status, _) = w.admin(
        "GET",
        &format!("/v1/contacts/{PHONE}/messages?cursor=1"),
        "",
        T0 + 10,
    );
    assert_eq!(
        status, 200,
        "one past the last message is the end, not an error"
    );
}
