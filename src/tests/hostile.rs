//! Bodies built to break a JSON reader, through the whole request path: each gets a clear
//! answer (400 for an API caller, 200-and-ignored for a signed delivery, which Meta would
//! otherwise retry for a week), with no panic and nothing stored or sent.

use crate::testing::{admin_request, signed_delivery, World, ADMIN_TOKEN};

const T0: u64 = 1_800_000_000;

/// Text, unsigned and signed, that no reader should choke on.
fn hostile() -> Vec<(&'static str, String)> {
    vec![
        ("not JSON", "hello, is this JSON?".to_string()),
        ("nested 100,000 deep", "[".repeat(100_000)),
        ("objects nested 100,000 deep", "{\"entry\":".repeat(100_000)),
        (
            "a lone surrogate escape",
            r#"{"object":"whatsapp_business_account","to":"\ud800","text":"\udfff"}"#.to_string(),
        ),
        (
            "a key given twice at the top",
            r#"{"object":"whatsapp_business_account","object":"page","entry":[]}"#.to_string(),
        ),
        (
            "invalid UTF-8",
            String::from_utf8_lossy(&[0x7b, 0xff, 0xfe, 0x7d]).into_owned(),
        ),
        ("an empty body", String::new()),
    ]
}

#[test]
fn a_signed_delivery_that_cannot_be_read_is_acknowledged_and_changes_nothing() {
    for (what, body) in hostile() {
        let w = World::new(&[]);
        let r = w.request(signed_delivery(&body), T0);
        assert_eq!(r.status, 200, "{what}: {}", r.body);
        assert!(w.kv.keys().is_empty(), "{what}: stored {:?}", w.kv.keys());
        assert!(w.graph.bodies().is_empty(), "{what}");
        let log = r.log.unwrap_or_default();
        assert!(
            !log.contains("\\ud800") && !log.contains("hello"),
            "{what}: {log}"
        );
    }
}

#[test]
fn an_api_body_that_cannot_be_read_is_a_400_and_sends_nothing() {
    for (what, body) in hostile() {
        let w = World::new(&[]);
        for path in [
            "/v1/messages",
            "/v24.0/106540352242922/messages",
            "/v1/consent/check",
        ] {
            let r = w.request(admin_request(ADMIN_TOKEN, "POST", path, &body), T0);
            assert!(r.status == 400, "{what} to {path}: {} {}", r.status, r.body);
            assert!(!r.body.contains("ud800"), "{what}: {}", r.body);
        }
        assert!(w.graph.bodies().is_empty(), "{what}");
        assert!(w.kv.keys().is_empty(), "{what}");
    }
}

#[test]
fn an_item_with_a_lone_surrogate_is_invalid_and_its_neighbour_is_stored() {
    let w = World::new(&[]);
    let bad = r#"{"from":"16505551234","id":"wamid.BAD","timestamp":"1800000000","type":"text","text":{"body":"\ud800"}}"#;
    let good = r#"{"from":"16505551234","id":"wamid.GOOD","timestamp":"1800000000","type":"text","text":{"body":"hello"}}"#;
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"changes":[{{"field":"messages","value":{{"metadata":{{"phone_number_id":"106540352242922"}},"messages":[{bad},{good}]}}}}]}}]}}"#
    );
    let r = w.request(signed_delivery(&body), T0);
    assert_eq!(r.status, 200, "{}", r.body);
    let log = r.log.unwrap_or_default();
    assert!(log.contains("\"invalid\":1"), "{log}");
    assert!(log.contains("\"stored\":1"), "{log}");
    assert!(!log.contains("ud800"), "{log}");
}

#[test]
fn wrong_tokens_from_one_client_over_the_limit_get_429_and_a_valid_token_still_passes() {
    let w = World::new(&[]);
    w.graph.failure_limit.set(Some(3));
    let wrong = |path: &str| {
        let mut req = admin_request("not-the-token", "POST", path, r#"{"wa_ids":[]}"#);
        req.client = Some("198.51.100.7".into());
        w.request(req, T0).status
    };
    let answers: Vec<u16> = (0..5).map(|_| wrong("/v1/consent/check")).collect();
    assert_eq!(answers, [401, 401, 401, 429, 429]);
    // Meta's clients get Meta's envelope for it.
    let mut req = admin_request("not-the-token", "POST", "/v24.0/1/messages", "{}");
    req.client = Some("198.51.100.7".into());
    let r = w.request(req, T0);
    assert_eq!(r.status, 429);
    assert!(r.body.contains("\"code\":4"), "{}", r.body);
    // The right token is never refused, and another client has its own count.
    let mut ok = admin_request(ADMIN_TOKEN, "POST", "/v1/consent/check", r#"{"wa_ids":[]}"#);
    ok.client = Some("198.51.100.7".into());
    assert_eq!(w.request(ok, T0).status, 200);
    let mut other = admin_request("not-the-token", "POST", "/v1/consent/check", "{}");
    other.client = Some("203.0.113.9".into());
    assert_eq!(w.request(other, T0).status, 401);
    // The limiter saw keyed hashes, never an address.
    assert!(w
        .graph
        .failures
        .borrow()
        .keys()
        .all(|k| !k.contains("198.51")));
}
