//! The console's sessions and the consent views it shows, over the whole request path: signing
//! in with a token, the cookie standing in for it on the admin routes with a CSRF token on every
//! change, signing out, and the overview's counts and the export across people.

use crate::http::{route, Request, Response};
use crate::testing::{self, payloads, ADMIN_TOKEN};
use serde_json::{json, Value};

const T0: u64 = 1_796_000_000;
const VIEWER: &str = "test-viewer-token";
const SENDER: &str = "test-send-token";

fn world() -> testing::World {
    testing::World::new(&[
        ("MARK_AS_READ", "false"),
        ("VIEWER_TOKEN", VIEWER),
        ("SEND_TOKEN", SENDER),
    ])
}

fn request(method: &str, path: &str, body: &str) -> Request {
    let mut req = testing::admin_request("unused", method, path, body);
    req.authorization = None;
    req
}

/// A browser's request: the session cookie, and the CSRF token when given.
fn browser(method: &str, path: &str, body: &str, cookie: &str, csrf: Option<&str>) -> Request {
    let mut req = request(method, path, body);
    req.cookie = Some(format!("theme=dark; {cookie}"));
    req.csrf = csrf.map(str::to_string);
    req
}

fn json_of(reply: &Response) -> Value {
    serde_json::from_str(&reply.body).unwrap_or_default()
}

fn header<'a>(reply: &'a Response, name: &str) -> Option<&'a str> {
    reply
        .headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

/// The page's sign-in with `token`.
fn sign_in_request(token: &str) -> Request {
    request(
        "POST",
        "/console/session",
        &json!({ "token": token }).to_string(),
    )
}

/// Signs in with `token`; the cookie (`name=value`) and the CSRF token.
fn sign_in(w: &testing::World, token: &str, now: u64) -> (String, String) {
    let reply = w.request(sign_in_request(token), now);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let set = header(&reply, "set-cookie").expect("a session cookie");
    let cookie = set.split(';').next().unwrap_or_default().to_string();
    (
        cookie,
        json_of(&reply)["csrf"].as_str().unwrap_or_default().into(),
    )
}

fn stop_from(w: &testing::World, wa: &str, id: &str, at: u64, text: &str) {
    let body = payloads::messages_delivery(
        "PNID",
        wa,
        "Ann",
        &[payloads::text_message(wa, id, at, text)],
    );
    assert_eq!(w.deliver_at(&body, at + 1).0.status, 200);
}

#[test]
fn a_session_stands_in_for_the_token_and_every_change_needs_its_csrf_token() {
    let w = world();
    stop_from(&w, "15551230001", "wamid.C1", T0, "STOP");
    let (cookie, csrf) = sign_in(&w, ADMIN_TOKEN, T0 + 10);
    let account = w.request(browser("GET", "/v1/account", "", &cookie, None), T0 + 11);
    assert_eq!(account.status, 200, "{}", account.body);
    let lookup = json!({ "wa_id": "15551230001" }).to_string();
    let without = w.request(
        browser("POST", "/v1/contacts/lookup", &lookup, &cookie, None),
        T0 + 12,
    );
    assert_eq!(without.status, 403);
    assert_eq!(json_of(&without)["error"], "csrf_token_invalid");
    let wrong = w.request(
        browser("POST", "/v1/contacts/lookup", &lookup, &cookie, Some("00")),
        T0 + 12,
    );
    assert_eq!(wrong.status, 403);
    let with = w.request(
        browser("POST", "/v1/contacts/lookup", &lookup, &cookie, Some(&csrf)),
        T0 + 12,
    );
    assert_eq!(with.status, 200, "{}", with.body);
    assert_eq!(json_of(&with)["status"], "opted_out");
    // A stop without the CSRF token stops nothing.
    let stop = json!({ "reason": "leaked token" }).to_string();
    let refused = w.request(
        browser("PUT", "/v1/account/pause", &stop, &cookie, None),
        T0 + 13,
    );
    assert_eq!(refused.status, 403);
    let (_, account) = w.admin("GET", "/v1/account", "", T0 + 13);
    assert_eq!(account["stopped"], Value::Null);
    // The console sends nothing, so a session cannot either.
    let send = json!({ "to": "15551230001", "text": "hi" }).to_string();
    let sent = w.request(
        browser("POST", "/v1/messages", &send, &cookie, Some(&csrf)),
        T0 + 14,
    );
    assert_eq!(sent.status, 401);
    assert!(w.graph.calls.borrow().is_empty());
}

#[test]
fn a_viewer_session_reads_everything_and_changes_nothing() {
    let w = world();
    stop_from(&w, "15551230002", "wamid.C2", T0, "STOP");
    let (cookie, csrf) = sign_in(&w, VIEWER, T0 + 10);
    let shown = w.request(
        browser("GET", "/console/session", "", &cookie, None),
        T0 + 11,
    );
    assert_eq!(json_of(&shown)["scope"], "viewer");
    for path in ["/v1/account", "/v1/consent/overview", "/v1/consent/export"] {
        let read = w.request(browser("GET", path, "", &cookie, None), T0 + 11);
        assert_eq!(read.status, 200, "{path}: {}", read.body);
    }
    let person = json!({ "wa_id": "15551230002" }).to_string();
    let stop = json!({ "reason": "x" }).to_string();
    let opt_in = json!({ "wa_id": "15551230002", "status": "opted_in", "scope": "all" });
    for (method, path, body) in [
        ("POST", "/v1/contacts/erase", person.clone()),
        ("PUT", "/v1/account/pause", stop),
        ("DELETE", "/v1/account/pause", String::new()),
        ("POST", "/v1/contacts/consent", opt_in.to_string()),
    ] {
        let refused = w.request(browser(method, path, &body, &cookie, Some(&csrf)), T0 + 12);
        assert_eq!(refused.status, 403, "{method} {path}");
        assert_eq!(json_of(&refused)["error"], "forbidden");
    }
    let (_, consent) = w.admin("POST", "/v1/contacts/lookup", &person, T0 + 13);
    assert_eq!(consent["status"], "opted_out", "nothing was changed");
}

#[test]
fn only_the_admin_and_viewer_tokens_sign_in() {
    let w = world();
    let send = w.request(sign_in_request(SENDER), T0);
    assert_eq!(send.status, 403);
    assert!(header(&send, "set-cookie").is_none());
    let wrong = w.request(sign_in_request("nope"), T0);
    assert_eq!(wrong.status, 401);
    assert!(header(&wrong, "set-cookie").is_none());
    let malformed = w.request(request("POST", "/console/session", "token=x"), T0);
    assert_eq!(malformed.status, 400);
}

#[test]
fn wrong_tokens_at_the_sign_in_count_against_the_client_like_wrong_bearer_tokens() {
    let w = world();
    w.graph.failure_limit.set(Some(2));
    let attempt = |token: &str| w.request(sign_in_request(token), T0).status;
    assert_eq!((attempt("guess-1"), attempt("guess-2")), (401, 401));
    assert_eq!(attempt("guess-3"), 429);
    let forged = browser(
        "GET",
        "/v1/account",
        "",
        "wa_console=v1.admin.9999999999.00.00",
        None,
    );
    assert_eq!(
        w.request(forged, T0).status,
        429,
        "a forged cookie is a failure too"
    );
    assert_eq!(attempt(ADMIN_TOKEN), 200, "a valid token is never refused");
}

#[test]
fn a_signed_out_expired_or_forged_cookie_is_refused() {
    let w = world();
    let (cookie, csrf) = sign_in(&w, ADMIN_TOKEN, T0);
    let (other, _) = sign_in(&w, ADMIN_TOKEN, T0);
    assert_ne!(cookie, other, "two sessions are two");
    let read = |c: &str, now: u64| {
        w.request(browser("GET", "/v1/account", "", c, None), now)
            .status
    };
    assert_eq!(read(&cookie, T0 + 1), 200);
    assert_eq!(read(&cookie, T0 + 3600), 401, "expired after an hour");
    let forged = cookie.replacen("admin", "viewer", 1);
    assert_eq!(read(&forged, T0 + 1), 401);
    // Signing out needs the CSRF token too, then the same cookie is refused.
    let end = |csrf: Option<&str>| {
        w.request(
            browser("POST", "/console/session/end", "", &cookie, csrf),
            T0 + 2,
        )
    };
    assert_eq!(end(None).status, 403);
    let ended = end(Some(&csrf));
    assert_eq!(ended.status, 200);
    assert!(header(&ended, "set-cookie").is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(read(&cookie, T0 + 3), 401);
    assert_eq!(read(&other, T0 + 3), 200, "another session goes on");
}

#[test]
fn the_page_runs_only_its_own_script() {
    let w = world();
    let page = w.request(request("GET", "/console", ""), T0);
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    let policy = header(&page, "content-security-policy").unwrap_or_default();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"));
    assert_eq!(
        route("GET", "/console/console.js"),
        route("GET", "/console/console.js/")
    );
    assert_eq!(
        w.request(request("GET", "/console/other.js", ""), T0)
            .status,
        404
    );
}

#[test]
fn the_overview_counts_a_burst_of_opt_outs_in_one_second_and_each_person_once() {
    let w = world();
    let people: Vec<String> = (0..25).map(|i| format!("1555124{i:04}")).collect();
    for (i, wa) in people.iter().enumerate() {
        stop_from(&w, wa, &format!("wamid.B{i}"), T0, "STOP");
    }
    // Two people opt back in the next day, one opts out of marketing only.
    stop_from(&w, &people[0], "wamid.B100", T0 + 86_400, "START");
    stop_from(&w, &people[1], "wamid.B101", T0 + 86_400, "START");
    let (status, _) = w.admin(
        "POST",
        "/v1/contacts/consent",
        &json!({"wa_id": "447700900123", "status": "opted_out", "scope": "marketing", "evidence": "phone call 4 Dec"}).to_string(),
        T0 + 86_400 + 5,
    );
    assert_eq!(status, 200);
    // A person with a phone number and a BSUID is one person.
    let ids = payloads::Ids {
        phone: Some("15551249999"),
        bsuid: Some("US.13491208655302741918"),
        parent: None,
    };
    let linked = payloads::identity_text("PNID", ids, "wamid.B200", T0 + 86_400, "STOP");
    assert_eq!(w.deliver_at(&linked, T0 + 86_401).0.status, 200);

    let (status, overview) = w.admin("GET", "/v1/consent/overview", "", T0 + 86_400 + 60);
    assert_eq!(status, 200, "{overview}");
    assert_eq!(
        overview["people"],
        json!({"opted_out_all": 24, "opted_out_marketing": 1, "opted_in": 2, "unknown": 0})
    );
    let days = overview["days"].as_array().cloned().unwrap_or_default();
    assert_eq!(days.len(), 30);
    let today = &days[29];
    let yesterday = &days[28];
    assert_eq!(yesterday["date"], crate::time::UnixTime(T0).date());
    assert_eq!(
        (&yesterday["opted_out"], &yesterday["opted_in"]),
        (&json!(25), &json!(0))
    );
    assert_eq!(
        (
            &today["opted_out"],
            &today["opted_out_marketing"],
            &today["opted_in"]
        ),
        (&json!(1), &json!(1), &json!(2))
    );
    let latest = overview["latest"].as_array().cloned().unwrap_or_default();
    assert_eq!(latest.len(), 20);
    let call = latest
        .iter()
        .find(|c| c["source"] == "admin")
        .expect("the operator's change is among the latest");
    assert_eq!(call["ids"], json!(["+44 770 ••• 0123"]));
    assert_eq!(call["evidence"], "phone call 4 Dec");
    let text = overview.to_string();
    assert!(
        !text.contains("15551240003"),
        "no whole number in the overview"
    );
}

#[test]
fn the_export_holds_every_record_once_with_its_ids_and_no_message_text() {
    let w = world();
    stop_from(&w, "15551250001", "wamid.E1", T0, "Stop please");
    stop_from(&w, "15551250002", "wamid.E2", T0, "hello there");
    stop_from(&w, "15551250002", "wamid.E3", T0 + 5, "Stop");
    let ids = payloads::Ids {
        phone: Some("15551250003"),
        bsuid: Some("US.555000111222"),
        parent: None,
    };
    let linked = payloads::identity_text("PNID", ids, "wamid.E4", T0, "unsubscribe");
    assert_eq!(w.deliver_at(&linked, T0 + 1).0.status, 200);
    let reply = w.request(
        testing::admin_request(ADMIN_TOKEN, "GET", "/v1/consent/export", ""),
        T0 + 10,
    );
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "application/x-ndjson");
    assert!(header(&reply, "x-next-cursor").is_none());
    let rows: Vec<Value> = reply
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    assert_eq!(rows.len(), 3, "{}", reply.body);
    let mut ids: Vec<String> = rows.iter().map(|r| r["ids"].to_string()).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            r#"["15551250001"]"#,
            r#"["15551250002"]"#,
            r#"["15551250003","US.555000111222"]"#
        ]
    );
    assert!(rows.iter().all(|r| r["status"] == "opted_out"));
    for text in ["please", "hello there"] {
        assert!(!reply.body.contains(text), "no message text: {text}");
    }
    let csv = w.request(
        testing::admin_request(ADMIN_TOKEN, "GET", "/v1/consent/export?format=csv", ""),
        T0 + 10,
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines.first().map(|l| l.starts_with("ids,status,scope")),
        Some(true)
    );
    assert_eq!(lines.len(), 4, "{}", csv.body);
    assert!(lines
        .iter()
        .any(|l| l.starts_with("15551250001,opted_out,all,")));
    let bad = w.request(
        testing::admin_request(ADMIN_TOKEN, "GET", "/v1/consent/export?format=xml", ""),
        T0 + 10,
    );
    assert_eq!(bad.status, 400);
}
