//! The Cloud-API-compatible send gateway, end to end: Meta's own path and shapes, every message
//! type forwarded as sent, refusals in Meta's envelope with nothing sent, token scopes, path
//! injection, pass-through, and a real client library (whatsapp-api-js from npm) unmodified.

use crate::harness::*;
use serde_json::{json, Value};
use std::process::Command;

/// POSTs `body` to the gateway path of `number` with `token`.
fn gateway(w: &Worker, number: &str, token: &str, body: &Value) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let r = w.send(
        "POST",
        &format!("/v24.0/{number}/messages"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    );
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

/// What the business's client sent to `wa` through the worker: every request to Meta except
/// wa-edge's own sends (its automatic replies carry its callback data).
fn client_sends(w: &Worker, wa: &str) -> Vec<GraphRequest> {
    w.sent_to(wa)
        .into_iter()
        .filter(|r| {
            !r.body["biz_opaque_callback_data"]
                .as_str()
                .is_some_and(|c| c.starts_with("wa-edge:"))
        })
        .collect()
}

/// Every message type of the Cloud API, as a client would send it to `to`.
fn every_type(to: &str, reply_to: &str) -> Vec<Value> {
    let base = |kind: &str, object: Value| {
        let mut m = json!({ "messaging_product": "whatsapp", "recipient_type": "individual",
                            "to": to, "type": kind });
        m[kind] = object;
        m
    };
    let mut all = vec![
        base(
            "text",
            json!({ "body": "Your order shipped", "preview_url": true }),
        ),
        base(
            "image",
            json!({ "link": "https://example.com/a.jpg", "caption": "the parcel" }),
        ),
        base(
            "video",
            json!({ "id": "1166846181421424", "caption": "how to open it" }),
        ),
        base("audio", json!({ "id": "1166846181421425" })),
        base(
            "document",
            json!({ "link": "https://example.com/invoice.pdf", "filename": "invoice.pdf" }),
        ),
        base("sticker", json!({ "id": "1166846181421426" })),
        base(
            "location",
            json!({ "latitude": 37.48, "longitude": -122.14, "name": "Pickup point", "address": "1 Hacker Way" }),
        ),
        base("reaction", json!({ "message_id": reply_to, "emoji": "👍" })),
        base(
            "interactive",
            json!({ "type": "button", "body": { "text": "Pick one" },
            "action": { "buttons": [{ "type": "reply", "reply": { "id": "a", "title": "A" } }] } }),
        ),
        base(
            "interactive",
            json!({ "type": "list", "body": { "text": "Sizes" }, "action": { "button": "Choose",
            "sections": [{ "title": "All", "rows": [{ "id": "m", "title": "Medium" }] }] } }),
        ),
        base(
            "interactive",
            json!({ "type": "cta_url", "body": { "text": "Track it" },
            "action": { "name": "cta_url", "parameters": { "display_text": "Track", "url": "https://example.com/t" } } }),
        ),
        base(
            "interactive",
            json!({ "type": "flow", "body": { "text": "Book" }, "action": { "name": "flow",
            "parameters": { "flow_message_version": "3", "flow_id": "1", "flow_cta": "Book" } } }),
        ),
        base(
            "interactive",
            json!({ "type": "product", "body": { "text": "This one" },
            "action": { "catalog_id": "1", "product_retailer_id": "sku-1" } }),
        ),
        base(
            "template",
            json!({ "name": "order_update", "language": { "code": "en_US" },
            "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "42" }] }] }),
        ),
    ];
    let mut contacts = json!({ "messaging_product": "whatsapp", "to": to, "type": "contacts" });
    contacts["contacts"] = json!([{ "name": { "formatted_name": "Help desk", "first_name": "Help" },
        "phones": [{ "phone": "+1 555 0100", "type": "WORK" }] }]);
    all.push(contacts);
    // A reply with context and callback data, as clients send them.
    let mut reply = base("text", json!({ "body": "About your question" }));
    reply["context"] = json!({ "message_id": reply_to });
    reply["biz_opaque_callback_data"] = json!("crm-ticket-77");
    all.push(reply);
    all
}

#[test]
fn every_message_type_is_forwarded_as_sent_with_the_real_token_and_recorded() {
    let w = worker();
    let messages: Vec<(String, Value)> = (0..2)
        .flat_map(|half| {
            // Two people, eight messages each: under the pair-rate burst of ten.
            let wa = contact();
            let hello = w.say(&wa, "hello");
            every_type(&wa, &hello)
                .into_iter()
                .skip(half * 8)
                .take(8)
                .map(move |m| (wa.clone(), m))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(messages.len(), 16);
    let mut people = Vec::new();
    for (wa, message) in &messages {
        let (status, answer) = gateway(w, &number_for(wa), SEND_TOKEN, message);
        assert_eq!(status, 200, "{message}: {answer}");
        assert_eq!(answer["messaging_product"], "whatsapp");
        assert_eq!(answer["contacts"][0]["input"], wa.as_str());
        assert_eq!(answer["contacts"][0]["wa_id"], wa.as_str());
        assert!(answer["messages"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("wamid."));
        if !people.contains(wa) {
            people.push(wa.clone());
        }
    }
    for wa in &people {
        let forwarded = client_sends(w, wa);
        let sent: Vec<&Value> = messages
            .iter()
            .filter(|(to, _)| to == wa)
            .map(|(_, m)| m)
            .collect();
        // Meta got exactly what the client sent, from the worker's own token, to the number.
        let bodies: Vec<&Value> = forwarded.iter().map(|r| &r.body).collect();
        assert_eq!(bodies, sent, "forwarded JSON-equal, in order");
        for r in &forwarded {
            assert_eq!(
                r.authorization.as_deref(),
                Some(format!("Bearer {ACCESS_TOKEN}").as_str())
            );
            assert_eq!(r.path, format!("/v24.0/{}/messages", number_for(wa)));
        }
        let recorded: Vec<Value> = w
            .history(wa, "outbound")
            .into_iter()
            .filter(|m| m["purpose"] == "api")
            .collect();
        assert_eq!(
            recorded.len(),
            sent.len(),
            "each one recorded: {recorded:?}"
        );
        let mut kinds: Vec<&str> = recorded.iter().filter_map(|m| m["type"].as_str()).collect();
        let mut expected: Vec<&str> = sent.iter().filter_map(|m| m["type"].as_str()).collect();
        kinds.sort();
        expected.sort();
        assert_eq!(kinds, expected);
    }
}

#[test]
fn refusals_come_back_in_metas_envelope_and_nothing_is_sent() {
    let w = worker();
    // Never wrote: a free-form message is Meta's 131047.
    let stranger = contact();
    let text = |to: &str| json!({ "messaging_product": "whatsapp", "to": to, "type": "text", "text": { "body": "hi" } });
    let (status, answer) = gateway(w, &number_for(&stranger), SEND_TOKEN, &text(&stranger));
    assert_eq!(
        (status, answer["error"]["code"].as_i64()),
        (400, Some(131047)),
        "{answer}"
    );
    assert_eq!(
        answer["error"]["error_data"]["messaging_product"],
        "whatsapp"
    );
    assert!(answer["error"]["fbtrace_id"].is_string());
    assert!(w.sent_to(&stranger).is_empty());

    // Opted out of everything: wa-edge's documented code.
    let stopped = contact();
    w.say(&stopped, "STOP");
    let before = w.sent_to(&stopped).len();
    let (status, answer) = gateway(w, &number_for(&stopped), SEND_TOKEN, &text(&stopped));
    assert_eq!(
        (status, answer["error"]["code"].as_i64()),
        (400, Some(900_001)),
        "{answer}"
    );
    assert_eq!(w.sent_to(&stopped).len(), before, "nothing more sent");

    // A marketing opt-out: marketing templates (stated, or of unknown category) are Meta's
    // 131050; a utility template named by the header goes.
    let wa = contact();
    w.say(&wa, "hello");
    let r = w.admin(
        "PUT",
        &format!("/v1/contacts/{wa}/consent"),
        Some(r#"{"status":"opted_out","scope":"marketing","evidence":"asked by phone"}"#),
    );
    assert_eq!(r.status, 200);
    let template = |name: &str| {
        json!({ "messaging_product": "whatsapp", "to": wa, "type": "template",
        "template": { "name": name, "language": { "code": "en_US" } } })
    };
    let (status, answer) = gateway(w, &number_for(&wa), SEND_TOKEN, &template("spring_sale"));
    assert_eq!(
        (status, answer["error"]["code"].as_i64()),
        (400, Some(131050)),
        "{answer}"
    );
    let auth = format!("Bearer {SEND_TOKEN}");
    let r = w.send(
        "POST",
        &format!("/v24.0/{}/messages", number_for(&wa)),
        &[("Authorization", &auth), ("X-WA-Edge-Category", "utility")],
        template("order_update").to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sent: Vec<String> = w
        .sent_to(&wa)
        .iter()
        .filter_map(|r| r.body["template"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(sent, ["order_update"]);

    // The pair rate: ten messages to one person at once (the automatic reply to their hello
    // among them), then Meta's 131056 with nothing sent.
    let busy = contact();
    w.say(&busy, "hello");
    w.settle(&busy);
    let refused = (0..11)
        .map(|_| gateway(w, &number_for(&busy), SEND_TOKEN, &text(&busy)))
        .find(|(status, _)| *status != 200)
        .expect("the burst ends");
    assert_eq!(
        (refused.0, refused.1["error"]["code"].as_i64()),
        (400, Some(131056)),
        "{}",
        refused.1
    );
    assert_eq!(w.sent_to(&busy).len(), 10);
}

#[test]
fn a_marketing_template_goes_once_per_person_per_day() {
    let w = worker();
    let wa = contact();
    let promo = json!({ "messaging_product": "whatsapp", "to": wa, "type": "template", "category": "marketing",
        "template": { "name": "spring_sale", "language": { "code": "en_US" } }, "from": number_for(&wa) });
    let send = |body: &Value| w.admin("POST", "/v1/messages", Some(&body.to_string()));
    let first = send(&promo);
    assert_eq!(first.status, 200, "{}", first.body);
    let second = send(&promo);
    assert_eq!(second.status, 429, "{}", second.body);
    assert_eq!(second.json()["error"], "marketing_limit");
    let (status, answer) = gateway(w, &number_for(&wa), SEND_TOKEN, &promo);
    assert_eq!(
        (status, answer["error"]["code"].as_i64()),
        (400, Some(900_002)),
        "{answer}"
    );
    assert_eq!(w.sent_to(&wa).len(), 1);
}

#[test]
fn meta_errors_come_back_unchanged() {
    let w = worker();
    let wa = contact();
    w.say(&wa, "hello");
    w.settle(&wa);
    let error = meta_error(131049);
    w.graph.script(&wa, &[(400, &error)]);
    let auth = format!("Bearer {SEND_TOKEN}");
    let message = json!({ "messaging_product": "whatsapp", "to": wa, "type": "text", "text": { "body": "hi" } });
    let r = w.send(
        "POST",
        &format!("/v24.0/{}/messages", number_for(&wa)),
        &[("Authorization", &auth)],
        message.to_string().as_bytes(),
    );
    assert_eq!((r.status, r.body.as_str()), (400, error.as_str()));
}

#[test]
fn tokens_are_scoped_rotatable_and_their_scheme_is_case_insensitive() {
    let w = worker();
    let wa = contact();
    w.say(&wa, "hello");
    let message = json!({ "to": wa, "text": "Your order shipped" });
    for token in [SEND_TOKEN, SEND_TOKEN_PREVIOUS, ADMIN_TOKEN] {
        let auth = format!("bearer {token}");
        let r = w.send(
            "POST",
            "/v1/messages",
            &[("Authorization", &auth)],
            message.to_string().as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // The send token reads nothing and erases nothing.
    let auth = format!("Bearer {SEND_TOKEN}");
    for (method, path) in [
        ("GET", format!("/v1/contacts/{wa}/messages")),
        ("GET", format!("/v1/contacts/{wa}/consent")),
        ("DELETE", format!("/v1/contacts/{wa}")),
        ("GET", "/v1/account".to_string()),
    ] {
        let r = w.send(method, &path, &[("Authorization", &auth)], b"");
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (403, Some("forbidden")),
            "{method} {path}"
        );
    }
    assert_eq!(w.history(&wa, "inbound").len(), 1, "not erased");
    // A wrong token on the gateway: Meta's own 190.
    let (status, answer) = gateway(w, &number_for(&wa), "wrong", &message);
    assert_eq!((status, answer["error"]["code"].as_i64()), (401, Some(190)));
}

#[test]
fn no_request_value_reaches_a_graph_url_unchecked() {
    let w = worker();
    let wa = contact();
    w.say(&wa, "hello");
    let before = w.sent_to(&wa).len();
    let injected =
        json!({ "to": wa, "text": "hi", "from": "../../v99.0/123456/subscribed_apps?x=" });
    let r = w.admin("POST", "/v1/messages", Some(&injected.to_string()));
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_phone_number_id"))
    );
    let message = json!({ "to": wa, "type": "text", "text": { "body": "hi" } });
    for number in [
        "abc",
        "..%2F..%2Fv99.0%2F123456%2Fsubscribed_apps%3Fx%3D",
        "1%3Fx%3D1",
    ] {
        let (status, answer) = gateway(w, number, SEND_TOKEN, &message);
        assert_eq!(
            (status, answer["error"]["code"].as_i64()),
            (400, Some(100)),
            "{number}: {answer}"
        );
    }
    assert_eq!(w.sent_to(&wa).len(), before, "nothing sent");
}

#[test]
fn mark_as_read_and_the_typing_indicator_pass_through() {
    let w = worker();
    let wa = contact();
    let hello = w.say(&wa, "hello");
    w.settle(&wa);
    let before = w.graph.read_receipts(&hello);
    let body = json!({ "messaging_product": "whatsapp", "status": "read", "message_id": hello,
                       "typing_indicator": { "type": "text" } });
    let (status, answer) = gateway(w, &number_for(&wa), SEND_TOKEN, &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(w.graph.read_receipts(&hello), before + 1);
}

/// Runs a client script (`program script`) that sends `text` to `to` through the worker with
/// `SEND_TOKEN`, as a business's code would; returns the JSON it printed.
fn run_client(w: &Worker, mut command: Command, to: &str, text: &str) -> Value {
    let out = command
        .current_dir(root())
        .env("WA_EDGE_URL", &w.base)
        .env("WA_EDGE_TOKEN", SEND_TOKEN)
        .env("PHONE_ID", number_for(to))
        .env("TO", to)
        .env("TEXT", text)
        .output()
        .expect("the client's interpreter");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the client's answer as JSON")
}

/// Runs the whatsapp-api-js script with the worker as its Graph API.
fn whatsapp_api_js(w: &Worker, to: &str, text: &str) -> Value {
    let mut node = Command::new("node");
    node.arg("tests/e2e/clients/whatsapp_api_js.mjs");
    run_client(w, node, to, text)
}

#[test]
fn whatsapp_api_js_sends_through_the_gateway_unmodified() {
    let w = worker();
    let wa = contact();
    w.say(&wa, "hello");
    let answer = whatsapp_api_js(w, &wa, "Your order shipped");
    let id = answer["messages"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(id.starts_with("wamid."), "{answer}");
    let sent = client_sends(w, &wa);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["text"]["body"], "Your order shipped");
    assert_eq!(sent[0].body["messaging_product"], "whatsapp");
    // Outside the window, the library gets Meta's 131047, as it would from Meta.
    let stranger = contact();
    let answer = whatsapp_api_js(w, &stranger, "hi");
    assert_eq!(answer["error"]["code"], 131047, "{answer}");
    assert!(w.sent_to(&stranger).is_empty());
}

/// Runs the pywa script (pywa from the project's `.tools/pyclients`) with the worker as Meta's
/// host.
fn pywa(w: &Worker, to: &str, text: &str) -> Value {
    let mut python = Command::new("python3");
    python
        .arg("tests/e2e/clients/pywa_client.py")
        .env("PYTHONPATH", root().join(".tools/pyclients"));
    run_client(w, python, to, text)
}

#[test]
fn pywa_sends_through_the_gateway_and_raises_its_own_131047() {
    let w = worker();
    let wa = contact();
    w.say(&wa, "hello");
    let answer = pywa(w, &wa, "Your order shipped");
    assert!(
        answer["id"]
            .as_str()
            .unwrap_or_default()
            .starts_with("wamid."),
        "{answer}"
    );
    let sent = client_sends(w, &wa);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["text"]["body"], "Your order shipped");
    // Outside the window pywa raises ReEngagementMessage, as it would against Meta.
    let stranger = contact();
    let answer = pywa(w, &stranger, "hi");
    assert_eq!(
        answer,
        json!({ "raised": "ReEngagementMessage", "code": 131047 })
    );
    assert!(w.sent_to(&stranger).is_empty());
}

/// Sends every body to the gateway at the same moment (threads released together).
fn gateway_at_once(w: &Worker, number: &str, bodies: Vec<Value>) -> Vec<(u16, Value)> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(bodies.len()));
    std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    barrier.wait();
                    gateway(w, number, SEND_TOKEN, &body)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    })
}

#[test]
fn sends_to_one_person_at_the_same_moment_share_one_pacing_bucket_and_one_marketing_cap() {
    let w = worker();
    let wa = contact();
    w.say(&wa, "hello");
    w.settle(&wa);
    // The automatic reply took one message of the burst of ten: nine of twelve go.
    let text = json!({ "messaging_product": "whatsapp", "to": wa, "type": "text", "text": { "body": "update" } });
    let answers = gateway_at_once(w, &number_for(&wa), vec![text; 12]);
    let sent = answers.iter().filter(|(s, _)| *s == 200).count();
    let paced = answers
        .iter()
        .filter(|(s, a)| *s == 400 && a["error"]["code"] == 131056)
        .count();
    assert_eq!((sent, paced), (9, 3), "{answers:?}");
    assert_eq!(w.sent_to(&wa).len(), 10);

    // Five marketing templates at once to another person: one goes (MARKETING_PER_DAY = 1).
    let other = contact();
    let promo = json!({ "messaging_product": "whatsapp", "to": other, "type": "template",
        "template": { "name": "spring_sale", "language": { "code": "en_US" } } });
    let answers = gateway_at_once(w, &number_for(&other), vec![promo; 5]);
    let codes: Vec<Option<i64>> = answers
        .iter()
        .map(|(_, a)| a["error"]["code"].as_i64())
        .collect();
    assert_eq!(
        codes.iter().filter(|c| c.is_none()).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == Some(900_002)).count(),
        4,
        "{answers:?}"
    );
    assert_eq!(w.sent_to(&other).len(), 1);
}

#[test]
fn the_emergency_stop_refuses_a_gateway_send_until_it_is_lifted() {
    // A worker of its own: a stop stops every send of the worker it is set on.
    let graph = FakeGraph::start();
    let persist = std::env::temp_dir().join(format!("wa-edge-e2e-stop-{}", unique()));
    let w = start(graph, persist, &[]);
    let wa = contact();
    let template = json!({"messaging_product":"whatsapp","to":wa,"type":"template",
        "template":{"name":"order_update","language":{"code":"en_US"}}});
    let number = number_for(&wa);
    let stop = w.admin(
        "PUT",
        "/v1/account/pause",
        Some(r#"{"reason":"access token leaked"}"#),
    );
    assert_eq!(stop.status, 200, "{}", stop.body);
    let (status, answer) = gateway(&w, &number, SEND_TOKEN, &template);
    assert_eq!(
        (status, answer["error"]["code"].as_i64()),
        (400, Some(900_007)),
        "{answer}"
    );
    assert!(w.graph.requests_to(&wa).is_empty(), "nothing reached Meta");
    let account = w.admin("GET", "/v1/account", None).json();
    assert_eq!(account["stopped"]["reason"], "access token leaked");
    let resumed = w.admin("DELETE", "/v1/account/pause", None).json();
    assert_eq!(resumed["stop_lifted"], true);
    let (status, answer) = gateway(&w, &number, SEND_TOKEN, &template);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(w.graph.requests_to(&wa).len(), 1);
    w.kill();
}
