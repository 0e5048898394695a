//! Every file under tests/fixtures parses into the events it should, and every file is listed.

use crate::webhook::identity::ids_of;
use crate::webhook::message::Content;
use crate::webhook::{parse, Event};
use std::path::Path;

/// The person's ids when an event shows more than one (they are linked), and a username.
fn identity_suffix(e: &Event) -> String {
    let ids = ids_of(e);
    let mut out = String::new();
    if ids.len() > 1 {
        let ids: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        out.push_str(&format!(" ids={}", ids.join(",")));
    }
    if let Event::Message { profile, .. } = e {
        if let Some(username) = &profile.username {
            out.push_str(&format!(" {username}"));
        }
    }
    out
}

fn describe(e: &Event) -> String {
    format!("{}{}", describe_item(e), identity_suffix(e))
}

fn describe_item(e: &Event) -> String {
    match e {
        Event::Message {
            message, profile, ..
        } => {
            let content = match message.content() {
                Content::Text(t) => format!("text:{t}"),
                Content::Media { kind, media } => {
                    format!("{}:{}", kind.as_str(), media.id.unwrap_or_default())
                }
                Content::Location(l) => format!("location:{}", l.name.unwrap_or_default()),
                Content::Contacts(names) => format!("contacts:{}", names.join("|")),
                Content::Reaction(r) => format!("reaction:{}", r.emoji.unwrap_or_default()),
                Content::ButtonReply(r) => format!("button_reply:{}", r.title.unwrap_or_default()),
                Content::ListReply(r) => format!("list_reply:{}", r.title.unwrap_or_default()),
                Content::FlowReply(f) => format!("flow_reply:{}", f.name.unwrap_or_default()),
                Content::Button(b) => format!("button:{}", b.text.unwrap_or_default()),
                Content::Order(o) => format!("order:{}", o.product_items.len()),
                Content::System(s) => format!("system:{}", s.kind.unwrap_or_default()),
                Content::RequestWelcome => "request_welcome".into(),
                Content::Unsupported(errors) => format!(
                    "unsupported:{}",
                    errors.first().map(|e| e.code).unwrap_or_default()
                ),
                Content::Unknown(kind) => format!("unknown_type:{kind}"),
            };
            format!(
                "message {content} from {} ({})",
                message.sender().map(|s| s.as_str()).unwrap_or("?"),
                profile.name.clone().unwrap_or_default()
            )
        }
        Event::Status { status, .. } => format!(
            "status {} {}",
            status.status.as_ref().map(|s| s.as_str()).unwrap_or("?"),
            status
                .errors
                .iter()
                .map(|e| e.code.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
        .trim_end()
        .to_string(),
        Event::Error { error, .. } => format!("error {}", error.code),
        Event::UserPreference { preference: p, .. } => format!(
            "user_preference {}",
            p.value.as_ref().map(|v| v.as_str()).unwrap_or("?")
        ),
        Event::TemplateStatus { update, .. } => format!(
            "template_status {}",
            update.event.clone().unwrap_or_default()
        ),
        Event::TemplateCategory { update, .. } => format!(
            "template_category {}",
            update.new_category.clone().unwrap_or_default()
        ),
        Event::TemplateQuality { update, .. } => format!(
            "template_quality {}",
            update.new_quality_score.clone().unwrap_or_default()
        ),
        Event::PhoneQuality { update, .. } => {
            format!("phone_quality {}", update.event.clone().unwrap_or_default())
        }
        Event::AccountUpdate { update, .. } => format!(
            "account_update {}",
            update.event.clone().unwrap_or_default()
        ),
        Event::AccountAlert { alert, .. } => format!(
            "account_alert {}",
            alert
                .alert_info
                .as_ref()
                .and_then(|a| a.alert_severity.clone())
                .unwrap_or_default()
        ),
        Event::Unknown { field } => format!("unknown {field}"),
        Event::Invalid { field, .. } => format!("invalid {field}"),
    }
}

const FROM: &str = "from 16505551234 (Sheena Nelson)";

fn expected() -> Vec<(&'static str, Vec<String>)> {
    let one = |s: &str| vec![format!("message {s} {FROM}")];
    vec![
        (
            "messages/text.json",
            one("text:Hello, is my order on its way?"),
        ),
        (
            "messages/text_escaped.json",
            one("text:Café order / pay@example.com ✓"),
        ),
        ("messages/image.json", one("image:1479537139650973")),
        ("messages/video.json", one("video:2479537139650973")),
        ("messages/audio_voice.json", one("audio:3479537139650973")),
        ("messages/document.json", one("document:4479537139650973")),
        ("messages/sticker.json", one("sticker:5479537139650973")),
        ("messages/location.json", one("location:Meta Headquarters")),
        ("messages/contacts.json", one("contacts:Barbara J. Johnson")),
        ("messages/reaction.json", one("reaction:👍")),
        (
            "messages/interactive_button_reply.json",
            one("button_reply:Track order"),
        ),
        (
            "messages/interactive_list_reply.json",
            one("list_reply:Medium"),
        ),
        (
            "messages/interactive_nfm_reply.json",
            one("flow_reply:flow"),
        ),
        (
            "messages/button_quick_reply.json",
            one("button:Confirm appointment"),
        ),
        (
            "messages/button_stop_promotions.json",
            one("button:Stop promotions"),
        ),
        ("messages/order.json", one("order:1")),
        (
            "messages/system_number_change.json",
            vec![format!(
                "message system:user_changed_number {FROM} ids=16505551234,16505559999"
            )],
        ),
        (
            "identities/both_ids.json",
            vec![format!(
                "message text:STOP {FROM} ids=16505551234,US.13491208655302741918,US.ENT.11815799212886844830 @sheena"
            )],
        ),
        (
            "identities/bsuid_only.json",
            vec!["message text:Hi, where is my parcel? from US.13491208655302741918 (Kai) @kai.w".into()],
        ),
        (
            "identities/parent_bsuid.json",
            vec!["message text:hello from the other shop from GB.20000000000000000002 (Kai) ids=GB.20000000000000000002,US.ENT.11815799212886844830".into()],
        ),
        (
            "identities/status_bsuid.json",
            vec!["status delivered ids=16505551234,US.13491208655302741918,US.ENT.11815799212886844830".into()],
        ),
        (
            "identities/user_changed_user_id.json",
            vec!["message system:user_changed_user_id from US.13491208655302741918 () ids=US.13491208655302741918,US.30000000000000000003".into()],
        ),
        ("messages/request_welcome.json", one("request_welcome")),
        ("messages/unsupported.json", one("unsupported:131051")),
        ("messages/unknown_type.json", one("unknown_type:hologram")),
        ("messages/timestamp_millis.json", one("text:ms")),
        (
            "messages/batched_2x3.json",
            (0..2)
                .flat_map(|e| (0..3).map(move |i| format!("message text:message {e}.{i} {FROM}")))
                .collect(),
        ),
        (
            "messages/malformed_item.json",
            vec![
                format!("message text:good one {FROM}"),
                "invalid messages.messages".into(),
                format!("message text:good two {FROM}"),
            ],
        ),
        (
            "messages/statuses_sent_delivered_read.json",
            vec![
                "status sent".into(),
                "status delivered".into(),
                "status read".into(),
            ],
        ),
        (
            "messages/status_failed.json",
            vec!["status failed 131047".into()],
        ),
        (
            "messages/status_unknown.json",
            vec!["status teleported".into()],
        ),
        ("messages/errors.json", vec!["error 131000".into()]),
        (
            "user_preferences/stop.json",
            vec!["user_preference stop".into()],
        ),
        (
            "user_preferences/resume.json",
            vec!["user_preference resume".into()],
        ),
        (
            "message_template_status_update/approved.json",
            vec!["template_status APPROVED".into()],
        ),
        (
            "message_template_status_update/rejected.json",
            vec!["template_status REJECTED".into()],
        ),
        (
            "template_category_update/utility.json",
            vec!["template_category UTILITY".into()],
        ),
        (
            "message_template_quality_update/downgraded.json",
            vec!["template_quality YELLOW".into()],
        ),
        (
            "phone_number_quality_update/flagged.json",
            vec!["phone_quality FLAGGED".into()],
        ),
        (
            "account_update/violation.json",
            vec!["account_update ACCOUNT_VIOLATION".into()],
        ),
        (
            "account_alerts/low_limit.json",
            vec!["account_alert WARNING".into()],
        ),
        ("unknown/new_field.json", vec!["unknown calls".into()]),
    ]
}

fn fixtures_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn every_fixture_parses_into_its_events() {
    for (path, want) in expected() {
        let body =
            std::fs::read(fixtures_dir().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let events = parse(&body).unwrap_or_else(|e| panic!("{path}: {e:?}"));
        let got: Vec<String> = events.iter().map(describe).collect();
        assert_eq!(got, want, "{path}");
    }
}

#[test]
fn every_fixture_file_is_in_the_table() {
    let listed: Vec<&str> = expected().iter().map(|(p, _)| *p).collect();
    let mut found = Vec::new();
    for dir in std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .flatten()
    {
        for file in std::fs::read_dir(dir.path()).expect("field dir").flatten() {
            let rel = format!(
                "{}/{}",
                dir.file_name().to_string_lossy(),
                file.file_name().to_string_lossy()
            );
            found.push(rel);
        }
    }
    for f in &found {
        assert!(listed.contains(&f.as_str()), "{f} has no expectation");
    }
    assert_eq!(found.len(), listed.len());
}

#[test]
fn millisecond_timestamps_are_normalised() {
    let body =
        std::fs::read(fixtures_dir().join("messages/timestamp_millis.json")).expect("fixture");
    let events = parse(&body).expect("parse");
    let Some(Event::Message { message, .. }) = events.first() else {
        panic!("a message")
    };
    assert_eq!(
        message.timestamp,
        Some(crate::time::UnixTime(1_732_000_000))
    );
}

#[test]
fn non_envelopes_are_parse_errors_not_panics() {
    for body in [
        &b"not json"[..],
        b"",
        b"[]",
        b"{\"entry\":5}",
        b"null",
        b"\xff\xfe",
    ] {
        match parse(body) {
            Ok(events) => assert!(
                events
                    .iter()
                    .all(|e| matches!(e, Event::Invalid { .. } | Event::Unknown { .. })),
                "{body:?}"
            ),
            Err(crate::webhook::ParseError::NotAnEnvelope(_)) => {}
        }
    }
}

#[test]
fn invalid_reasons_never_quote_the_payload() {
    let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"16505551234","id":7,"text":"secret words"}]}}]}]}"#;
    let events = parse(body).expect("parse");
    let text = format!("{events:?}");
    assert!(text.contains("Invalid"));
    assert!(
        !text.contains("secret words") && !text.contains("16505551234"),
        "{text}"
    );
}

#[test]
fn a_malformed_item_is_named_by_its_field_and_its_neighbours_keep_their_exact_text() {
    let good = r#"{"from":"16505551234", "id":"wamid.A","timestamp":"1732000000","type":"text","text":{"body":"caf\u00e9"}}"#;
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"changes":[{{"field":"messages","value":{{"messages":[{{"from":"16505551234","id":"wamid.B","text":"secret words"}},{good}]}}}}]}}]}}"#
    );
    let events = parse(body.as_bytes()).expect("parse");
    let [Event::Invalid { field, reason }, Event::Message { raw, message, .. }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(field, "messages.messages");
    // The kind of problem and where, never the value.
    assert!(reason.contains("expected struct Text"), "{reason}");
    assert!(!reason.contains("secret"), "{reason}");
    // Handed on to the person's authority exactly as Meta sent it, escapes and spacing kept.
    assert_eq!(raw, good);
    assert_eq!(message.text.as_ref().unwrap().body, "café");
}

#[test]
fn an_item_that_gives_a_key_twice_is_invalid_and_loses_no_neighbour() {
    let twice = r#"{"from":"16505551234","id":"wamid.T","type":"text","text":{"body":"STOP","body":"hello"}}"#;
    let good = r#"{"from":"16505551234","id":"wamid.G","type":"text","text":{"body":"hi"}}"#;
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"changes":[{{"field":"messages","value":{{"messages":[{twice},{good}]}}}}]}}]}}"#
    );
    let events = parse(body.as_bytes()).expect("parse");
    let [Event::Invalid { reason, .. }, Event::Message { raw, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert!(reason.contains("duplicate field `body`"), "{reason}");
    assert!(
        !reason.contains("STOP") && !reason.contains("hello"),
        "{reason}"
    );
    assert_eq!(raw, good);
}
