//! Account-level events (template status and quality, phone quality, account updates and
//! alerts, webhook errors) become account signals, shown by `GET /v1/account`.

use crate::json::JsonObject;
use crate::policy::business::{
    account_update_pauses_marketing, quality_pauses_marketing, Category,
};
use crate::store::account::{Signal, SignalKind};
use crate::time::UnixTime;
use crate::webhook::Event;

/// The signal an event raises; `None` for events that are not account-level. Each signal's
/// identity is what makes a redelivery land on the same key.
pub fn signal_of(event: &Event, when: impl Fn(Option<UnixTime>) -> UnixTime) -> Option<Signal> {
    let num =
        |n: &Option<crate::json::Number>| n.as_ref().map(|n| n.to_string()).unwrap_or_default();
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    // The fields every template signal starts with.
    let template = |id: &str, name: &Option<String>, language: &Option<String>| {
        JsonObject::new()
            .with("template_id", id)
            .with("name", name)
            .with("language", language)
    };
    let (kind, identity, at, fields) = match event {
        Event::TemplateStatus { update: u, at } => {
            let id = num(&u.message_template_id);
            let fields = template(&id, &u.message_template_name, &u.message_template_language)
                .with("event", &u.event)
                .with("reason", &u.reason);
            let identity = vec![id, text(&u.message_template_name)];
            (SignalKind::TemplateStatus, identity, when(*at), fields)
        }
        Event::TemplateCategory { update: u, at } => {
            let id = num(&u.message_template_id);
            let fields = template(&id, &u.message_template_name, &u.message_template_language)
                .with("event", "CATEGORY_UPDATE")
                .with("previous_category", &u.previous_category)
                .with("category", &u.new_category);
            let identity = vec![id, text(&u.new_category)];
            (SignalKind::TemplateStatus, identity, when(*at), fields)
        }
        Event::TemplateQuality { update: u, at } => {
            let id = num(&u.message_template_id);
            let fields = template(&id, &u.message_template_name, &u.message_template_language)
                .with("previous", &u.previous_quality_score)
                .with("new", &u.new_quality_score);
            (SignalKind::TemplateQuality, vec![id], when(*at), fields)
        }
        Event::PhoneQuality { update: u, at } => {
            let fields = JsonObject::new()
                .with("display_phone_number", &u.display_phone_number)
                .with("event", &u.event)
                .with("messaging_limit", &u.current_limit);
            let identity = vec![text(&u.display_phone_number)];
            (SignalKind::PhoneQuality, identity, when(*at), fields)
        }
        Event::AccountUpdate { update: u, at } => {
            let at = when(*at);
            let fields = JsonObject::new()
                .with("event", &u.event)
                .with(
                    "ban_state",
                    &u.ban_info.as_ref().and_then(|b| b.waba_ban_state.as_ref()),
                )
                .with(
                    "violation",
                    &u.violation_info
                        .as_ref()
                        .and_then(|v| v.violation_type.as_ref()),
                );
            let identity = vec![text(&u.event), at.0.to_string()];
            (SignalKind::AccountUpdate, identity, at, fields)
        }
        Event::AccountAlert { alert, at } => {
            let at = when(*at);
            let info = alert.alert_info.clone().unwrap_or_default();
            let fields = JsonObject::new()
                .with("entity_type", &alert.entity_type)
                .with("entity_id", &alert.entity_id)
                .with("severity", &info.alert_severity)
                .with("status", &info.alert_status)
                .with("type", &info.alert_type)
                .with("description", &info.alert_description);
            let identity = vec![text(&info.alert_type), at.0.to_string()];
            (SignalKind::AccountAlert, identity, at, fields)
        }
        Event::Error {
            error,
            at,
            phone_number_id,
        } => {
            let at = when(*at);
            let fields = JsonObject::new()
                .with("code", &error.code)
                .with("title", &error.title)
                .with("phone_number_id", phone_number_id);
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
    let pause = |reason: JsonObject, at: Option<UnixTime>| {
        Some(Learned::MarketingPause(Signal {
            kind: SignalKind::MarketingPause,
            identity: vec!["marketing".into()],
            at: when(at),
            fields: reason,
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
                JsonObject::new()
                    .with("reason", "phone_quality")
                    .with("event", &u.event)
                    .with("display_phone_number", &u.display_phone_number),
                *at,
            )
        }
        Event::AccountUpdate { update: u, at }
            if account_update_pauses_marketing(u.event.as_deref()) =>
        {
            pause(
                JsonObject::new()
                    .with("reason", "account_update")
                    .with("event", &u.event),
                *at,
            )
        }
        _ => None,
    }
}
