//! Decide and act on a verified delivery: dedupe, store, apply consent, plan replies.
//!
//! Order (see README "Exactly once"): read markers → decide → write records and consent →
//! write markers last. A failure anywhere returns an error before any marker is written, so
//! Meta's retry redoes the work; records have deterministic keys, so redoing it stores nothing
//! twice, and consent changes are idempotent by their evidence.

use crate::config::Config;
use crate::consent::{Applied, ConsentChange, ConsentRecord, ConsentStatus, Intent, Scope, Source};
use crate::contact_state::ContactState;
use crate::graph::{classify, OutboundBody};
use crate::ids::{MessageId, PhoneNumberId, WaId};
use crate::keys::{self, ContactKey, KeyScheme};
use crate::kv::{Kv, KvError};
use crate::outbox::{effect_of, Outbound, Purpose};
use crate::records::{MessageRecord, StatusRecord};
use crate::replies::{AutoReplies, Choice};
use crate::retention::{event_time, expires_at, is_replay, DEDUPE_TTL};
use crate::time::UnixTime;
use crate::webhook::account::PreferenceValue;
use crate::webhook::message::Content;
use crate::webhook::status::StatusKind;
use crate::webhook::Event;
use crate::window;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};

pub struct Ctx<'a, K: Kv> {
    pub kv: &'a K,
    pub keys: &'a KeyScheme,
    pub config: &'a Config,
    pub now: UnixTime,
}

impl<'a, K: Kv> Ctx<'a, K> {
    pub fn new(kv: &'a K, keys: &'a KeyScheme, config: &'a Config, now: UnixTime) -> Self {
        Ctx {
            kv,
            keys,
            config,
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
    pub replies: u32,
}

struct Put {
    key: String,
    value: String,
    expires: Option<UnixTime>,
    metadata: Option<serde_json::Value>,
}

/// Writes decided for this delivery, and the per-contact records it touched (loaded once each
/// from one bulk read, written once each, so several events for one contact cost one write).
#[derive(Default)]
struct Plan {
    records: Vec<Put>,
    signals: Vec<Put>,
    consent: BTreeMap<String, (ConsentRecord, bool)>,
    states: BTreeMap<String, (ContactState, bool)>,
    markers: Vec<Put>,
    outbox: Vec<Outbound>,
    seen: HashSet<String>,
    prefetched: HashMap<String, Option<String>>,
}

impl Plan {
    async fn read<K: Kv>(&mut self, kv: &K, key: &str) -> Result<Option<String>, KvError> {
        if let Some(v) = self.prefetched.get(key) {
            return Ok(v.clone());
        }
        let v = kv.get(key).await?;
        self.prefetched.insert(key.to_string(), v.clone());
        Ok(v)
    }

    async fn consent<K: Kv>(
        &mut self,
        kv: &K,
        contact: &ContactKey,
    ) -> Result<&mut (ConsentRecord, bool), KvError> {
        let key = keys::consent(contact);
        if !self.consent.contains_key(&key) {
            let record = parse_consent(self.read(kv, &key).await?)?;
            self.consent.insert(key.clone(), (record, false));
        }
        self.consent
            .get_mut(&key)
            .ok_or_else(|| KvError::Unavailable("consent cache".into()))
    }

    async fn state<K: Kv>(
        &mut self,
        kv: &K,
        contact: &ContactKey,
    ) -> Result<&mut (ContactState, bool), KvError> {
        let key = keys::contact_state(contact);
        if !self.states.contains_key(&key) {
            let state = ContactState::from_stored(self.read(kv, &key).await?);
            self.states.insert(key.clone(), (state, false));
        }
        self.states
            .get_mut(&key)
            .ok_or_else(|| KvError::Unavailable("state cache".into()))
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

fn parse_consent(value: Option<String>) -> Result<ConsentRecord, KvError> {
    match value {
        None => Ok(ConsentRecord::default()),
        Some(text) => serde_json::from_str(&text)
            .map_err(|_| KvError::Unavailable("unreadable consent record".into())),
    }
}

/// Reads a consent record. A record that does not parse is treated as KV failure: refusing to
/// guess keeps an opted-out contact from being messaged (fail closed).
pub async fn load_consent<K: Kv>(kv: &K, key: &str) -> Result<ConsentRecord, KvError> {
    parse_consent(kv.get(key).await?)
}

/// Writes a consent record with no expiry: a suppression lasts until the person opts back in.
pub async fn save_consent<K: Kv>(kv: &K, key: &str, record: &ConsentRecord) -> Result<(), KvError> {
    let value =
        serde_json::to_string(record).map_err(|_| KvError::Unavailable("consent encode".into()))?;
    kv.put(key, &value, None, None).await
}

/// Every key the delivery will read, so they come in one bulk read (one KV operation per 100
/// keys) instead of one round trip each.
fn prefetch_keys<K: Kv>(ctx: &Ctx<'_, K>, events: &[Event]) -> Vec<String> {
    let mut wanted = Vec::new();
    let contact_keys = |wa: &WaId, out: &mut Vec<String>| {
        let c = ctx.keys.contact(wa);
        out.push(keys::consent(&c));
        out.push(keys::contact_state(&c));
    };
    for event in events {
        match event {
            Event::Message {
                message,
                phone_number_id,
                ..
            } => {
                if let (Some(sender), Some(id)) = (message.sender(), message.id.as_ref()) {
                    wanted.push(keys::dedupe_message(&ctx.keys.message(id)));
                    contact_keys(sender, &mut wanted);
                    wanted.push(pause_key(ctx, phone_number_id.as_ref()));
                }
            }
            Event::Status { status, .. } if !status.errors.is_empty() => {
                if let Some(recipient) = status.recipient() {
                    contact_keys(recipient, &mut wanted);
                }
            }
            _ => {}
        }
    }
    let mut seen = HashSet::new();
    wanted.retain(|k| seen.insert(k.clone()));
    wanted
}

fn pause_key<K: Kv>(ctx: &Ctx<'_, K>, phone_number_id: Option<&PhoneNumberId>) -> String {
    let id = phone_number_id.map(|p| p.as_str()).unwrap_or("");
    keys::account_signal(keys::PAUSE_KIND, &ctx.keys.event(&[id]))
}

/// Applies every event of a delivery. Err means "answer 500": nothing was marked done.
pub async fn ingest<K: Kv>(
    ctx: &Ctx<'_, K>,
    events: Vec<Event>,
) -> Result<(Summary, Vec<Outbound>), KvError> {
    let mut plan = Plan::default();
    let mut summary = Summary::default();
    let wanted = prefetch_keys(ctx, &events);
    if !wanted.is_empty() {
        let values = ctx.kv.get_many(&wanted).await?;
        plan.prefetched = wanted.into_iter().zip(values).collect();
    }
    let auto = &ctx.config.replies;
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
                if !plan.seen.insert(marker.clone()) || plan.read(ctx.kv, &marker).await?.is_some()
                {
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
                let user_message = is_user_message(&content);
                if user_message {
                    let (state, dirty) = plan.state(ctx.kv, &contact).await?;
                    if state.record_inbound(at, phone_number_id.as_ref()) {
                        *dirty = true;
                    }
                    if auto.mark_as_read && window::is_open(at, ctx.now) {
                        let read = OutboundBody::MarkRead {
                            message_id: id.clone(),
                        };
                        queue(ctx, &mut plan, &inbound, read, Purpose::MarkRead);
                    }
                }
                let queued_before = plan.outbox.len();
                record.action =
                    apply_keywords(ctx, &mut plan, &mut summary, &contact, &content, &inbound)
                        .await?;
                if record.action.is_none() && user_message {
                    record.action = auto_reply(
                        ctx,
                        &mut plan,
                        &mut summary,
                        auto,
                        &contact,
                        &content,
                        &inbound,
                    )
                    .await?;
                }
                // Every message sent counts for the pair rate, confirmations included.
                if plan
                    .outbox
                    .iter()
                    .skip(queued_before)
                    .any(|o| o.purpose != Purpose::MarkRead)
                {
                    let (state, dirty) = plan.state(ctx.kv, &contact).await?;
                    state.last_sent = Some(ctx.now);
                    *dirty = true;
                }
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
            Event::Status {
                status,
                phone_number_id,
            } => {
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
                // Errors that arrive later get the same handling as errors answered to a send.
                for error in status.errors.iter().filter(|_| kind == StatusKind::Failed) {
                    let effect = effect_of(classify(Some(error.code), 400));
                    if effect.window_closed || effect.undeliverable {
                        let (state, dirty) = plan.state(ctx.kv, &contact).await?;
                        effect.apply_to_state(state, error.code, at);
                        *dirty = true;
                    }
                    if let Some(change) = effect.marketing_change(at, Some(id.clone()), error.code)
                    {
                        apply_consent(ctx, &mut plan, &mut summary, &contact, change).await?;
                    }
                    for (key, value, expires) in
                        effect.account_records(ctx, phone_number_id.as_ref(), error.code, at)
                    {
                        let metadata = Some(json!({ "t": at.0 }));
                        plan.signals.push(Put {
                            key,
                            value: value.to_string(),
                            expires,
                            metadata,
                        });
                    }
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
    // Everything the delivery changes goes out together; the markers only once all of it
    // has succeeded, so a failure leaves nothing marked done and Meta's retry redoes the work.
    let mut effects = plan.records;
    effects.extend(plan.signals);
    for (key, (state, dirty)) in plan.states {
        if dirty {
            let value = serde_json::to_string(&state)
                .map_err(|_| KvError::Unavailable("state encode".into()))?;
            let expires = Some(state.expiry(ctx.config, ctx.now));
            effects.push(Put {
                key,
                value,
                expires,
                metadata: None,
            });
        }
    }
    for (key, (record, dirty)) in plan.consent {
        if dirty {
            let value = serde_json::to_string(&record)
                .map_err(|_| KvError::Unavailable("consent encode".into()))?;
            // No expiry: a suppression lasts until the person opts back in.
            effects.push(Put {
                key,
                value,
                expires: None,
                metadata: None,
            });
        }
    }
    flush(ctx.kv, effects).await?;
    flush(ctx.kv, plan.markers).await?;
    Ok((summary, plan.outbox))
}

/// Writes a group of independent keys together; the caller orders the groups (markers last).
async fn flush<K: Kv>(kv: &K, puts: Vec<Put>) -> Result<(), KvError> {
    let writes = puts
        .iter()
        .map(|p| kv.put(&p.key, &p.value, p.expires, p.metadata.clone()));
    futures_util::future::join_all(writes)
        .await
        .into_iter()
        .collect()
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
            .config
            .keywords
            .classify_button(b.text.as_deref(), b.payload.as_deref()),
        other => other
            .typed_text()
            .and_then(|t| ctx.config.keywords.classify_text(t)),
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
            let body = OutboundBody::Text {
                body: ctx.config.messages.help_text.clone(),
            };
            let sent = queue(ctx, plan, inbound, body, Purpose::Help);
            if sent {
                summary.replies += 1;
            }
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
    let sent =
        confirm.is_some_and(|p| queue(ctx, plan, inbound, OutboundBody::Text { body: text }, p));
    if sent {
        summary.replies += 1;
    }
    Ok(Some(if sent {
        action.to_string()
    } else {
        format!("{action}_confirmation_not_sent_window_closed")
    }))
}

/// Queues a message for after the response, inside the window only. Pacing is recorded so
/// later automatic replies wait their turn; confirmations themselves are never held back.
fn queue<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    inbound: &Inbound<'_>,
    body: OutboundBody,
    purpose: Purpose,
) -> bool {
    let Some(phone_number_id) = inbound.phone_number_id else {
        return false;
    };
    if !window::is_open(inbound.at, ctx.now) {
        return false;
    }
    let reply_to = (purpose != Purpose::MarkRead).then(|| inbound.id.clone());
    plan.outbox.push(Outbound {
        to: inbound.sender.clone(),
        phone_number_id: phone_number_id.clone(),
        body,
        purpose,
        reply_to,
    });
    true
}

/// Messages a person sent: these open the window and may be answered. Reactions, system notices,
/// unsupported and unknown kinds are recorded but never answered.
fn is_user_message(content: &Content) -> bool {
    !matches!(
        content,
        Content::Reaction(_)
            | Content::System(_)
            | Content::RequestWelcome
            | Content::Unsupported(_)
            | Content::Unknown(_)
    )
}

/// The automatic reply, when every guard holds: not opted out (fail closed), number not paused,
/// window open by the message's own time, contact deliverable, pair rate respected, and for the
/// default reply its cooldown. Returns the action recorded on the message.
async fn auto_reply<K: Kv>(
    ctx: &Ctx<'_, K>,
    plan: &mut Plan,
    summary: &mut Summary,
    auto: &AutoReplies,
    contact: &ContactKey,
    content: &Content,
    inbound: &Inbound<'_>,
) -> Result<Option<String>, KvError> {
    let Some(choice) = auto.choose(content.typed_text()) else {
        return Ok(None);
    };
    let refuse = |why: &str| Ok(Some(format!("no_reply_{why}")));
    if !plan.consent(ctx.kv, contact).await?.0.allows(false) {
        return refuse("opted_out");
    }
    if plan
        .read(ctx.kv, &pause_key(ctx, inbound.phone_number_id))
        .await?
        .is_some()
    {
        return refuse("number_paused");
    }
    if !window::is_open(inbound.at, ctx.now) {
        return refuse("window_closed");
    }
    let cooldown = auto.cooldown_secs;
    let (state, _) = plan.state(ctx.kv, contact).await?;
    if state.is_undeliverable() {
        return refuse("undeliverable");
    }
    if state.pair_wait(ctx.now).is_some() {
        return refuse("paced");
    }
    if matches!(choice, Choice::Default(_)) && !state.may_send_default(ctx.now, cooldown) {
        return refuse("cooldown");
    }
    let (body, purpose, action) = match choice {
        Choice::Rule(rule) if rule.buttons.is_empty() => (
            OutboundBody::Text {
                body: rule.reply.clone(),
            },
            Purpose::AutoReply,
            format!("auto_reply:{}", rule.name),
        ),
        Choice::Rule(rule) => (
            OutboundBody::Buttons {
                body: rule.reply.clone(),
                buttons: rule.buttons.clone(),
            },
            Purpose::AutoReply,
            format!("auto_reply:{}", rule.name),
        ),
        Choice::Default(text) => (
            OutboundBody::Text {
                body: text.to_string(),
            },
            Purpose::DefaultReply,
            "default_reply".to_string(),
        ),
    };
    if !queue(ctx, plan, inbound, body, purpose) {
        return refuse("no_number");
    }
    summary.replies += 1;
    let (state, dirty) = plan.state(ctx.kv, contact).await?;
    state.last_sent = Some(ctx.now);
    if purpose == Purpose::DefaultReply {
        state.last_default_reply = Some(ctx.now);
    }
    *dirty = true;
    Ok(Some(action))
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
