//! Arbitrary input into every reader a caller can reach (proptest): the webhook (bytes, JSON,
//! and Meta's own fixtures with parts replaced), the send bodies and the admin bodies. Never a
//! panic or a 5xx; a bad item never loses a good sibling; what a send forwards is what was read.
//! Cases come from a fixed seed (`properties::config`); `npm run fuzz` runs many more.

use super::properties::config;
use crate::testing::{admin_request, signed_delivery, World, ADMIN_TOKEN};
use proptest::prelude::*;
use serde_json::{json, Value};

const T0: u64 = 1_800_000_000;
const NUMBER: &str = "106540352242922";
const WA: &str = "16505551234";

/// Any JSON value, nested a few levels, with keys Meta uses among random ones.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        "[0-9]{1,16}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("id".to_string()),
        Just("from".to_string()),
        Just("type".to_string()),
        Just("text".to_string()),
        Just("body".to_string()),
        Just("timestamp".to_string()),
        Just("statuses".to_string()),
        Just("messages".to_string()),
        Just("contacts".to_string()),
        Just("errors".to_string()),
        "[a-z_]{1,12}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Meta's fixture payloads, as the corpus the mutations start from.
fn fixtures() -> Vec<Value> {
    let mut out = Vec::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                dirs.push(path);
            } else if let Some(v) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            {
                out.push(v);
            }
        }
    }
    assert!(out.len() >= 10, "the fixtures are the fuzzing corpus");
    out
}

/// Every place in a JSON value, as paths of keys and indexes.
fn places(v: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| {
            let mut next = at.clone();
            next.push(k.clone());
            places(v, next, out)
        }),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| {
            let mut next = at.clone();
            next.push(i.to_string());
            places(v, next, out)
        }),
        _ => {}
    }
}

fn replace(v: &mut Value, path: &[String], with: Value) {
    let Some((first, rest)) = path.split_first() else {
        *v = with;
        return;
    };
    let next = match v {
        Value::Object(m) => m.get_mut(first),
        Value::Array(a) => first.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    };
    if let Some(next) = next {
        replace(next, rest, with);
    }
}

/// A fixture with one of its places replaced by any JSON value.
fn mutated_fixture() -> impl Strategy<Value = Value> {
    let corpus = fixtures();
    (0..corpus.len(), any::<prop::sample::Index>(), any_json()).prop_map(
        move |(which, place, with)| {
            let mut v = corpus[which].clone();
            let mut all = Vec::new();
            places(&v, Vec::new(), &mut all);
            let path = place.get(&all).clone();
            replace(&mut v, &path, with);
            v
        },
    )
}

fn delivery(messages: Vec<Value>) -> String {
    json!({"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages",
        "value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":NUMBER},"messages":messages}}]}]})
    .to_string()
}

fn good_text(id: &str) -> Value {
    json!({"from":WA,"id":id,"timestamp":T0.to_string(),"type":"text","text":{"body":"hello"}})
}

fn stored_inbound(w: &World, id: &str) -> bool {
    let (_, h) = w.admin("GET", &format!("/v1/contacts/{WA}/messages"), "", T0 + 50);
    h["messages"].as_array().is_some_and(|m| {
        m.iter()
            .any(|m| m["id"] == id && m["direction"] == "inbound")
    })
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn arbitrary_bytes_signed_as_a_delivery_are_acknowledged_and_change_nothing(
        bytes in proptest::collection::vec(any::<u8>(), 0..512)
    ) {
        let w = World::new(&[("MARK_AS_READ", "false")]);
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let r = w.request(signed_delivery(&body), T0);
        prop_assert_eq!(r.status, 200, "{}", r.body);
        prop_assert!(w.kv.keys().is_empty());
        prop_assert!(w.graph.bodies().is_empty());
    }

    #[test]
    fn any_json_signed_as_a_delivery_gets_an_answer_and_no_5xx(value in any_json()) {
        let w = World::new(&[("MARK_AS_READ", "false")]);
        let r = w.request(signed_delivery(&value.to_string()), T0);
        prop_assert!(r.status < 500, "{} {}", r.status, r.body);
    }

    #[test]
    fn a_fixture_with_any_part_replaced_gets_an_answer_and_no_5xx(value in mutated_fixture()) {
        let w = World::new(&[("MARK_AS_READ", "false")]);
        let r = w.request(signed_delivery(&value.to_string()), T0);
        prop_assert!(r.status < 500, "{} {}", r.status, r.body);
        w.send_until(T0 + 1, T0 + 3);
    }

    #[test]
    fn a_bad_item_never_loses_its_good_sibling(
        bad in prop_oneof![any_json(), mutated_fixture()],
        first in any::<bool>(),
    ) {
        let w = World::new(&[("MARK_AS_READ", "false")]);
        let good = good_text("wamid.GOOD");
        let items = if first { vec![bad, good] } else { vec![good, bad] };
        let r = w.request(signed_delivery(&delivery(items)), T0);
        prop_assert_eq!(r.status, 200, "{}", r.body);
        prop_assert!(stored_inbound(&w, "wamid.GOOD"), "{:?}", r.log);
    }

    #[test]
    fn any_json_to_the_send_and_admin_routes_gets_a_4xx_or_a_send_and_no_5xx(
        value in any_json(),
        route in 0usize..4,
    ) {
        let w = World::new(&[("MARK_AS_READ", "false")]);
        let (method, path) = [
            ("POST", "/v1/messages".to_string()),
            ("POST", format!("/v24.0/{NUMBER}/messages")),
            ("POST", "/v1/consent/check".to_string()),
            ("PUT", format!("/v1/contacts/{WA}/consent")),
        ][route].clone();
        let r = w.request(admin_request(ADMIN_TOKEN, method, &path, &value.to_string()), T0);
        prop_assert!(r.status < 500, "{} {}: {} {}", method, path, r.status, r.body);
        if r.status >= 400 {
            prop_assert!(w.graph.bodies().is_empty(), "refused, yet sent");
        }
    }

    #[test]
    fn a_text_send_forwards_exactly_the_recipient_and_text_it_read(
        text in "\\PC{1,200}",
        plus in any::<bool>(),
        extra in proptest::option::of(("[a-z_]{1,10}", any_json())),
        gateway in any::<bool>(),
    ) {
        let w = World::new(&[("MARK_AS_READ", "false")]);
        // The person wrote first: the window is open for a free-form text.
        let r = w.request(signed_delivery(&delivery(vec![good_text("wamid.HELLO")])), T0);
        prop_assert_eq!(r.status, 200);
        let before = w.graph.bodies().len();
        let to = if plus { format!("+{WA}") } else { WA.to_string() };
        let mut body = json!({"messaging_product":"whatsapp","to":to,"type":"text","text":{"body":text}});
        let plain = extra.is_none();
        if let Some((key, value)) = extra {
            body[key] = value;
        }
        let path = if gateway { format!("/v24.0/{NUMBER}/messages") } else { "/v1/messages".to_string() };
        let r = w.request(admin_request(ADMIN_TOKEN, "POST", &path, &body.to_string()), T0 + 10);
        prop_assert!(r.status < 500, "{} {}", r.status, r.body);
        if plain {
            prop_assert_eq!(r.status, 200, "a well-formed text is sent: {}", r.body);
        }
        let sent: Vec<Value> = w.graph.bodies().into_iter().skip(before).collect();
        if r.status == 200 {
            prop_assert_eq!(sent.len(), 1);
            prop_assert_eq!(&sent[0]["to"], &json!(WA));
            prop_assert_eq!(&sent[0]["text"]["body"], &json!(text));
        } else {
            prop_assert!(sent.is_empty(), "{} yet sent: {:?}", r.status, sent);
        }
    }
}
