//! `POST /v1/messages`: the business's systems send through the same guards as the
//! auto-replies (consent, window, pacing, pause, deliverability), checked before any Graph call.

use crate::config::Secret;
use crate::context::Ctx;
use crate::http::error::ApiError;
use crate::http::response::Response;
use crate::ids::{PhoneNumberId, WaId};
use crate::platform::Platform;
use crate::policy::auto_reply::MAX_TEXT_BODY;
use crate::send::graph::messages_url;
use crate::send::{record_outcome, send, Outbound, OutboundBody, Purpose, SendOutcome};
use crate::store::contact_state::{self, ContactState};
use crate::store::kv::Kv;
use crate::store::{account, consent, write};
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

fn bad(code: &'static str, message: &'static str) -> ApiError {
    ApiError::BadRequest { code, message }
}

/// The message asked for, and whether it is marketing.
fn message_of(input: &mut SendInput) -> Result<(OutboundBody, bool), ApiError> {
    match (input.text.take(), input.template.take()) {
        (Some(text), None) if !text.trim().is_empty() && text.chars().count() <= MAX_TEXT_BODY => {
            Ok((OutboundBody::Text { body: text }, false))
        }
        (None, Some(t)) if !t.name.is_empty() && !t.language.is_empty() => {
            let category = input.category.ok_or(bad(
                "category_required",
                "a template send needs its category, so marketing opt-outs can be honoured",
            ))?;
            let body = OutboundBody::Template {
                name: t.name,
                language: t.language,
                components: t.components,
            };
            Ok((body, category == Category::Marketing))
        }
        _ => Err(bad("invalid_body", USAGE)),
    }
}

/// The guards on the contact's state, in the order they are reported.
fn check_state(
    state: &ContactState,
    free_form: bool,
    ctx_now: crate::time::UnixTime,
) -> Result<(), ApiError> {
    if free_form && !state.window_open(ctx_now) {
        return Err(ApiError::WindowClosed);
    }
    if state.is_undeliverable() {
        return Err(ApiError::Undeliverable {
            code: state.undeliverable.map(|u| u.0),
        });
    }
    if let Some(wait) = state.pair_wait(ctx_now) {
        return Err(ApiError::PairRateLimited {
            retry_after_seconds: wait,
        });
    }
    Ok(())
}

pub async fn handle<K: Kv, G: Platform>(
    ctx: &Ctx<'_, K>,
    graph: &G,
    body: &[u8],
) -> Result<Response, ApiError> {
    let mut input =
        serde_json::from_slice::<SendInput>(body).map_err(|_| bad("invalid_body", USAGE))?;
    let to =
        WaId::parse_user_input(&input.to).ok_or(bad("invalid_wa_id", "to is not a WhatsApp id"))?;
    let (message, marketing) = message_of(&mut input)?;
    let token = ctx.config.require(Secret::AccessToken)?;
    let contact = ctx.keys.contact(&to);
    // Fail closed: unreadable consent is a 500, never permission.
    let consent = consent::load(ctx.kv, &contact).await?;
    if !consent.allows(marketing) {
        return Err(ApiError::OptedOut {
            scope: consent.scope,
        });
    }
    let mut state = contact_state::load(ctx.kv, &contact).await?;
    let phone_number_id = input
        .from
        .map(PhoneNumberId::new)
        .or_else(|| state.phone_number_id.clone())
        .ok_or(bad(
            "from_required",
            "the contact has not written to any number yet: say which phone_number_id to send from",
        ))?;
    if account::is_paused(ctx.kv, ctx.keys, Some(&phone_number_id)).await? {
        return Err(ApiError::NumberPaused);
    }
    let free_form = !matches!(message, OutboundBody::Template { .. });
    check_state(&state, free_form, ctx.now)?;
    // Recorded before the call, so a concurrent send sees the pacing.
    state.last_sent = Some(ctx.now);
    write(ctx.kv, &ctx.state_put(&contact, &state)?).await?;
    let outbound = Outbound {
        to: to.clone(),
        phone_number_id: phone_number_id.clone(),
        body: message,
        purpose: Purpose::Api,
        reply_to: None,
    };
    let url = messages_url(ctx.config, &phone_number_id);
    let outcome = send(graph, &url, token, &outbound, false, 0).await;
    record_outcome(ctx, &outbound, &outcome).await?;
    match outcome {
        SendOutcome::Sent(id) => Ok(Response::json(200, json!({ "id": id, "to": to }))),
        SendOutcome::Failed { action, error } => Err(ApiError::Graph {
            action,
            meta_code: error.code,
            http_status: error.http_status,
        }),
    }
}
