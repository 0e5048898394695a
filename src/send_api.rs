//! `POST /v1/messages`: the business's systems send through the same guards as the
//! auto-replies (consent, window, pacing, pause), checked before any Graph call.

use crate::app::Reply;
use crate::config::Secret;
use crate::graph::{messages_url, ErrorAction, OutboundBody};
use crate::ids::{PhoneNumberId, WaId};
use crate::ingest::{load_consent, Ctx};
use crate::keys;
use crate::kv::{Kv, KvError};
use crate::outbox::{put_state, record_outcome, send, Outbound, Platform, Purpose, SendOutcome};
use crate::replies::MAX_TEXT_BODY;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct TemplateInput {
    name: String,
    language: String,
    #[serde(default)]
    components: serde_json::Value,
}

#[derive(Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum Category {
    Marketing,
    Utility,
    Authentication,
}

#[derive(Deserialize)]
struct SendInput {
    to: String,
    text: Option<String>,
    template: Option<TemplateInput>,
    category: Option<Category>,
    /// The business number to send from; defaults to the one the contact last wrote to.
    from: Option<String>,
}

const USAGE: &str = r#"expected {"to":"<wa_id>","text":"..."} or {"to":"<wa_id>","template":{"name","language","components"},"category":"marketing"|"utility"|"authentication"}"#;

pub async fn handle<K: Kv, G: Platform>(
    ctx: &Ctx<'_, K>,
    graph: &G,
    body: &[u8],
) -> Result<Reply, KvError> {
    let Ok(input) = serde_json::from_slice::<SendInput>(body) else {
        return Ok(Reply::error(400, "invalid_body", USAGE));
    };
    let Some(to) = WaId::parse_user_input(&input.to) else {
        return Ok(Reply::error(
            400,
            "invalid_wa_id",
            "to is not a WhatsApp id",
        ));
    };
    let (outbound_body, marketing) = match (input.text, input.template) {
        (Some(text), None) if !text.trim().is_empty() && text.chars().count() <= MAX_TEXT_BODY => {
            (OutboundBody::Text { body: text }, false)
        }
        (None, Some(t)) if !t.name.is_empty() && !t.language.is_empty() => {
            let Some(category) = input.category else {
                return Ok(Reply::error(
                    400,
                    "category_required",
                    "a template send needs its category, so marketing opt-outs can be honoured",
                ));
            };
            (
                OutboundBody::Template {
                    name: t.name,
                    language: t.language,
                    components: t.components,
                },
                category == Category::Marketing,
            )
        }
        _ => return Ok(Reply::error(400, "invalid_body", USAGE)),
    };
    let Ok(token) = ctx.config.require(Secret::AccessToken) else {
        return Ok(crate::app::config_error(
            &crate::config::ConfigError::Missing(Secret::AccessToken.name()),
        ));
    };
    let contact = ctx.keys.contact(&to);
    // Fail closed: if consent cannot be read, this returns Err and the caller gets a 500.
    let consent = load_consent(ctx.kv, &keys::consent(&contact)).await?;
    if !consent.allows(marketing) {
        return Ok(Reply::json(
            409,
            json!({ "error": "opted_out", "scope": consent.scope, "message": "the contact has opted out" }),
        ));
    }
    let state_key = keys::contact_state(&contact);
    let mut state = crate::contact_state::ContactState::from_stored(ctx.kv.get(&state_key).await?);
    let from = input
        .from
        .map(PhoneNumberId::new)
        .or_else(|| state.phone_number_id.clone());
    let Some(phone_number_id) = from else {
        return Ok(Reply::error(
            400,
            "from_required",
            "the contact has not written to any number yet: say which phone_number_id to send from",
        ));
    };
    let pause = keys::account_signal(
        keys::PAUSE_KIND,
        &ctx.keys.event(&[phone_number_id.as_str()]),
    );
    if ctx.kv.get(&pause).await?.is_some() {
        return Ok(Reply::json(
            429,
            json!({ "error": "number_paused", "code": 131048, "message": "sending is paused after Meta's spam rate limit; resume with DELETE /v1/account/pause" }),
        ));
    }
    let free_form = !matches!(outbound_body, OutboundBody::Template { .. });
    if free_form && !state.window_open(ctx.now) {
        return Ok(Reply::json(
            422,
            json!({ "error": "window_closed", "message": "free-form messages need a user message in the last 24 hours; send a template" }),
        ));
    }
    if state.is_undeliverable() {
        return Ok(Reply::json(
            409,
            json!({ "error": "undeliverable", "code": state.undeliverable.map(|u| u.0) }),
        ));
    }
    if let Some(wait) = state.pair_wait(ctx.now) {
        return Ok(Reply::json(
            429,
            json!({ "error": "pair_rate_limited", "retry_after_seconds": wait }),
        ));
    }
    // Recorded before the call, so a concurrent send sees the pacing.
    state.last_sent = Some(ctx.now);
    put_state(ctx, &state_key, &state).await?;
    let outbound = Outbound {
        to: to.clone(),
        phone_number_id: phone_number_id.clone(),
        body: outbound_body,
        purpose: Purpose::Api,
        reply_to: None,
    };
    let outcome = send(
        graph,
        &messages_url(ctx.config, &phone_number_id),
        token,
        &outbound,
        false,
        0,
    )
    .await;
    record_outcome(ctx, &outbound, &outcome).await?;
    Ok(match outcome {
        SendOutcome::Sent(id) => Reply::json(200, json!({ "id": id, "to": to })),
        SendOutcome::Failed { action, error } => {
            let (status, code) = match action {
                ErrorAction::WindowClosed => (422, "window_closed"),
                ErrorAction::MarketingOptOut => (409, "opted_out"),
                ErrorAction::Undeliverable => (409, "undeliverable"),
                ErrorAction::PauseNumber => (429, "number_paused"),
                ErrorAction::PairRateLimited | ErrorAction::Throttled => (429, "rate_limited"),
                ErrorAction::MarketingLimit => (429, "marketing_limit"),
                ErrorAction::AccessToken => (502, "access_token"),
                ErrorAction::NoAnswer => (504, "graph_unreachable"),
                ErrorAction::Transient | ErrorAction::Rejected => (502, "graph_error"),
            };
            let mut reply =
                json!({ "error": code, "meta_code": error.code, "http_status": error.http_status });
            if action == ErrorAction::NoAnswer {
                if let Some(obj) = reply.as_object_mut() {
                    let why = "no answer from the Graph API; not retried, because a send has no idempotency key and may have gone out";
                    obj.insert("message".into(), json!(why));
                }
            }
            Reply::json(status, reply)
        }
    })
}

/// `DELETE /v1/account/pause`: a person lifts the pause after 131048.
pub async fn resume<K: Kv>(kv: &K) -> Result<Reply, KvError> {
    let prefix = keys::account_signal(keys::PAUSE_KIND, "");
    let paused = crate::kv::list_all(kv, &prefix).await?;
    for key in &paused {
        kv.delete(&key.name).await?;
    }
    Ok(Reply::json(200, json!({ "resumed": paused.len() })))
}
