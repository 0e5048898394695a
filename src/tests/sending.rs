//! Auto-replies, the Cloud API client's error handling and the guarded send API, natively.

use crate::ids::WaId;
use crate::send::{Outbound, OutboundBody, Purpose};
use crate::store::keys::{consent, KeyScheme};
use crate::testing::{self, FakeGraph, ACCESS_TOKEN as TOKEN};
use serde_json::{json, Value};

const T0: u64 = 1_732_000_000;
const WA: &str = "16505551234";
const RULES: &str = r#"[{"name":"hours","match":["opening hours","open"],"reply":"We are open 9 to 5."},
  {"name":"menu","match":["menu"],"reply":"What do you need?","buttons":["Track order","Talk to us"]}]"#;

fn config_vars(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut vars = extra.to_vec();
    vars.push(("AUTO_REPLY_RULES", RULES));
    // Off unless a test asks: mark-as-read calls would take the scripted answers.
    vars.push(("MARK_AS_READ", "false"));
    vars.push(("DEFAULT_REPLY", "Thanks! A person will answer soon."));
    vars
}

fn text(id: &str, at: u64, body: &str) -> String {
    json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"PNID"},
        "messages":[{"from":WA,"id":id,"timestamp":at.to_string(),"type":"text","text":{"body":body}}]}}]}]})
    .to_string()
}

struct World(testing::World);

impl std::ops::Deref for World {
    type Target = testing::World;
    fn deref(&self) -> &testing::World {
        &self.0
    }
}

impl World {
    fn new() -> World {
        World::with(&[])
    }

    fn with(extra: &[(&'static str, &'static str)]) -> World {
        World(testing::World::new(&config_vars(extra)))
    }

    fn deliver_at(&self, body: &str, now: u64) -> (u16, Vec<Outbound>) {
        let (reply, outbox) = self.0.deliver_at(body, now);
        (reply.status, outbox)
    }

    fn say(&self, id: &str, at: u64, body: &str) -> Vec<Outbound> {
        let (status, outbox) = self.deliver_at(&text(id, at, body), at + 1);
        assert_eq!(status, 200);
        outbox
    }

    /// Runs the authorities' alarms for 30 s from `now` with `graph`'s scripted answers, so
    /// retries go out when due; the calls made are copied onto `graph`.
    fn deliver_outbox(&self, graph: &FakeGraph, _outbox: &[Outbound], now: u64) -> Vec<String> {
        let scripted: Vec<_> = graph.answers.borrow_mut().drain(..).collect();
        self.0.graph.answers.borrow_mut().extend(scripted);
        let before = self.0.graph.calls.borrow().len();
        let log = self.0.send_until(now, now + 30);
        let calls = self.0.graph.calls.borrow()[before..].to_vec();
        graph.calls.borrow_mut().extend(calls);
        log
    }

    fn history(&self, now: u64) -> Vec<Value> {
        let (_, v) = self.admin("GET", &format!("/v1/contacts/{WA}/messages"), "", now);
        v["messages"].as_array().cloned().unwrap_or_default()
    }
}

fn replies(outbox: &[Outbound]) -> Vec<(Purpose, String)> {
    outbox
        .iter()
        .filter(|o| o.purpose != Purpose::MarkRead)
        .map(|o| (o.purpose, o.body.summary()))
        .collect()
}

#[test]
fn a_rule_answers_with_its_reply_after_marking_read() {
    let w = World::with(&[("MARK_AS_READ", "true")]);
    let outbox = w.say("wamid.1", T0, "What are your opening hours?");
    assert_eq!(outbox.first().map(|o| o.purpose), Some(Purpose::MarkRead));
    assert_eq!(
        replies(&outbox),
        [(Purpose::AutoReply, "We are open 9 to 5.".to_string())]
    );
    let reply = outbox
        .iter()
        .find(|o| o.purpose == Purpose::AutoReply)
        .unwrap();
    assert_eq!(reply.reply_to.as_ref().map(|m| m.as_str()), Some("wamid.1"));
    assert_eq!(reply.phone_number_id.as_str(), "PNID");
}

#[test]
fn a_rule_with_buttons_sends_interactive_reply_buttons() {
    let w = World::new();
    let outbox = w.say("wamid.1", T0, "menu");
    let reply = outbox
        .iter()
        .find(|o| o.purpose == Purpose::AutoReply)
        .unwrap();
    assert!(matches!(&reply.body, OutboundBody::Buttons { buttons, .. } if buttons.len() == 2));
}

#[test]
fn default_reply_respects_its_cooldown_and_the_pair_rate() {
    let w = World::new();
    assert_eq!(
        replies(&w.say("wamid.1", T0, "hi there")),
        [(
            Purpose::DefaultReply,
            "Thanks! A person will answer soon.".to_string()
        )]
    );
    // 3 s later a rule still answers: the pair rate allows a burst.
    assert_eq!(
        replies(&w.say("wamid.2", T0 + 3, "opening hours?")).len(),
        1
    );
    // The default stays quiet for 24 h.
    assert!(replies(&w.say("wamid.4", T0 + 20, "anyone?")).is_empty());
    assert_eq!(
        replies(&w.say("wamid.5", T0 + 24 * 3600 + 30, "hello again")).len(),
        1
    );
    // Ten messages at once (the API's) empty the bucket: the next automatic reply is refused.
    let later = T0 + 25 * 3600;
    for i in 0..10 {
        let body = json!({"to":WA,"text":format!("update {i}")}).to_string();
        assert_eq!(w.admin("POST", "/v1/messages", &body, later).0, 200);
    }
    assert!(replies(&w.say("wamid.6", later, "opening hours?")).is_empty());
    let actions: Vec<String> = w
        .history(later + 60)
        .iter()
        .filter_map(|m| m["action"].as_str().map(str::to_string))
        .collect();
    assert!(
        actions.contains(&"no_reply_cooldown".to_string()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"no_reply_paced".to_string()),
        "{actions:?}"
    );
}

#[test]
fn a_message_25_hours_old_gets_no_reply_and_one_23_hours_old_does() {
    let w = World::new();
    let (_, outbox) = w.deliver_at(&text("wamid.old", T0, "opening hours?"), T0 + 25 * 3600);
    assert!(
        outbox.is_empty(),
        "no reply and no mark-as-read outside the window"
    );
    let (_, outbox) = w.deliver_at(
        &text("wamid.late", T0 + 100, "opening hours?"),
        T0 + 100 + 23 * 3600,
    );
    assert_eq!(
        replies(&outbox).len(),
        1,
        "a redelivery 23 h late still has an hour"
    );
}

#[test]
fn opted_out_contacts_get_no_auto_reply() {
    let w = World::new();
    w.say("wamid.1", T0, "STOP");
    let outbox = w.say("wamid.2", T0 + 60, "opening hours?");
    assert!(replies(&outbox).is_empty());
    let h = w.history(T0 + 120);
    assert!(h.iter().any(|m| m["action"] == "no_reply_opted_out"));
}

#[test]
fn statuses_reactions_and_system_messages_get_nothing() {
    let w = World::new();
    let status = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"PNID"},
        "statuses":[{"id":"wamid.OUT","status":"read","timestamp":T0.to_string(),"recipient_id":WA}]}}]}]})
    .to_string();
    assert!(w.deliver_at(&status, T0 + 1).1.is_empty());
    let reaction = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"PNID"},
        "messages":[{"from":WA,"id":"wamid.R","timestamp":T0.to_string(),"type":"reaction","reaction":{"message_id":"wamid.OUT","emoji":"👍"}},
                    {"from":WA,"id":"wamid.S","timestamp":T0.to_string(),"type":"system","system":{"body":"changed number","type":"user_changed_number"}}]}}]}]})
    .to_string();
    assert!(w.deliver_at(&reaction, T0 + 1).1.is_empty());
}

#[test]
fn unreadable_consent_fails_closed_with_500_and_no_send() {
    let w = World::new();
    let keys = KeyScheme::new(testing::CONTACT_KEY_SECRET);
    w.kv.plant(&consent(&keys.contact(&WaId::new(WA))), "{corrupt");
    let (status, outbox) = w.deliver_at(&text("wamid.1", T0, "opening hours?"), T0 + 1);
    assert_eq!(status, 500);
    assert!(outbox.is_empty());
}

fn one_reply(w: &World, id: &str, at: u64) -> Vec<Outbound> {
    w.say(id, at, "opening hours?")
        .into_iter()
        .filter(|o| o.purpose == Purpose::AutoReply)
        .collect()
}

#[test]
fn window_closed_131047_is_recorded_and_never_retried() {
    let w = World::new();
    let outbox = one_reply(&w, "wamid.1", T0);
    let graph = FakeGraph::answering(&[FakeGraph::error(131047)]);
    w.deliver_outbox(&graph, &outbox, T0 + 2);
    assert_eq!(graph.calls.borrow().len(), 1);
    let (status, body) = w.admin(
        "POST",
        "/v1/messages",
        &json!({"to":WA,"text":"hello"}).to_string(),
        T0 + 10,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("window_closed"))
    );
    let failed = w
        .history(T0 + 20)
        .into_iter()
        .find(|m| m["action"] == "not_sent")
        .expect("failed send in history");
    assert_eq!(failed["errors"][0]["code"], 131047);
}

#[test]
fn pair_rate_131056_waits_1_then_4_then_16_seconds_then_gives_up() {
    let w = World::new();
    one_reply(&w, "wamid.1", T0);
    let e = FakeGraph::error(131056);
    w.0.script(&[e, e, e, e]);
    let calls = || w.0.graph.calls.borrow().len();
    w.0.send_due(T0 + 2);
    assert_eq!(calls(), 1);
    w.0.send_due(T0 + 2);
    assert_eq!(calls(), 1, "not again before its wait");
    w.0.send_due(T0 + 3);
    assert_eq!(calls(), 2, "1 s later");
    w.0.send_due(T0 + 6);
    assert_eq!(calls(), 2);
    w.0.send_due(T0 + 7);
    assert_eq!(calls(), 3, "4 s later");
    w.0.send_due(T0 + 22);
    assert_eq!(calls(), 3);
    w.0.send_due(T0 + 23);
    assert_eq!(calls(), 4, "16 s later");
    w.0.send_until(T0 + 24, T0 + 100);
    assert_eq!(calls(), 4, "then given up");
    let failed = w
        .history(T0 + 100)
        .into_iter()
        .find(|m| m["action"] == "not_sent")
        .expect("the failure is recorded");
    assert_eq!(failed["errors"][0]["code"], 131056);
    // A 131056 followed by success: sent on the retry, recorded once as sent.
    w.0.script(&[e]);
    one_reply(&w, "wamid.2", T0 + 200);
    w.0.send_until(T0 + 200, T0 + 210);
    assert_eq!(calls(), 6, "succeeds on the retry");
}

#[test]
fn spam_limit_131048_pauses_automatic_sending_until_resumed() {
    let w = World::new();
    let outbox = one_reply(&w, "wamid.1", T0);
    w.deliver_outbox(
        &FakeGraph::answering(&[FakeGraph::error(131048)]),
        &outbox,
        T0 + 2,
    );
    let (_, account) = w.admin("GET", "/v1/account", "", T0 + 5);
    assert_eq!(account["paused"][0]["code"], 131048);
    assert!(one_reply(&w, "wamid.2", T0 + 60).is_empty(), "paused");
    let (status, body) = w.admin(
        "POST",
        "/v1/messages",
        &json!({"to":WA,"text":"hi"}).to_string(),
        T0 + 70,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("number_paused"))
    );
    let (status, body) = w.admin("DELETE", "/v1/account/pause", "", T0 + 80);
    assert_eq!((status, body["resumed"].as_u64()), (200, Some(1)));
    assert_eq!(one_reply(&w, "wamid.3", T0 + 120).len(), 1);
}

#[test]
fn marketing_opt_out_131050_undeliverable_131026_and_token_190() {
    let w = World::new();
    let outbox = one_reply(&w, "wamid.1", T0);
    w.deliver_outbox(
        &FakeGraph::answering(&[FakeGraph::error(131050)]),
        &outbox,
        T0 + 2,
    );
    let (_, consent) = w.admin("GET", &format!("/v1/contacts/{WA}/consent"), "", T0 + 3);
    assert_eq!(
        (consent["status"].as_str(), consent["scope"].as_str()),
        (Some("opted_out"), Some("marketing"))
    );

    let outbox = one_reply(&w, "wamid.2", T0 + 30);
    w.deliver_outbox(
        &FakeGraph::answering(&[FakeGraph::error(131026)]),
        &outbox,
        T0 + 32,
    );
    let (status, body) = w.admin(
        "POST",
        "/v1/messages",
        &json!({"to":WA,"text":"hi"}).to_string(),
        T0 + 40,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("undeliverable"))
    );

    let outbox = one_reply(&w, "wamid.3", T0 + 60);
    let graph = FakeGraph::answering(&[FakeGraph::error(190)]);
    let log = w.deliver_outbox(&graph, &outbox, T0 + 62);
    assert_eq!(
        graph.calls.borrow().len(),
        1,
        "token problems are not retried"
    );
    assert!(
        !log.join(" ").contains(TOKEN),
        "the token never reaches the log"
    );
    let (_, account) = w.admin("GET", "/v1/account", "", T0 + 63);
    assert_eq!(account["token_problems"][0]["code"], 190);
}

#[test]
fn transient_errors_with_metas_code_retry_once() {
    let w = World::new();
    let outbox = one_reply(&w, "wamid.1", T0);
    let unavailable = r#"{"error":{"message":"m","type":"OAuthException","code":131000}}"#;
    let graph = FakeGraph::answering(&[Some((500, unavailable)), Some((500, unavailable))]);
    w.deliver_outbox(&graph, &outbox, T0 + 2);
    assert_eq!(graph.calls.borrow().len(), 2, "one retry, then recorded");
    let out: Vec<Value> = w
        .history(T0 + 40)
        .into_iter()
        .filter(|m| m["direction"] == "outbound")
        .collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["action"], "not_sent");
    assert_eq!(out[0]["errors"][0]["code"], 131000);
}

#[test]
fn asynchronous_131047_in_a_status_closes_the_window() {
    let w = World::new();
    w.say("wamid.1", T0, "hi");
    let failed = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"PNID"},
        "statuses":[{"id":"wamid.SENT0","status":"failed","timestamp":(T0 + 5).to_string(),"recipient_id":WA,"errors":[{"code":131047,"title":"Re-engagement message"}]}]}}]}]})
    .to_string();
    assert_eq!(w.deliver_at(&failed, T0 + 6).0, 200);
    let (status, _) = w.admin(
        "POST",
        "/v1/messages",
        &json!({"to":WA,"text":"hi"}).to_string(),
        T0 + 60,
    );
    assert_eq!(status, 422);
}

#[test]
fn send_api_guards_and_success() {
    let w = World::new();
    let g = &w.0.graph;
    let send = |body: Value, now: u64| w.admin("POST", "/v1/messages", &body.to_string(), now);
    // Never wrote: free-form is refused, and there is no number to send from.
    let (status, body) = send(json!({"to":WA,"text":"hi","from":"106540352242922"}), T0);
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("window_closed"))
    );
    let (status, body) = send(
        json!({"to":WA,"template":{"name":"promo","language":"en_US"}}),
        T0,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("from_required"))
    );
    w.say("wamid.1", T0, "hello");
    let (status, body) = send(
        json!({"to":format!("+{WA}"),"text":"Your order shipped"}),
        T0 + 30,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body["id"]
        .as_str()
        .unwrap_or_default()
        .starts_with("wamid.SENT"));
    let call = g.calls.borrow().last().cloned().unwrap();
    assert_eq!(call.0, "http://graph.test/v24.0/PNID/messages");
    assert_eq!(call.1, TOKEN);
    assert_eq!(call.2["text"]["body"], "Your order shipped");
    // Meta's pair rate as a bucket: nine more at once (ten in all), then one per 6 s.
    for i in 0..9 {
        let (status, body) = send(json!({"to":WA,"text":format!("update {i}")}), T0 + 30);
        assert_eq!(status, 200, "burst message {i}: {body}");
    }
    let (status, body) = send(json!({"to":WA,"text":"again"}), T0 + 30);
    assert_eq!(
        (status, body["retry_after_seconds"].as_u64()),
        (429, Some(6))
    );
    // A marketing opt-out blocks marketing templates but not utility messages.
    w.admin(
        "PUT",
        &format!("/v1/contacts/{WA}/consent"),
        r#"{"status":"opted_out","scope":"marketing","evidence":"phone call"}"#,
        T0 + 40,
    );
    let (status, body) = send(
        json!({"to":WA,"template":{"name":"promo","language":"en_US"},"category":"marketing"}),
        T0 + 50,
    );
    assert_eq!((status, body["error"].as_str()), (409, Some("opted_out")));
    let (status, _) = send(
        json!({"to":WA,"template":{"name":"shipping","language":"en_US"},"category":"utility"}),
        T0 + 90,
    );
    assert_eq!(status, 200);
    w.say("wamid.2", T0 + 100, "STOP");
    let calls_before = g.calls.borrow().len();
    let (status, _) = send(json!({"to":WA,"text":"hello?"}), T0 + 110);
    assert_eq!(status, 409);
    assert_eq!(
        g.calls.borrow().len(),
        calls_before,
        "checked before any Graph call"
    );
    let sent_history = w.history(T0 + 120);
    assert!(sent_history
        .iter()
        .any(|m| m["purpose"] == "api" && m["text"] == "Your order shipped"));
}

#[test]
fn send_api_maps_graph_errors() {
    let w = World::new();
    w.say("wamid.1", T0, "hello");
    for (answer, status, code) in [
        (FakeGraph::error(131047), 422, "window_closed"),
        (FakeGraph::error(130429), 429, "rate_limited"),
        (FakeGraph::error(190), 502, "access_token"),
        (None, 504, "graph_unreachable"),
    ] {
        let mut at = T0 + 10;
        // Each send is paced 6 s from the last; move the clock on.
        at += 10 * w.history(T0 + 1).len() as u64;
        w.0.script(&[answer]);
        let (got, body) = w.admin(
            "POST",
            "/v1/messages",
            &json!({"to":WA,"template":{"name":"t","language":"en"},"category":"utility"})
                .to_string(),
            at,
        );
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{answer:?}"
        );
        assert!(!body.to_string().contains(TOKEN));
    }
}

#[test]
fn asynchronous_131048_in_a_status_pauses_the_number_it_came_from() {
    let w = World::new();
    let failed = json!({"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"PNID"},
        "statuses":[{"id":"wamid.OUT9","status":"failed","timestamp":T0.to_string(),"recipient_id":"15550000009",
            "errors":[{"code":131048,"title":"Spam rate limit hit"}]}]}}]}]})
    .to_string();
    assert_eq!(w.deliver_at(&failed, T0 + 1).0, 200);
    assert!(one_reply(&w, "wamid.1", T0 + 10).is_empty(), "paused");
    let h = w.history(T0 + 20);
    assert!(
        h.iter().any(|m| m["action"] == "no_reply_number_paused"),
        "{h:?}"
    );
}

#[test]
fn a_pause_holds_in_the_numbers_authority_whatever_kv_shows() {
    let w = World::new();
    one_reply(&w, "wamid.1", T0);
    w.deliver_outbox(
        &FakeGraph::answering(&[FakeGraph::error(131048)]),
        &[],
        T0 + 2,
    );
    // Another location's KV has not seen the pause yet: the view loses its signal.
    for key in
        w.0.kv
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("a:pause:"))
    {
        crate::testing::block_on(crate::store::kv::Kv::delete(&w.0.kv, &key)).unwrap();
    }
    assert!(
        one_reply(&w, "wamid.2", T0 + 100).is_empty(),
        "still paused"
    );
    let (status, body) = w.admin(
        "POST",
        "/v1/messages",
        &json!({"to":WA,"text":"hi"}).to_string(),
        T0 + 110,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (429, Some("number_paused"))
    );
}
