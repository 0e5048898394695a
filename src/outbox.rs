//! Sending: the Cloud API client's policy (retries, back-off, Meta's error codes) and what each
//! outcome changes. The transport is a trait: fetch in the shell, a fake in native tests.

use crate::consent::{ConsentChange, ConsentStatus, Scope, Source};
use crate::contact_state::ContactState;
use crate::graph::{
    classify, messages_url, parse_send_response, request_body, ErrorAction, GraphError,
    OutboundBody,
};
use crate::ids::{MessageId, PhoneNumberId, WaId};
use crate::ingest::{load_consent, save_consent, Ctx};
use crate::keys;
use crate::kv::{Kv, KvError};
use crate::records::{Direction, MessageRecord};
use crate::retention::expires_at;
use crate::time::UnixTime;
use crate::webhook::message::MetaError;
use serde::Serialize;
use serde_json::json;

pub use crate::platform::Platform;

/// 131056: Meta suggests waiting 1, 4, 16 s; 16 s would outlive `wait_until`, so two waits.
pub const PAIR_RATE_WAITS_MS: [u64; 2] = [1_000, 4_000];
/// 130429 / 4 / 80007: one back-off, with per-contact jitter so numbers do not retry in lockstep.
pub const THROTTLE_WAIT_MS: u64 = 2_000;
pub const TRANSIENT_WAIT_MS: u64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    OptOutConfirmation,
    OptInConfirmation,
    Help,
    AutoReply,
    DefaultReply,
    Api,
    MarkRead,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::OptOutConfirmation => "opt_out_confirmation",
            Purpose::OptInConfirmation => "opt_in_confirmation",
            Purpose::Help => "help",
            Purpose::AutoReply => "auto_reply",
            Purpose::DefaultReply => "default_reply",
            Purpose::Api => "api",
            Purpose::MarkRead => "mark_read",
        }
    }
}

/// A message to send, decided (and recorded) before it goes out.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub to: WaId,
    pub phone_number_id: PhoneNumberId,
    pub body: OutboundBody,
    pub purpose: Purpose,
    pub reply_to: Option<MessageId>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    Sent(MessageId),
    Failed {
        action: ErrorAction,
        error: GraphError,
    },
}

/// What an error changes, for a send answered now or a status that fails later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effect {
    pub window_closed: bool,
    pub undeliverable: bool,
    pub pause_number: bool,
    pub marketing_opt_out: bool,
    pub token_problem: bool,
}

pub fn effect_of(action: ErrorAction) -> Effect {
    let mut e = Effect::default();
    match action {
        ErrorAction::WindowClosed => e.window_closed = true,
        ErrorAction::Undeliverable => e.undeliverable = true,
        ErrorAction::PauseNumber => e.pause_number = true,
        ErrorAction::MarketingOptOut => e.marketing_opt_out = true,
        ErrorAction::AccessToken => e.token_problem = true,
        _ => {}
    }
    e
}

impl Effect {
    pub fn apply_to_state(&self, state: &mut ContactState, code: i64, at: UnixTime) {
        if self.window_closed {
            state.window_closed_at = Some(at);
        }
        if self.undeliverable {
            state.undeliverable = Some((code, at));
        }
    }

    pub fn marketing_change(
        &self,
        at: UnixTime,
        message_id: Option<MessageId>,
        code: i64,
    ) -> Option<ConsentChange> {
        self.marketing_opt_out.then(|| ConsentChange {
            status: ConsentStatus::OptedOut,
            scope: Scope::Marketing,
            at,
            source: Source::SendError,
            message_id,
            keyword: None,
            evidence: Some(format!("send error {code}")),
            applied: false,
        })
    }

    /// Account-level records (pause, token problem): key, value and expiry. A pause has none:
    /// it lasts until a person lifts it; a token problem is kept like other account signals.
    pub fn account_records<K: Kv>(
        &self,
        ctx: &Ctx<'_, K>,
        phone_number_id: Option<&PhoneNumberId>,
        code: i64,
        at: UnixTime,
    ) -> Vec<(String, serde_json::Value, Option<UnixTime>)> {
        let mut out = Vec::new();
        if self.pause_number {
            let id = phone_number_id.map(|p| p.as_str()).unwrap_or("");
            out.push((
                keys::account_signal(keys::PAUSE_KIND, &ctx.keys.event(&[id])),
                json!({ "kind": "pause", "at": at.0, "code": code, "phone_number_id": id,
                        "message": "Meta's spam rate limit (131048): automatic sending is paused until a person resumes it with DELETE /v1/account/pause" }),
                None,
            ));
        }
        if self.token_problem {
            out.push((
                keys::account_signal("token", &ctx.keys.event(&[&code.to_string()])),
                json!({ "kind": "token_problem", "at": at.0, "code": code,
                        "message": "the access token is expired or lacks permission: replace WHATSAPP_ACCESS_TOKEN" }),
                expires_at(at, ctx.config.retention_days, ctx.now),
            ));
        }
        out
    }
}

/// Sends one message with the retry policy. `patient` allows waits (after the response, inside
/// `wait_until`); the synchronous send API answers the caller instead of waiting.
pub async fn send<G: Platform>(
    graph: &G,
    url: &str,
    token: &str,
    outbound: &Outbound,
    patient: bool,
    jitter_ms: u64,
) -> SendOutcome {
    let body = request_body(&outbound.to, &outbound.body, outbound.reply_to.as_ref()).to_string();
    let mut pair_waits = PAIR_RATE_WAITS_MS.iter();
    let mut throttled = false;
    let mut transient_retried = false;
    loop {
        let error = match graph.post(url, token, &body).await {
            Ok((status, text)) => match parse_send_response(status, &text) {
                Ok(id) => return SendOutcome::Sent(id),
                // Mark-as-read answers {"success":true} with no message id.
                Err(e)
                    if outbound.purpose == Purpose::MarkRead
                        && (200..300).contains(&e.http_status) =>
                {
                    return SendOutcome::Sent(MessageId::new(""));
                }
                Err(e) => e,
            },
            Err(_) => GraphError {
                http_status: 0,
                code: None,
                title: Some("no answer".into()),
            },
        };
        let action = classify(error.code, error.http_status);
        let wait = match action {
            ErrorAction::PairRateLimited if patient => pair_waits.next().copied(),
            ErrorAction::Throttled if patient && !throttled => {
                throttled = true;
                Some(THROTTLE_WAIT_MS + jitter_ms % 1000)
            }
            ErrorAction::Transient if !transient_retried => {
                transient_retried = true;
                Some(TRANSIENT_WAIT_MS)
            }
            _ => None,
        };
        match wait {
            Some(ms) => graph.sleep(ms).await,
            None => return SendOutcome::Failed { action, error },
        }
    }
}

/// Sends the outbox after the response and records every outcome. Returns log lines without
/// personal data.
pub async fn deliver_all<K: Kv, G: Platform>(
    ctx: &Ctx<'_, K>,
    graph: &G,
    token: &str,
    outbox: &[Outbound],
) -> Vec<String> {
    let mut log = Vec::new();
    for outbound in outbox {
        let url = messages_url(ctx.config, &outbound.phone_number_id);
        let contact = ctx.keys.contact(&outbound.to);
        let jitter = contact
            .0
            .bytes()
            .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
        let outcome = send(graph, &url, token, outbound, true, jitter).await;
        let line = match record_outcome(ctx, outbound, &outcome).await {
            Ok(line) => line,
            Err(e) => format!("recording a send to contact {} failed: {e:?}", contact.0),
        };
        log.push(line);
    }
    log
}

/// Records a sent message in the contact's history, or a failure and its consequences.
pub async fn record_outcome<K: Kv>(
    ctx: &Ctx<'_, K>,
    outbound: &Outbound,
    outcome: &SendOutcome,
) -> Result<String, KvError> {
    let contact = ctx.keys.contact(&outbound.to);
    if outbound.purpose == Purpose::MarkRead {
        return Ok(match outcome {
            SendOutcome::Sent(_) => format!("marked read for contact {}", contact.0),
            SendOutcome::Failed { error, .. } => format!(
                "mark-as-read failed: http {} code {:?}",
                error.http_status, error.code
            ),
        });
    }
    let (id, errors, line) = match outcome {
        SendOutcome::Sent(id) => (
            id.clone(),
            Vec::new(),
            format!(
                "sent {} to contact {}",
                outbound.purpose.as_str(),
                contact.0
            ),
        ),
        SendOutcome::Failed { action, error } => {
            let code = error.code.unwrap_or_default();
            apply_effect(
                ctx,
                &outbound.to,
                Some(&outbound.phone_number_id),
                effect_of(*action),
                code,
                None,
            )
            .await?;
            // A failed send has no wamid: key it by what it was, so it shows once in the history.
            let id = MessageId::new(format!(
                "unsent.{}",
                ctx.keys.event(&[
                    outbound.purpose.as_str(),
                    &ctx.now.0.to_string(),
                    &outbound.body.summary()
                ])
            ));
            let line = format!(
                "send of {} to contact {} failed: http {} code {} ({action:?})",
                outbound.purpose.as_str(),
                contact.0,
                error.http_status,
                error
                    .code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "none".into())
            );
            (
                id,
                vec![MetaError {
                    code,
                    title: error.title.clone(),
                }],
                line,
            )
        }
    };
    let record = MessageRecord {
        id: id.clone(),
        direction: Direction::Outbound,
        at: ctx.now,
        kind: outbound.body.kind().into(),
        text: Some(outbound.body.summary()),
        media_id: None,
        mime_type: None,
        filename: None,
        location: None,
        reply_to: outbound.reply_to.clone(),
        profile_name: None,
        phone_number_id: Some(outbound.phone_number_id.clone()),
        action: (!errors.is_empty()).then(|| "not_sent".to_string()),
        purpose: Some(outbound.purpose.as_str().to_string()),
        errors,
    };
    if let (Some(expires), Ok(value)) = (
        expires_at(ctx.now, ctx.config.retention_days, ctx.now),
        serde_json::to_string(&record),
    ) {
        let key = keys::message_record(&contact, &ctx.keys.message(&id));
        ctx.kv
            .put(
                &key,
                &value,
                Some(expires),
                Some(json!({ "t": ctx.now.0, "d": "out" })),
            )
            .await?;
    }
    Ok(line)
}

/// Applies an error's effect straight to KV (after the response; nothing else is batched then).
pub async fn apply_effect<K: Kv>(
    ctx: &Ctx<'_, K>,
    to: &WaId,
    phone_number_id: Option<&PhoneNumberId>,
    effect: Effect,
    code: i64,
    message_id: Option<MessageId>,
) -> Result<(), KvError> {
    let contact = ctx.keys.contact(to);
    if effect.window_closed || effect.undeliverable {
        let key = keys::contact_state(&contact);
        let mut state = ContactState::from_stored(ctx.kv.get(&key).await?);
        effect.apply_to_state(&mut state, code, ctx.now);
        put_state(ctx, &key, &state).await?;
    }
    if let Some(change) = effect.marketing_change(ctx.now, message_id, code) {
        let key = keys::consent(&contact);
        let mut record = load_consent(ctx.kv, &key).await?;
        record.apply(change);
        save_consent(ctx.kv, &key, &record).await?;
    }
    for (key, value, expires) in effect.account_records(ctx, phone_number_id, code, ctx.now) {
        let metadata = Some(json!({ "t": ctx.now.0 }));
        ctx.kv
            .put(&key, &value.to_string(), expires, metadata)
            .await?;
    }
    Ok(())
}

pub async fn put_state<K: Kv>(
    ctx: &Ctx<'_, K>,
    key: &str,
    state: &ContactState,
) -> Result<(), KvError> {
    let value = serde_json::to_string(state).map_err(|_| KvError::Unavailable("encode".into()))?;
    ctx.kv
        .put(key, &value, Some(state.expiry(ctx.config, ctx.now)), None)
        .await
}
