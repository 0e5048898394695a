//! One business number, many people: what the number's own authority is asked. It serves one
//! request at a time, so people's authorities ask it about a pause once per view and take the
//! ramp budget in blocks; a pause learnt by one person holds for every person at once.

use crate::testing::{self, admin_request, FakeGraph, ADMIN_TOKEN};
use serde_json::{json, Value};

const T0: u64 = 1_732_000_000;
const NUMBER: &str = "106540352242922";

fn world(extra: &[(&str, &str)]) -> testing::World {
    let mut vars = vec![
        ("MARK_AS_READ", "false"),
        ("DEFAULT_REPLY", "Thanks, a person will answer."),
    ];
    vars.extend_from_slice(extra);
    testing::World::new(&vars)
}

fn person(i: usize) -> String {
    format!("1555{:07}", i)
}

fn says(w: &testing::World, wa: &str, id: &str, at: u64, text: &str) -> u16 {
    let body = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":NUMBER},
        "messages":[{"from":wa,"id":id,"timestamp":at.to_string(),"type":"text","text":{"body":text}}]}}]}]});
    w.deliver_at(&body.to_string(), at).0.status
}

fn replies_to(w: &testing::World, wa: &str) -> usize {
    w.graph.bodies().iter().filter(|b| b["to"] == wa).count()
}

fn template_to(w: &testing::World, wa: &str, at: u64) -> (u16, Value) {
    let body = json!({"messaging_product":"whatsapp","to":wa,"type":"template",
        "template":{"name":"order_update","language":{"code":"en_US"}},"category":"utility"});
    let path = format!("/v24.0/{NUMBER}/messages");
    let r = w.request(
        admin_request(ADMIN_TOKEN, "POST", &path, &body.to_string()),
        at,
    );
    (r.status, serde_json::from_str(&r.body).unwrap_or_default())
}

#[test]
fn a_thousand_messages_from_500_people_ask_the_numbers_authority_under_5_percent_of_the_time() {
    let w = world(&[]);
    let inbound = 1_000;
    // Ten messages a second for 100 s, every person twice; each reply's alarm runs as it is due.
    for n in 0..inbound {
        let at = T0 + (n / 10) as u64;
        let wa = person(n % 500);
        assert_eq!(says(&w, &wa, &format!("wamid.CAP{n}"), at, "hello"), 200);
        if n % 10 == 9 {
            w.send_due(at + 1);
        }
    }
    let per_message = w.number_calls.get() as f64 / inbound as f64;
    assert!(
        per_message <= 0.05,
        "{} requests to the number's authority for {inbound} messages",
        w.number_calls.get()
    );
    assert!(w.number_calls.get() >= 1, "the pause is still asked");
    let replied = (0..500)
        .filter(|i| replies_to(&w, &person(*i)) >= 1)
        .count();
    assert_eq!(replied, 500, "every person got the default reply");
}

#[test]
fn a_pause_one_person_meets_holds_for_every_person_at_once_and_so_does_its_end() {
    let w = world(&[]);
    w.graph.answers.borrow_mut().extend(
        FakeGraph::error(131048)
            .map(|(s, b)| (s, b.to_string()))
            .map(Some),
    );
    assert_eq!(says(&w, &person(1), "wamid.P1", T0, "hello"), 200);
    w.send_due(T0 + 1);
    let (_, account) = w.admin("GET", "/v1/account", "", T0 + 2);
    assert!(
        !account["paused"].as_array().unwrap().is_empty(),
        "{account}"
    );
    // Within the pause view's seconds of a person who had learnt "not paused": paused now.
    assert_eq!(says(&w, &person(2), "wamid.P2", T0 + 3, "hello"), 200);
    w.send_due(T0 + 4);
    assert_eq!(
        replies_to(&w, &person(2)),
        0,
        "no automatic reply from a paused number"
    );
    let (status, _) = w.admin("DELETE", "/v1/account/pause", "", T0 + 5);
    assert_eq!(status, 200);
    assert_eq!(says(&w, &person(3), "wamid.P3", T0 + 6, "hello"), 200);
    w.send_due(T0 + 7);
    assert_eq!(
        replies_to(&w, &person(3)),
        1,
        "resumed for everyone at once"
    );
}

#[test]
fn the_ramp_budget_is_taken_in_blocks_and_never_exceeded() {
    let w = world(&[("RAMP_DAILY_LIMIT", "100")]);
    let mut sent = 0;
    for i in 0..130 {
        let (status, answer) = template_to(&w, &person(1000 + i), T0 + i as u64);
        match status {
            200 => sent += 1,
            400 => assert_eq!(answer["error"]["code"], 900_003, "{answer}"),
            other => panic!("{other}: {answer}"),
        }
    }
    assert_eq!(sent, 100, "exactly the day's budget");
    let calls = w.number_calls.get();
    // Blocks of two (a fiftieth of 100), the refusal that ends the day, and the pause views.
    assert!(
        calls <= 50 + 1 + 14,
        "{calls} requests to the number's authority"
    );
    // The next UTC day has a budget again.
    assert_eq!(template_to(&w, &person(2000), T0 + 86_400).0, 200);
}
