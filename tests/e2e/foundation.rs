//! Handshake, signatures and routing through the real worker.

use crate::harness::*;

#[test]
fn handshake_echoes_the_challenge_as_plain_text() {
    let w = worker();
    let r = w.get(&format!(
        "/webhook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
    ));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, "1158201444");
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("text/plain"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn handshake_refuses_wrong_token_mode_and_bad_challenge() {
    let w = worker();
    assert_eq!(
        w.get("/webhook?hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong")
            .status,
        403
    );
    assert_eq!(
        w.get(&format!(
            "/webhook?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"
        ))
        .status,
        403
    );
    assert_eq!(
        w.get(&format!(
            "/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"
        ))
        .status,
        400
    );
    let long = "9".repeat(300);
    let r = w.get(&format!(
        "/webhook?hub.mode=subscribe&hub.challenge={long}&hub.verify_token={VERIFY_TOKEN}"
    ));
    assert_eq!(r.status, 400);
    assert!(!r.body.contains(&long), "the challenge must not be echoed");
}

fn delivery_with(wa: &str, id: &str, body: &str) -> String {
    messages_delivery(wa, "Zoë", &[text_message(wa, id, now(), body)])
}

#[test]
fn signature_missing_malformed_and_forged_are_rejected_without_storing() {
    let w = worker();
    let wa = contact();
    let body = delivery_with(&wa, &message_id(), "forged hello");
    let good = wa_edge::webhook::signature::sign(APP_SECRET.as_bytes(), body.as_bytes());
    let forged = wa_edge::webhook::signature::sign(b"not-the-secret", body.as_bytes());
    let upper = good.to_uppercase().replace("SHA256=", "sha256=");
    let short = good[..good.len() - 2].to_string();
    let cases: [(Option<&str>, u16); 4] = [
        (None, 401),
        (Some(&forged), 403),
        (Some(&upper), 403),
        (Some(&short), 403),
    ];
    for (header, status) in cases {
        let headers: Vec<(&str, &str)> = header
            .map(|h| vec![("X-Hub-Signature-256", h)])
            .unwrap_or_default();
        let r = w.send("POST", "/webhook", &headers, body.as_bytes());
        assert_eq!(r.status, status, "{header:?}");
        assert!(!r.body.contains("forged hello") && !r.body.contains(&wa));
    }
    let history = w
        .admin("GET", &format!("/v1/contacts/{wa}/messages"), None)
        .json();
    assert_eq!(
        history["messages"].as_array().map(Vec::len),
        Some(0),
        "nothing stored from rejected deliveries"
    );
}

#[test]
fn escaped_unicode_body_verifies_over_raw_bytes() {
    let w = worker();
    let wa = contact();
    let id = message_id();
    // Meta escapes "/", "@" and non-ASCII: the signature covers these exact bytes.
    let body = delivery_with(&wa, &id, "PLACEHOLDER")
        .replace("PLACEHOLDER", r"caf\u00e9 \/ me\u0040example.com");
    assert!(body.contains(r"\u00e9"));
    let r = w.deliver(&body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        w.history(&wa, "inbound")[0]["text"],
        "café / me@example.com"
    );
}

#[test]
fn previous_secret_is_accepted_during_rotation() {
    let w = worker();
    let wa = contact();
    let body = delivery_with(&wa, &message_id(), "rotated");
    let signature = wa_edge::webhook::signature::sign(PREVIOUS_SECRET.as_bytes(), body.as_bytes());
    let r = w.send(
        "POST",
        "/webhook",
        &[("X-Hub-Signature-256", &signature)],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert_eq!(w.history(&wa, "inbound")[0]["text"], "rotated");
}

#[test]
fn signed_garbage_and_unknown_payloads_are_acknowledged_and_not_stored() {
    // A worker of its own: the whole of its KV is compared, and other tests run meanwhile.
    let graph = FakeGraph::start();
    let persist = std::env::temp_dir().join(format!("wa-edge-e2e-garbage-{}", unique()));
    let own = start(graph, persist, &[]);
    let w = &own;
    let names = |w: &Worker| {
        w.kv_keys()
            .into_iter()
            .map(|k| k.name)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let before = names(w);
    let unknown_field = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","time":1,"changes":[{"field":"brand_new_field","value":{"x":1}}]}]}"#;
    for body in [
        "not json at all",
        "[1,2,3]",
        r#"{"object":"page","entry":[]}"#,
        unknown_field,
    ] {
        let r = w.deliver(body);
        assert_eq!(r.status, 200, "{body}");
    }
    assert_eq!(
        names(w),
        before,
        "unparseable or unknown payloads store nothing"
    );
    own.kill();
}

#[test]
fn oversized_body_is_refused_with_413() {
    let w = worker();
    let body = vec![b' '; 3 * 1024 * 1024 + 1];
    let r = w.send(
        "POST",
        "/webhook",
        &[("X-Hub-Signature-256", "sha256=00")],
        &body,
    );
    assert_eq!(r.status, 413);
}

#[test]
fn routing_answers_404_and_405_and_health_reports_settings() {
    let w = worker();
    assert_eq!(w.get("/nope").status, 404);
    let r = w.send("PUT", "/webhook", &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let health = w.get("/healthz");
    assert_eq!(health.status, 200);
    let h = health.json();
    assert_eq!(h["ready"], true);
    assert_eq!(h["settings"]["WHATSAPP_APP_SECRET"], true);
    assert!(!health.body.contains(APP_SECRET) && !health.body.contains(ADMIN_TOKEN));
}

#[test]
fn admin_api_requires_the_bearer_token() {
    let w = worker();
    let wa = contact();
    assert_eq!(
        w.send("GET", &format!("/v1/contacts/{wa}/messages"), &[], b"")
            .status,
        401
    );
    let r = w.send(
        "GET",
        "/v1/account",
        &[("Authorization", "Bearer wrong")],
        b"",
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "unauthorized");
}

#[test]
fn a_client_that_keeps_failing_the_token_is_refused_429_by_the_rate_limiting_binding() {
    // A worker of its own: the limiter counts per client, and every test comes from 127.0.0.1.
    let graph = FakeGraph::start();
    let persist = std::env::temp_dir().join(format!("wa-edge-e2e-limit-{}", unique()));
    let w = start(graph, persist, &[]);
    let wrong = |_| {
        w.send(
            "GET",
            "/v1/account",
            &[("Authorization", "Bearer wrong")],
            b"",
        )
        .status
    };
    // wrangler.toml allows 20 failures a minute per client.
    let answers: Vec<u16> = (0..21).map(wrong).collect();
    assert!(answers[..20].iter().all(|s| *s == 401), "{answers:?}");
    assert_eq!(answers[20], 429, "{answers:?}");
    let r = w.send("GET", "/v1/account", &[], b"");
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (429, "too_many_failures".into())
    );
    // The operator's valid token still works.
    assert_eq!(w.admin("GET", "/v1/account", None).status, 200);
    w.kill();
}

#[test]
fn large_deliveries_verify_through_the_platforms_hmac() {
    let w = worker();
    let wa = contact();
    let id = message_id();
    // Over the shell's WebCrypto threshold: an unknown field pads the body to ~200 KB.
    let mut value: serde_json::Value = serde_json::from_str(&messages_delivery(
        &wa,
        "Big",
        &[text_message(&wa, &id, now(), "large body")],
    ))
    .unwrap();
    value["entry"][0]["changes"][0]["value"]["padding"] = serde_json::json!("y".repeat(200_000));
    let body = value.to_string();
    let forged = wa_edge::webhook::signature::sign(b"not-the-secret", body.as_bytes());
    let r = w.send(
        "POST",
        "/webhook",
        &[("X-Hub-Signature-256", &forged)],
        body.as_bytes(),
    );
    assert_eq!(r.status, 403);
    assert!(w.history(&wa, "inbound").is_empty());
    let previous = wa_edge::webhook::signature::sign(PREVIOUS_SECRET.as_bytes(), body.as_bytes());
    let r = w.send(
        "POST",
        "/webhook",
        &[("X-Hub-Signature-256", &previous)],
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.history(&wa, "inbound")[0]["text"], "large body");
    assert_eq!(w.deliver(&body).status, 200, "the current secret too");
}

#[test]
fn chunked_bodies_stream_and_stop_at_the_cap() {
    let w = worker();
    let wa = contact();
    let body = messages_delivery(
        &wa,
        "Chunk",
        &[text_message(&wa, &message_id(), now(), "sent chunked")],
    );
    let signature = wa_edge::webhook::signature::sign(APP_SECRET.as_bytes(), body.as_bytes());
    let url = format!("{}/webhook", w.base);
    let r = request_chunked(
        &url,
        &[("X-Hub-Signature-256", &signature)],
        body.as_bytes(),
    )
    .expect("request");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.history(&wa, "inbound")[0]["text"], "sent chunked");
    let huge = vec![b' '; 3 * 1024 * 1024 + 1];
    let r = request_chunked(&url, &[("X-Hub-Signature-256", "sha256=00")], &huge).expect("request");
    assert_eq!(r.status, 413);
    // wrangler's local proxy restarts the worker after a body refused mid-stream, and answers
    // the next POST 503 meanwhile (Meta retries a 503). Wait, bounded, until it is back, so the
    // next test starts on a running worker.
    let deadline = std::time::Instant::now() + SETTLE;
    while w.send("POST", "/webhook", &[], b"{}").status == 503 {
        assert!(
            std::time::Instant::now() < deadline,
            "the worker did not come back"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
