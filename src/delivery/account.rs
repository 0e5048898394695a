//! Account-level events (template status and quality, phone quality, account updates and
//! alerts, webhook errors) become account signals, shown by `GET /v1/account`.

use crate::policy::business::{
    account_update_pauses_marketing, quality_pauses_marketing, Category,
};
use crate::store::account::{object, Signal, SignalKind};
use crate::time::UnixTime;
use crate::webhook::Event;
use serde_json::{json, Value};

/// The signal an event raises; `None` for events that are not account-level. Each signal's
/// identity is what makes a redelivery land on the same key.
pub fn signal_of(event: &Event, when: impl Fn(Option<UnixTime>) -> UnixTime) -> Option<Signal> {
    let num =
        |n: &Option<serde_json::Number>| n.as_ref().map(|n| n.to_string()).unwrap_or_default();
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    // The fields every template signal starts with, then its own.
    let template = |id: &str, name: &Option<String>, language: &Option<String>, own: Value| {
        let mut fields = object(json!({"template_id": id, "name": name, "language": language}));
        fields.extend(object(own));
        fields
    };
    let (kind, identity, at, fields) = match event {
        Event::TemplateStatus { update: u, at } => {
            let id = num(&u.message_template_id);
            let own = json!({"event": u.event, "reason": u.reason});
            let fields = template(
                &id,
                &u.message_template_name,
                &u.message_template_language,
                own,
            );
            let identity = vec![id, text(&u.message_template_name)];
            (SignalKind::TemplateStatus, identity, when(*at), fields)
        }
        Event::TemplateCategory { update: u, at } => {
            let id = num(&u.message_template_id);
            let own = json!({
                "event": "CATEGORY_UPDATE",
                "previous_category": u.previous_category,
                "category": u.new_category,
            });
            let fields = template(
                &id,
                &u.message_template_name,
                &u.message_template_language,
                own,
            );
            let identity = vec![id, text(&u.new_category)];
            (SignalKind::TemplateStatus, identity, when(*at), fields)
        }
        Event::TemplateQuality { update: u, at } => {
            let id = num(&u.message_template_id);
            let own = json!({"previous": u.previous_quality_score, "new": u.new_quality_score});
            let fields = template(
                &id,
                &u.message_template_name,
                &u.message_template_language,
                own,
            );
            (SignalKind::TemplateQuality, vec![id], when(*at), fields)
        }
        Event::PhoneQuality { update: u, at } => {
            let fields = object(json!({
                "display_phone_number": u.display_phone_number,
                "event": u.event,
                "messaging_limit": u.current_limit,
            }));
            // Each rating change is kept (by its time), so the console shows the number's
            // quality and limit over time; a redelivery lands on the same key.
            let at = when(*at);
            let identity = vec![text(&u.display_phone_number), at.0.to_string()];
            (SignalKind::PhoneQuality, identity, at, fields)
        }
        Event::AccountUpdate { update: u, at } => {
            let at = when(*at);
            let fields = object(json!({
                "event": u.event,
                "ban_state": u.ban_info.as_ref().and_then(|b| b.waba_ban_state.as_ref()),
                "violation": u.violation_info.as_ref().and_then(|v| v.violation_type.as_ref()),
            }));
            let identity = vec![text(&u.event), at.0.to_string()];
            (SignalKind::AccountUpdate, identity, at, fields)
        }
        Event::AccountAlert { alert, at } => {
            let at = when(*at);
            let info = alert.alert_info.clone().unwrap_or_default();
            let fields = object(json!({
                "entity_type": alert.entity_type,
                "entity_id": alert.entity_id,
                "severity": info.alert_severity,
                "status": info.alert_status,
                "type": info.alert_type,
                "description": info.alert_description,
            }));
            let identity = vec![text(&info.alert_type), at.0.to_string()];
            (SignalKind::AccountAlert, identity, at, fields)
        }
        Event::Error {
            error,
            at,
            phone_number_id,
        } => {
            let at = when(*at);
            let fields = object(json!({
                "code": error.code,
                "title": error.title,
                "phone_number_id": phone_number_id,
            }));
            let identity = vec![error.code.to_string(), at.0.to_string()];
            (SignalKind::Error, identity, at, fields)
        }
        _ => return None,
    };
    Some(Signal {
        kind,
        identity,
        at,
        fields,
    })
}

/// What an account event teaches the send gateway: a template's category, and whether
/// marketing must pause (a flagged or low-quality number, a restricted account).
pub enum Learned {
    Category { name: String, category: Category },
    MarketingPause(Signal),
}

pub fn learned_from(event: &Event, when: impl Fn(Option<UnixTime>) -> UnixTime) -> Option<Learned> {
    let category = |name: &Option<String>, category: &Option<String>| {
        Some(Learned::Category {
            name: name.clone()?,
            category: Category::parse(category.as_deref()?)?,
        })
    };
    let pause = |reason: Value, at: Option<UnixTime>| {
        Some(Learned::MarketingPause(Signal {
            kind: SignalKind::MarketingPause,
            identity: vec!["marketing".into()],
            at: when(at),
            fields: object(reason),
        }))
    };
    match event {
        Event::TemplateCategory { update: u, .. } => {
            category(&u.message_template_name, &u.new_category)
        }
        Event::TemplateStatus { update: u, .. } => {
            category(&u.message_template_name, &u.message_template_category)
        }
        Event::PhoneQuality { update: u, at }
            if quality_pauses_marketing(u.event.as_deref(), None) =>
        {
            pause(
                json!({
                    "reason": "phone_quality",
                    "event": u.event,
                    "display_phone_number": u.display_phone_number,
                }),
                *at,
            )
        }
        Event::AccountUpdate { update: u, at }
            if account_update_pauses_marketing(u.event.as_deref()) =>
        {
            pause(json!({"reason": "account_update", "event": u.event}), *at)
        }
        _ => None,
    }
}
