//! `POST /v1/messages`: the business's systems send through the same guards as the
//! auto-replies (consent, window, pacing, pause, deliverability), checked before any Graph call.

use crate::authority::resolve::call_person;
use crate::authority::{Answer, Authorities, Op, SendAnswer};
use crate::config::Secret;
use crate::context::Ctx;
use crate::http::error::ApiError;
use crate::http::response::Response;
use crate::ids::{PhoneNumberId, WaId};
use crate::policy::auto_reply::MAX_TEXT_BODY;
use crate::send::OutboundBody;
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

/// The message asked for, and whether it is marketing.
fn message_of(input: &mut SendInput) -> Result<(OutboundBody, bool), ApiError> {
    match (input.text.take(), input.template.take()) {
        (Some(text), None) if !text.trim().is_empty() && text.chars().count() <= MAX_TEXT_BODY => {
            Ok((OutboundBody::Text { body: text }, false))
        }
        (None, Some(t)) if !t.name.is_empty() && !t.language.is_empty() => {
            let category = input.category.ok_or(ApiError::bad_request(
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
        _ => Err(ApiError::bad_request("invalid_body", USAGE)),
    }
}

/// Validates the request, then hands it to the person's authority, which checks the guards
/// (consent, pause, window, deliverability, pacing) one request at a time and sends.
pub async fn handle<K, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    body: &[u8],
) -> Result<Response, ApiError> {
    let mut input = serde_json::from_slice::<SendInput>(body)
        .map_err(|_| ApiError::bad_request("invalid_body", USAGE))?;
    let to = WaId::parse_user_input(&input.to).ok_or(ApiError::bad_request(
        "invalid_wa_id",
        "to is not a WhatsApp id",
    ))?;
    let (message, marketing) = message_of(&mut input)?;
    ctx.config.require(Secret::AccessToken)?;
    let op = Op::Send {
        to: to.clone(),
        from: input.from.map(PhoneNumberId::new),
        body: message,
        marketing,
    };
    let (_, answer) = call_person(authorities, &ctx.keys.contact(&to), &op).await?;
    let Answer::Send(result) = answer else {
        return Err(ApiError::unexpected_answer());
    };
    match result {
        SendAnswer::Sent { id } => Ok(Response::json(200, json!({ "id": id, "to": to }))),
        SendAnswer::OptedOut { scope } => Err(ApiError::OptedOut { scope }),
        SendAnswer::WindowClosed => Err(ApiError::WindowClosed),
        SendAnswer::Undeliverable { code } => Err(ApiError::Undeliverable { code }),
        SendAnswer::PairRateLimited {
            retry_after_seconds,
        } => Err(ApiError::PairRateLimited {
            retry_after_seconds,
        }),
        SendAnswer::NumberPaused => Err(ApiError::NumberPaused),
        SendAnswer::IdentityUnresolved => Err(ApiError::IdentityUnresolved),
        SendAnswer::FromRequired => Err(ApiError::bad_request(
            "from_required",
            "the contact has not written to any number yet: say which phone_number_id to send from",
        )),
        SendAnswer::Failed {
            action,
            meta_code,
            http_status,
        } => Err(ApiError::Graph {
            action,
            meta_code,
            http_status,
        }),
    }
}
