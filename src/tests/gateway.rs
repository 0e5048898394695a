//! The send gateway's decisions, natively: what a failed send records, template categories
//! learned from Meta, the marketing pause after a quality report, and a new number's budget.

use crate::testing::{self, admin_request, FakeGraph, ADMIN_TOKEN};
use serde_json::{json, Value};

const T0: u64 = 1_732_000_000;
const NUMBER: &str = "106540352242922";

fn world(extra: &[(&str, &str)]) -> testing::World {
    let mut vars = vec![("MARK_AS_READ", "false")];
    vars.extend_from_slice(extra);
    testing::World::new(&vars)
}

/// `wa` writes to the business number: their window opens.
fn hello(w: &testing::World, wa: &str, id: &str, at: u64) {
    let body = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":NUMBER},
        "messages":[{"from":wa,"id":id,"timestamp":at.to_string(),"type":"text","text":{"body":"hello"}}]}}]}]});
    assert_eq!(w.deliver_at(&body.to_string(), at).0.status, 200);
}

fn account_event(w: &testing::World, field: &str, value: Value, at: u64) {
    let body = json!({"object":"whatsapp_business_account","entry":[{"id":"WABA","time":at,"changes":[{"field":field,"value":value}]}]});
    assert_eq!(w.deliver_at(&body.to_string(), at).0.status, 200);
}

/// A send through Meta's path; the answer's status and JSON.
fn gateway(w: &testing::World, body: Value, now: u64) -> (u16, Value) {
    let path = format!("/v24.0/{NUMBER}/messages");
    let r = w.request(
        admin_request(ADMIN_TOKEN, "POST", &path, &body.to_string()),
        now,
    );
    (
        r.status,
        serde_json::from_str(&r.body).unwrap_or(Value::Null),
    )
}

fn template(to: &str, name: &str) -> Value {
    json!({"messaging_product":"whatsapp","to":to,"type":"template",
           "template":{"name":name,"language":{"code":"en_US"}}})
}

fn code(answer: &Value) -> Option<i64> {
    answer["error"]["code"].as_i64()
}

#[test]
fn a_failed_send_records_the_http_status_and_unknown_distinctly() {
    let w = world(&[]);
    let wa = "15550001111";
    hello(&w, wa, "wamid.in1", T0);
    // (Meta's answers, what the history records: action, HTTP status, Meta's code)
    type Case<'a> = (Vec<Option<(u16, &'a str)>>, &'a str, u16, Option<i64>);
    let cases: [Case; 5] = [
        (
            vec![Some((500, "<html>oops</html>")); 2],
            "unknown",
            500,
            None,
        ),
        (vec![Some((429, ""))], "not_sent", 429, None),
        (vec![None], "unknown", 0, None),
        (vec![Some((200, "{}"))], "unknown", 200, None),
        (
            vec![FakeGraph::error(131026)],
            "not_sent",
            400,
            Some(131026),
        ),
    ];
    for (i, (answers, action, status, meta_code)) in cases.into_iter().enumerate() {
        w.script(&answers);
        let body = json!({"to":wa,"text":format!("attempt {i}")});
        let (_, _) = w.admin(
            "POST",
            "/v1/messages",
            &body.to_string(),
            T0 + 10 + i as u64 * 10,
        );
        let (_, history) = w.admin("GET", &format!("/v1/contacts/{wa}/messages"), "", T0 + 100);
        let record = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["text"] == format!("attempt {i}"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(record["action"], action, "{record}");
        assert_eq!(record["http_status"], status, "{record}");
        let codes: Vec<i64> = record["errors"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["code"].as_i64()).collect())
            .unwrap_or_default();
        assert_eq!(
            codes,
            meta_code.into_iter().collect::<Vec<_>>(),
            "no made-up code 0"
        );
    }
}

#[test]
fn a_template_of_unknown_category_is_marketing_until_meta_says_otherwise() {
    let w = world(&[]);
    let wa = "15550002222";
    hello(&w, wa, "wamid.in1", T0);
    let (status, _) = w.admin(
        "PUT",
        &format!("/v1/contacts/{wa}/consent"),
        r#"{"status":"opted_out","scope":"marketing","evidence":"asked in store"}"#,
        T0 + 1,
    );
    assert_eq!(status, 200);
    let (status, answer) = gateway(&w, template(wa, "order_update"), T0 + 10);
    assert_eq!((status, code(&answer)), (400, Some(131050)), "{answer}");
    let before = w.graph.calls.borrow().len();
    account_event(
        &w,
        "template_category_update",
        json!({"message_template_id":1,"message_template_name":"order_update",
               "message_template_language":"en_US","new_category":"UTILITY"}),
        T0 + 20,
    );
    let (status, answer) = gateway(&w, template(wa, "order_update"), T0 + 30);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(w.graph.calls.borrow().len(), before + 1);
    // A category the caller states wins over what was learned.
    let mut stated = template(wa, "order_update");
    stated["category"] = json!("marketing");
    let (status, answer) = gateway(&w, stated, T0 + 40);
    assert_eq!((status, code(&answer)), (400, Some(131050)), "{answer}");
}

#[test]
fn a_flagged_number_pauses_marketing_until_a_person_resumes_it() {
    let w = world(&[]);
    let wa = "15550003333";
    hello(&w, wa, "wamid.in1", T0);
    account_event(
        &w,
        "phone_number_quality_update",
        json!({"display_phone_number":"15550783881","event":"FLAGGED","current_limit":"TIER_1K"}),
        T0 + 5,
    );
    let mut promo = template(wa, "spring_sale");
    promo["category"] = json!("marketing");
    let (status, answer) = gateway(&w, promo.clone(), T0 + 10);
    assert_eq!((status, code(&answer)), (400, Some(900_004)), "{answer}");
    let (_, account) = w.admin("GET", "/v1/account", "", T0 + 11);
    assert_eq!(
        account["marketing_paused"].as_array().map(Vec::len),
        Some(1),
        "{account}"
    );
    // Replies and utility messages go on.
    let reply = json!({"to":wa,"type":"text","text":{"body":"Your parcel is on its way"}});
    assert_eq!(gateway(&w, reply, T0 + 20).0, 200);
    let (status, _) = w.admin("DELETE", "/v1/account/pause", "", T0 + 30);
    assert_eq!(status, 200);
    let (status, answer) = gateway(&w, promo, T0 + 40);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn a_new_numbers_daily_budget_counts_only_business_initiated_messages() {
    let w = world(&[("RAMP_DAILY_LIMIT", "2")]);
    // A person who wrote: answering them inside the window is not business-initiated.
    hello(&w, "15550004444", "wamid.in1", T0);
    for i in 0..3 {
        let reply = json!({"to":"15550004444","type":"text","text":{"body":format!("reply {i}")}});
        assert_eq!(gateway(&w, reply, T0 + 10 + i).0, 200);
    }
    let utility = |to: &str, at: u64| {
        let mut t = template(to, "order_update");
        t["category"] = json!("utility");
        gateway(&w, t, at)
    };
    assert_eq!(utility("15550005551", T0 + 100).0, 200);
    assert_eq!(utility("15550005552", T0 + 101).0, 200);
    let (status, answer) = utility("15550005553", T0 + 102);
    assert_eq!((status, code(&answer)), (400, Some(900_003)), "{answer}");
    // The operator sees the day's use under the number.
    let (_, account) = w.admin("GET", "/v1/account", "", T0 + 103);
    let used = &account["ramp_budget"][0];
    assert_eq!(
        (&used["handed_out"], &used["limit"], &used["date"]),
        (
            &json!(2),
            &json!(2),
            &json!(crate::time::UnixTime(T0).date())
        ),
        "{account}"
    );
    assert!(used["phone_number_id"].is_string());
    assert_eq!(
        account["guards"]["refused_today"],
        json!({"ramp_budget_used": 1}),
        "the refusal is counted for the day"
    );
    // The next UTC day has a budget again.
    assert_eq!(utility("15550005553", T0 + 86_400).0, 200);
    let (_, account) = w.admin("GET", "/v1/account", "", T0 + 86_401);
    assert_eq!(account["guards"]["ramp_daily_limit"], 2);
}

#[test]
fn the_emergency_stop_holds_every_send_until_resumed_and_loses_none() {
    let w = world(&[]);
    hello(&w, "15550006666", "wamid.in6", T0);
    w.send_until(T0 + 1, T0 + 3);
    let (status, stop) = w.admin(
        "PUT",
        "/v1/account/pause",
        r#"{"reason":"token leaked in a CRM export"}"#,
        T0 + 10,
    );
    assert_eq!(status, 200, "{stop}");
    assert_eq!(stop["stopped"]["reason"], "token leaked in a CRM export");
    let before = w.graph.bodies().len();
    // Both send routes refuse, in their own words.
    let reply = json!({"to":"15550006666","type":"text","text":{"body":"hi"}});
    let (status, answer) = gateway(&w, reply.clone(), T0 + 20);
    assert_eq!((status, code(&answer)), (400, Some(900_007)), "{answer}");
    let (status, answer) = w.admin(
        "POST",
        "/v1/messages",
        &json!({"to":"15550006666","text":"hi"}).to_string(),
        T0 + 21,
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some("sending_stopped"))
    );
    // A STOP is still recorded at once; its confirmation waits, it is not dropped.
    let stop_body = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":NUMBER},
        "messages":[{"from":"15550006666","id":"wamid.stop6","timestamp":(T0 + 30).to_string(),"type":"text","text":{"body":"STOP"}}]}}]}]});
    assert_eq!(w.deliver_at(&stop_body.to_string(), T0 + 30).0.status, 200);
    w.send_until(T0 + 31, T0 + 200);
    assert_eq!(w.graph.bodies().len(), before, "nothing left while stopped");
    let (_, account) = w.admin("GET", "/v1/account", "", T0 + 201);
    assert_eq!(account["stopped"]["reason"], "token leaked in a CRM export");
    // Resumed: the held confirmation goes, once, and sends are allowed again.
    let (status, resumed) = w.admin("DELETE", "/v1/account/pause", "", T0 + 210);
    assert_eq!(
        (status, resumed["stop_lifted"].as_bool()),
        (200, Some(true))
    );
    w.send_until(T0 + 211, T0 + 260);
    let confirmations = w.graph.bodies()[before..]
        .iter()
        .filter(|b| b["context"]["message_id"] == "wamid.stop6")
        .count();
    assert_eq!(confirmations, 1);
    let (_, account) = w.admin("GET", "/v1/account", "", T0 + 261);
    assert!(account["stopped"].is_null(), "{account}");
}

#[test]
fn an_emergency_stop_needs_a_reason_and_the_admin_token() {
    let w = world(&[("SEND_TOKEN", "send-only")]);
    for body in ["{}", r#"{"reason":"   "}"#, "not json"] {
        let (status, answer) = w.admin("PUT", "/v1/account/pause", body, T0);
        assert_eq!(status, 400, "{body}: {answer}");
    }
    let r = w.request(
        admin_request("send-only", "PUT", "/v1/account/pause", r#"{"reason":"x"}"#),
        T0,
    );
    assert_eq!(r.status, 403);
    let (_, account) = w.admin("GET", "/v1/account", "", T0);
    assert!(account["stopped"].is_null());
}
