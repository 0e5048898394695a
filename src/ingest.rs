//! Decide and act on a verified delivery: dedupe, store, apply consent, plan replies.
//!
//! Order (see README "Exactly once"): read markers → decide → write records and consent →
//! write markers last. A failure anywhere returns an error before any marker is written, so
//! Meta's retry redoes the work; records have deterministic keys, so redoing it stores nothing
//! twice, and consent changes are idempotent by their evidence.

use crate::config::Config;
use crate::consent::{
    Applied, ConsentChange, ConsentRecord, ConsentStatus, Intent, Keywords, Scope, Source,
};
use crate::ids::{MessageId, PhoneNumberId, WaId};
use crate::keys::{self, ContactKey, KeyScheme};
use crate::kv::{Kv, KvError};
use crate::records::{MessageRecord, StatusRecord};
use crate::retention::{event_time, expires_at, is_replay, DEDUPE_TTL};
use crate::time::UnixTime;
use crate::webhook::account::PreferenceValue;
use crate::webhook::message::{Content, MetaError};
use crate::webhook::status::StatusKind;
use crate::webhook::Event;
use crate::window;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};

/// Meta's "user stopped marketing messages" send error.
pub const ERROR_MARKETING_OPT_OUT: i64 = 131050;

pub struct Ctx<'a, K: Kv> {
    pub kv: &'a K,
    pub keys: &'a KeyScheme,
    pub config: &'a Config,
    pub keywords: &'a Keywords,
    pub now: UnixTime,
}

impl<'a, K: Kv> Ctx<'a, K> {
    pub fn new(
        kv: &'a K,
        keys: &'a KeyScheme,
        config: &'a Config,
        keywords: &'a Keywords,
        now: UnixTime,
    ) -> Self {
        Ctx {
            kv,
            keys,
            config,
            keywords,
            now,
        }
    }
}

/// What a delivery amounted to: counts only, safe to log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub stored: u32,
    pub duplicates: u32,
    pub replays: u32,
    pub ignored: u32,
    pub invalid: u32,
    pub consent_changes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    OptOutConfirmation,
    OptInConfirmation,
    Help,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::OptOutConfirmation => "opt_out_confirmation",
            Purpose::OptInConfirmation => "opt_in_confirmation",
            Purpose::Help => "help",
        }
    }
}

/// A message to send after the 200, decided (and recorded) before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub to: WaId,
    pub phone_number_id: PhoneNumberId,
    pub text: String,
    pub purpose: Purpose,
    pub reply_to: Option<MessageId>,
}

struct Put {
    key: String,
    value: String,
    expires: Option<UnixTime>,
    metadata: Option<serde_json::Value>,
}

/// Writes decided for this delivery, and the consent records it touched (loaded once each,
/// written once each, so several consent events for one contact cost one KV write).
#[derive(Default)]
struct Plan {
    records: Vec<Put>,
    consent: BTreeMap<String, (ConsentRecord, bool)>,
    markers: Vec<Put>,
    outbox: Vec<Outbound>,
    seen: HashSet<String>,
}

impl Plan {
    async fn consent<K: Kv>(
        &mut self,
        kv: &K,
        contact: &ContactKey,
    ) -> Result<&mut (ConsentRecord, bool), KvError> {
        let key = keys::consent(contact);
        if !self.consent.contains_key(&key) {
            let record = load_consent(kv, &key).await?;
            self.consent.insert(key.clone(), (record, false));
        }
        self.consent
            .get_mut(&key)
            .ok_or_else(|| KvError::Unavailable("consent cache".into()))
    }

    fn record(
        &mut self,
        key: String,
        value: &impl Serialize,
        expires: UnixTime,
        metadata: serde_json::Value,
    ) {
        if let Ok(value) = serde_json::to_string(value) {
            self.records.push(Put {
                key,
                value,
                expires: Some(expires),
                metadata: Some(metadata),
            });
        }
    }
}

/// Reads a consent record. A record that does not parse is treated as KV failure: refusing to
/// guess keeps an opted-out contact from being messaged (fail closed).
pub async fn load_consent<K: Kv>(kv: &K, key: &str) -> Result<ConsentRecord, KvError> {
    match kv.get(key).await? {
        None => Ok(ConsentRecord::default()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|_| KvError::Unavailable("unreadable consent record".into())),
    }
}

/// Applies every event of a delivery. Err means "answer 500": nothing was marked done.
pub async fn ingest<K: Kv>(
    ctx: &Ctx<'_, K>,
    events: Vec<Event>,
) -> Result<(Summary, Vec<Outbound>), KvError> {
    let mut plan = Plan::default();
    let mut summary = Summary::default();
    for event in events {
        match event {
            Event::Message {
                phone_number_id,
                profile_name,
                message,
            } => {
                let (Some(sender), Some(id)) = (message.sender().cloned(), message.id.clone())
                else {
                    summary.invalid += 1;
                    continue;
                };
                let at = event_time(message.timestamp, ctx.now);
                if is_replay(at, ctx.now) {
                    summary.replays += 1;
                    continue;
                }
                let mk = ctx.keys.message(&id);
                let marker = keys::dedupe_message(&mk);
                if !plan.seen.insert(marker.clone()) || ctx.kv.get(&marker).await?.is_some() {
                    summary.duplicates += 1;
                    continue;
                }
                let contact = ctx.keys.contact(&sender);
                let content = message.content();
                let mut record = MessageRecord::inbound(
                    id.clone(),
                    &message,
                    &content,
                    at,
                    profile_name,
                    phone_number_id.clone(),
                );
                let inbound = Inbound {
                    sender: &sender,
                    id: &id,
                    at,
                    phone_number_id: phone_number_id.as_ref(),
                };
                record.action =
                    apply_keywords(ctx, &mut plan, &mut summary, &contact, &content, &inbound)
                        .await?;
                if let Some(expires) = expires_at(at, ctx.config.retention_days, ctx.now) {
                    plan.record(
                        keys::message_record(&contact, &mk),
                        &record,
                        expires,
                        json!({ "t": at.0, "d": "in" }),
                    );
                    summary.stored += 1;
                }
                plan.markers.push(Put {
                    key: marker,
                    value: "1".into(),
                    expires: Some(ctx.now.plus(DEDUPE_TTL)),
                    metadata: None,
                });
            }
            Event::Status { status, .. } => {
                let (Some(id), Some(kind), Some(recipient)) = (
                    status.id.clone(),
                    status.status.clone(),
                    status.recipient().cloned(),
                ) else {
                    summary.invalid += 1;
                    continue;
                };
                let at = event_time(status.timestamp, ctx.now);
                if is_replay(at, ctx.now) {
                    summary.replays += 1;
                    continue;
                }
                let contact = ctx.keys.contact(&recipient);
                let mk = ctx.keys.message(&id);
                let key = keys::status_record(&contact, &mk, kind.as_str());
                if !plan.seen.insert(key.clone()) {
                    summary.duplicates += 1;
                    continue;
                }
                if kind == StatusKind::Failed && has_code(&status.errors, ERROR_MARKETING_OPT_OUT) {
                    let change = consent_change(
                        ConsentStatus::OptedOut,
                        Scope::Marketing,
                        at,
                        Source::SendError,
                        Some(id.clone()),
                        None,
                    );
                    apply_consent(ctx, &mut plan, &mut summary, &contact, change).await?;
                }
                if let Some(expires) = expires_at(at, ctx.config.retention_days, ctx.now) {
                    let record = StatusRecord::from_status(id, &status, at);
                    plan.record(
                        key,
                        &record,
                        expires,
                        json!({ "t": at.0, "s": kind.as_str() }),
                    );
                    summary.stored += 1;
                }
            }
            Event::UserPreference(pref) => {
                let Some(contact_id) = pref.contact() else {
                    summary.invalid += 1;
                    continue;
                };
                let at = event_time(pref.timestamp, ctx.now);
                let status = match pref.value {
                    Some(PreferenceValue::Stop) => ConsentStatus::OptedOut,
                    Some(PreferenceValue::Resume) => ConsentStatus::OptedIn,
                    _ => {
                        summary.ignored += 1;
                        continue;
                    }
                };
                if is_replay(at, ctx.now) {
                    summary.replays += 1;
                    continue;
                }
                let evidence = format!(
                    "{}: {}",
                    pref.category.as_deref().unwrap_or("marketing_messages"),
                    pref.value.as_ref().map(|v| v.as_str()).unwrap_or_default()
                );
                let contact = ctx.keys.contact(contact_id);
                let mut change = consent_change(
                    status,
                    Scope::Marketing,
                    at,
                    Source::UserPreferences,
                    None,
                    None,
                );
                change.evidence = Some(evidence);
                apply_consent(ctx, &mut plan, &mut summary, &contact, change).await?;
            }
            Event::Unknown { .. } => summary.ignored += 1,
            Event::Invalid { .. } => summary.invalid += 1,
            other => {
                if let Some((key, value, at)) = account_signal(ctx, &other) {
                    if let Some(expires) = expires_at(at, ctx.config.retention_days, ctx.now) {
                        plan.record(key, &value, expires, json!({ "t": at.0 }));
                        summary.stored += 1;
                    }
                } else {
                    summary.ignored += 1;
                }
            }
        }
    }
    flush(ctx.kv, plan.records).await?;
    for (key, (record, dirty)) in &plan.consent {
        if *dirty {
            let value = serde_json::to_string(record)
                .map_err(|_| KvError::Unavailable("consent encode".into()))?;
            // No expiry: a suppression lasts until the person opts back in.
            ctx.kv.put(key, &value, None, None).await?;
        }
    }
    flush(ctx.kv, plan.markers).await?;
    Ok((summary, plan.outbox))
}

async fn flush<K: Kv>(kv: &K, puts: Vec<Put>) -> Result<(), KvError> {
    for put in puts {
        kv.put(&put.key, &put.value, put.expires, put.metadata)
            .await?;
    }
    Ok(())
}

fn has_code(errors: &[MetaError], code: i64) -> bool {
    errors.iter().any(|e| e.code == code)
}

fn consent_change(
    status: ConsentStatus,
    scope: Scope,
    at: UnixTime,
    source: Source,
    message_id: Option<MessageId>,
    keyword: Option<String>,
) -> ConsentChange {
    ConsentChange {
        status,
        scope,
        at,
        source,
        message_id,
        keyword,
        evidence: None,
        applied: false,
    }
}

async fn apply_consent<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    summary: &mut Summary,
    contact: &ContactKey,
    change: ConsentChange,
) -> Result<Applied, KvError> {
    let (record, dirty) = plan.consent(ctx.kv, contact).await?;
    let applied = record.apply(change);
    if applied != Applied::Duplicate {
        *dirty = true;
        summary.consent_changes += 1;
    }
    Ok(applied)
}

struct Inbound<'a> {
    sender: &'a WaId,
    id: &'a MessageId,
    at: UnixTime,
    phone_number_id: Option<&'a PhoneNumberId>,
}

/// STOP / START / HELP and Meta's "Stop promotions" button. Returns the action to record on the
/// message. Confirmations go out only when the state actually changed (one per opt-out), and only
/// inside the service window.
async fn apply_keywords<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    summary: &mut Summary,
    contact: &ContactKey,
    content: &Content,
    inbound: &Inbound<'_>,
) -> Result<Option<String>, KvError> {
    let intent = match content {
        Content::Button(b) => ctx
            .keywords
            .classify_button(b.text.as_deref(), b.payload.as_deref()),
        other => other
            .typed_text()
            .and_then(|t| ctx.keywords.classify_text(t)),
    };
    let Some((intent, keyword)) = intent else {
        return Ok(None);
    };
    let source = if matches!(content, Content::Button(_)) {
        Source::Button
    } else {
        Source::Keyword
    };
    let (status, scope, purpose) = match intent {
        Intent::OptOut => (
            ConsentStatus::OptedOut,
            Scope::All,
            Some(Purpose::OptOutConfirmation),
        ),
        Intent::StopPromotions => (ConsentStatus::OptedOut, Scope::Marketing, None),
        Intent::OptIn => (
            ConsentStatus::OptedIn,
            Scope::All,
            Some(Purpose::OptInConfirmation),
        ),
        Intent::OptInIfOptedOut => {
            let (record, _) = plan.consent(ctx.kv, contact).await?;
            if record.status != ConsentStatus::OptedOut {
                return Ok(None);
            }
            (
                ConsentStatus::OptedIn,
                Scope::All,
                Some(Purpose::OptInConfirmation),
            )
        }
        Intent::Help => {
            let sent = queue(
                ctx,
                plan,
                inbound,
                ctx.config.messages.help_text.clone(),
                Purpose::Help,
            );
            return Ok(Some(
                if sent {
                    "help"
                } else {
                    "help_not_sent_window_closed"
                }
                .to_string(),
            ));
        }
    };
    let change = consent_change(
        status,
        scope,
        inbound.at,
        source,
        Some(inbound.id.clone()),
        Some(keyword),
    );
    let applied = apply_consent(ctx, plan, summary, contact, change).await?;
    let action = match (status, scope) {
        (ConsentStatus::OptedOut, Scope::All) => "opted_out",
        (ConsentStatus::OptedOut, _) => "marketing_opted_out",
        _ => "opted_in",
    };
    let confirm = match (applied, purpose) {
        (Applied::Applied { changed: true }, Some(purpose)) => Some(purpose),
        _ => None,
    };
    let text = match confirm {
        Some(Purpose::OptOutConfirmation) => ctx.config.messages.opt_out_confirmation.clone(),
        Some(Purpose::OptInConfirmation) => ctx.config.messages.opt_in_confirmation.clone(),
        _ => {
            return Ok(Some(format!(
                "{action}{}",
                if applied == Applied::Superseded {
                    "_superseded"
                } else {
                    ""
                }
            )))
        }
    };
    let sent = confirm.is_some_and(|p| queue(ctx, plan, inbound, text, p));
    Ok(Some(if sent {
        action.to_string()
    } else {
        format!("{action}_confirmation_not_sent_window_closed")
    }))
}

fn queue<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    inbound: &Inbound<'_>,
    text: String,
    purpose: Purpose,
) -> bool {
    let Some(phone_number_id) = inbound.phone_number_id else {
        return false;
    };
    if !window::is_open(inbound.at, ctx.now) {
        return false;
    }
    plan.outbox.push(Outbound {
        to: inbound.sender.clone(),
        phone_number_id: phone_number_id.clone(),
        text,
        purpose,
        reply_to: Some(inbound.id.clone()),
    });
    true
}

/// Account-level events become records under `a:` so `GET /v1/account` can show them.
fn account_signal<K: Kv>(
    ctx: &Ctx<'_, K>,
    event: &Event,
) -> Option<(String, serde_json::Value, UnixTime)> {
    let when = |at: &Option<UnixTime>| event_time(*at, ctx.now);
    let num =
        |n: &Option<serde_json::Number>| n.as_ref().map(|n| n.to_string()).unwrap_or_default();
    Some(match event {
        Event::TemplateStatus { update: u, at } => {
            let id = num(&u.message_template_id);
            let at = when(at);
            (
                keys::account_signal(
                    "template",
                    &ctx.keys
                        .event(&[&id, u.message_template_name.as_deref().unwrap_or("")]),
                ),
                json!({"kind":"template_status","at":at.0,"template_id":id,"name":u.message_template_name,"language":u.message_template_language,"event":u.event,"reason":u.reason}),
                at,
            )
        }
        Event::TemplateQuality { update: u, at } => {
            let id = num(&u.message_template_id);
            let at = when(at);
            (
                keys::account_signal("template_quality", &ctx.keys.event(&[&id])),
                json!({"kind":"template_quality","at":at.0,"template_id":id,"name":u.message_template_name,"language":u.message_template_language,"previous":u.previous_quality_score,"new":u.new_quality_score}),
                at,
            )
        }
        Event::PhoneQuality { update: u, at } => {
            let at = when(at);
            (
                keys::account_signal(
                    "quality",
                    &ctx.keys
                        .event(&[u.display_phone_number.as_deref().unwrap_or("")]),
                ),
                json!({"kind":"phone_quality","at":at.0,"display_phone_number":u.display_phone_number,"event":u.event,"messaging_limit":u.current_limit}),
                at,
            )
        }
        Event::AccountUpdate { update: u, at } => {
            let at = when(at);
            let event = u.event.clone().unwrap_or_default();
            (
                keys::account_signal("update", &ctx.keys.event(&[&event, &at.0.to_string()])),
                json!({"kind":"account_update","at":at.0,"event":u.event,"ban_state":u.ban_info.as_ref().and_then(|b| b.waba_ban_state.clone()),"violation":u.violation_info.as_ref().and_then(|v| v.violation_type.clone())}),
                at,
            )
        }
        Event::AccountAlert { alert, at } => {
            let at = when(at);
            let info = alert.alert_info.clone().unwrap_or_default();
            (
                keys::account_signal(
                    "alert",
                    &ctx.keys
                        .event(&[info.alert_type.as_deref().unwrap_or(""), &at.0.to_string()]),
                ),
                json!({"kind":"account_alert","at":at.0,"entity_type":alert.entity_type,"entity_id":alert.entity_id,"severity":info.alert_severity,"status":info.alert_status,"type":info.alert_type,"description":info.alert_description}),
                at,
            )
        }
        Event::Error {
            error,
            at,
            phone_number_id,
        } => {
            let at = when(at);
            (
                keys::account_signal(
                    "error",
                    &ctx.keys
                        .event(&[&error.code.to_string(), &at.0.to_string()]),
                ),
                json!({"kind":"error","at":at.0,"code":error.code,"title":error.title,"phone_number_id":phone_number_id}),
                at,
            )
        }
        _ => return None,
    })
}
