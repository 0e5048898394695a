//! Admin lookups with the person's id in the body (`POST /v1/contacts/lookup`, `/consent`,
//! `/erase`): the same answers as the path routes, which put the id in access logs.

use crate::testing::{self, payloads};
use serde_json::{json, Value};

const T0: u64 = 1_732_000_000;
const WA: &str = "16505551234";

fn world() -> testing::World {
    let w = testing::World::new(&[("MARK_AS_READ", "false")]);
    let body = payloads::messages_delivery(
        "PNID",
        WA,
        "Ann",
        &[payloads::text_message(WA, "wamid.L1", T0, "STOP")],
    );
    assert_eq!(w.deliver_at(&body, T0 + 1).0.status, 200);
    w
}

fn post(w: &testing::World, path: &str, body: Value) -> (u16, Value) {
    w.admin("POST", path, &body.to_string(), T0 + 10)
}

#[test]
fn a_lookup_with_the_id_in_the_body_answers_as_the_path_route_does() {
    let w = world();
    for (view, path) in [
        ("consent", format!("/v1/contacts/{WA}/consent")),
        ("outbox", format!("/v1/contacts/{WA}/outbox")),
        ("messages", format!("/v1/contacts/{WA}/messages?limit=5")),
    ] {
        let by_path = w.admin("GET", &path, "", T0 + 10);
        let by_body = post(
            &w,
            "/v1/contacts/lookup",
            json!({"wa_id": format!("+{WA}"), "view": view, "limit": 5}),
        );
        assert_eq!(by_body, by_path, "{view}");
        assert_eq!(by_body.0, 200, "{view}: {}", by_body.1);
    }
    // Consent is what a lookup shows unless it asks for more.
    let (_, consent) = post(&w, "/v1/contacts/lookup", json!({"wa_id": WA}));
    assert_eq!(consent["status"], "opted_out");
}

#[test]
fn consent_and_erasure_with_the_id_in_the_body() {
    let w = world();
    let (status, record) = post(
        &w,
        "/v1/contacts/consent",
        json!({"wa_id": WA, "status": "opted_in", "scope": "all", "evidence": "signed form 12"}),
    );
    assert_eq!(status, 200, "{record}");
    assert_eq!(record["status"], "opted_in");
    let (status, erased) = post(&w, "/v1/contacts/erase", json!({"wa_id": WA}));
    assert_eq!(status, 200, "{erased}");
    assert!(
        erased["deleted"]["messages"].as_u64() >= Some(1),
        "{erased}"
    );
    let (_, history) = post(
        &w,
        "/v1/contacts/lookup",
        json!({"wa_id": WA, "view": "messages"}),
    );
    assert_eq!(history["messages"], json!([]), "{history}");
}

#[test]
fn a_lookup_body_without_a_usable_id_is_a_400_that_names_no_value() {
    let w = world();
    for (body, code) in [
        (json!({}), "invalid_body"),
        (json!({"wa_id": 16505551234u64}), "invalid_body"),
        (json!({"wa_id": WA, "view": "everything"}), "invalid_body"),
        (json!({"wa_id": "0123"}), "invalid_wa_id"),
        (
            json!({"wa_id": WA, "view": "messages", "limit": 0}),
            "invalid_limit",
        ),
    ] {
        let (status, answer) = post(&w, "/v1/contacts/lookup", body.clone());
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some(code)),
            "{body}"
        );
        assert!(!answer.to_string().contains("0123"), "{answer}");
    }
}

#[test]
fn a_viewer_token_reads_everything_and_changes_nothing() {
    let w = testing::World::new(&[("MARK_AS_READ", "false"), ("VIEWER_TOKEN", "viewer-token")]);
    let body = payloads::messages_delivery(
        "PNID",
        WA,
        "Ann",
        &[payloads::text_message(WA, "wamid.V1", T0, "STOP")],
    );
    assert_eq!(w.deliver_at(&body, T0 + 1).0.status, 200);
    let as_viewer = |method: &str, path: &str, body: &str| {
        w.request(
            testing::admin_request("viewer-token", method, path, body),
            T0 + 10,
        )
        .status
    };
    for (method, path, body) in [
        ("GET", "/v1/account".to_string(), String::new()),
        ("GET", format!("/v1/contacts/{WA}/consent"), String::new()),
        ("GET", format!("/v1/contacts/{WA}/messages"), String::new()),
        ("GET", format!("/v1/contacts/{WA}/outbox"), String::new()),
        (
            "POST",
            "/v1/contacts/lookup".to_string(),
            json!({"wa_id": WA}).to_string(),
        ),
        (
            "POST",
            "/v1/consent/check".to_string(),
            json!({"wa_ids": [WA]}).to_string(),
        ),
    ] {
        assert_eq!(as_viewer(method, &path, &body), 200, "{method} {path}");
    }
    let change = json!({"wa_id": WA, "status": "opted_in", "scope": "all", "evidence": "form"});
    for (method, path, body) in [
        (
            "PUT",
            format!("/v1/contacts/{WA}/consent"),
            change.to_string(),
        ),
        (
            "POST",
            "/v1/contacts/consent".to_string(),
            change.to_string(),
        ),
        ("DELETE", format!("/v1/contacts/{WA}"), String::new()),
        (
            "POST",
            "/v1/contacts/erase".to_string(),
            json!({"wa_id": WA}).to_string(),
        ),
        (
            "PUT",
            "/v1/account/pause".to_string(),
            json!({"reason": "x"}).to_string(),
        ),
        ("DELETE", "/v1/account/pause".to_string(), String::new()),
        (
            "POST",
            "/v1/messages".to_string(),
            json!({"to": WA, "text": "hi"}).to_string(),
        ),
    ] {
        assert_eq!(as_viewer(method, &path, &body), 403, "{method} {path}");
    }
    let gateway =
        json!({"messaging_product":"whatsapp","to":WA,"type":"text","text":{"body":"hi"}});
    let r = w.request(
        testing::admin_request(
            "viewer-token",
            "POST",
            "/v24.0/106540352242922/messages",
            &gateway.to_string(),
        ),
        T0 + 10,
    );
    assert_eq!(
        r.status, 401,
        "Meta's envelope for a token that may not send"
    );
    assert!(w.graph.bodies().is_empty(), "nothing was sent");
    let (_, consent) = w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "", T0 + 20);
    assert_eq!(consent["status"], "opted_out", "unchanged");
}
