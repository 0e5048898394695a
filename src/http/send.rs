//! Sending for the business's systems: two routes, one path. `POST /v1/messages` answers in
//! wa-edge's words; `POST /{version}/{phone_number_id}/messages` (`gateway`) is Meta's own path
//! and answers in Meta's, so an existing client sends through wa-edge unchanged. Both take
//! Meta's message object (any type, `to` or `recipient`, `context`, `biz_opaque_callback_data`),
//! validate it here, and hand it to the person's authority, which checks the guards (consent,
//! pause, window, deliverability, pacing, the business-initiated limits) one request at a time,
//! forwards the same object to Meta and records it.

use crate::authority::resolve::call_person;
use crate::authority::{Answer, Authorities, Op, SendAnswer};
use crate::config::Secret;
use crate::context::Ctx;
use crate::http::error::ApiError;
use crate::http::response::Response;
use crate::http::Request;
use crate::ids::{IdKind, PhoneNumberId, WaId};
use crate::policy::auto_reply::MAX_TEXT_BODY;
use crate::policy::business::{is_marketing, Category};
use crate::send::graph::MESSAGE_TYPES;
use crate::send::OutboundBody;
use crate::store::account::marketing_pause_key;
use crate::store::kv::Kv;
use crate::store::templates;
use serde_json::{json, Map, Value};

/// A template's category when the caller's client cannot add a `category` field.
pub const CATEGORY_HEADER: &str = "x-wa-edge-category";

/// A validated message to send.
pub struct SendRequest {
    pub to: WaId,
    /// The recipient as the caller wrote it (Meta's answer echoes it as `input`).
    pub input: String,
    /// The business number: from the gateway's path, or `/v1/messages`' optional `from`.
    pub from: Option<PhoneNumberId>,
    /// Meta's message object, as it will be forwarded (wa-edge's own fields taken out).
    pub message: Value,
    pub template: Option<String>,
    pub category: Option<Category>,
}

/// What a body asks for: a message to a person, or a request about an inbound message (mark as
/// read, typing indicator) that goes to Meta as it is.
pub enum Parsed {
    Send(SendRequest),
    PassThrough(Value),
}

fn invalid(message: &'static str) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}

/// Reads a send body. `/v1/messages`' shorthand (`"text": "..."`, a template `language` as a
/// string) becomes Meta's shape; Meta's shape is kept as it is.
pub fn parse(body: &[u8], header_category: Option<&str>) -> Result<Parsed, ApiError> {
    let Ok(Value::Object(mut message)) = serde_json::from_slice::<Value>(body) else {
        return Err(invalid("expected a JSON object: Meta's message object"));
    };
    if message.get("status").and_then(Value::as_str) == Some("read") {
        return Ok(Parsed::PassThrough(Value::Object(message)));
    }
    let category = match message
        .remove("category")
        .or(header_category.map(|h| json!(h)))
    {
        None => None,
        Some(Value::String(c)) => Some(Category::parse(&c).ok_or(ApiError::bad_request(
            "invalid_category",
            "category must be marketing, utility or authentication",
        ))?),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_category",
                "category must be a string",
            ))
        }
    };
    let from = match message.remove("from") {
        None => None,
        Some(Value::String(f)) => Some(PhoneNumberId::parse(&f).ok_or(ApiError::bad_request(
            "invalid_phone_number_id",
            "from must be Meta's numeric phone number id",
        ))?),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_phone_number_id",
                "from must be a string",
            ))
        }
    };
    shorthand(&mut message);
    let kind = match message.get("type").and_then(Value::as_str) {
        Some(kind) => kind.to_string(),
        None => {
            let guessed = MESSAGE_TYPES
                .into_iter()
                .find(|t| message.contains_key(*t))
                .ok_or(invalid("no message: say its type and give its object"))?;
            message.insert("type".into(), json!(guessed));
            guessed.to_string()
        }
    };
    if !message.get(&kind).is_some_and(Value::is_object) && kind != "contacts" {
        return Err(invalid("the message's type names no object of that name"));
    }
    if kind == "text" {
        let text = message
            .get("text")
            .and_then(|t| t.get("body"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if text.trim().is_empty() || text.chars().count() > MAX_TEXT_BODY {
            return Err(invalid("text.body must be 1 to 4096 characters"));
        }
    }
    let template = match kind.as_str() {
        "template" => Some(
            message
                .get("template")
                .and_then(|t| t.get("name"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or(invalid("template.name is required"))?
                .to_string(),
        ),
        _ => None,
    };
    // Meta reads `to` first when both are given; so does wa-edge.
    let raw_to = message
        .get("to")
        .or(message.get("recipient"))
        .and_then(Value::as_str)
        .ok_or(ApiError::bad_request(
            "invalid_wa_id",
            "to (or recipient) is required",
        ))?;
    let to = WaId::parse_user_input(raw_to).ok_or(ApiError::bad_request(
        "invalid_wa_id",
        "to is not a WhatsApp id",
    ))?;
    let input = raw_to.to_string();
    message
        .entry("messaging_product")
        .or_insert(json!("whatsapp"));
    Ok(Parsed::Send(SendRequest {
        to,
        input,
        from,
        message: Value::Object(message),
        template,
        category,
    }))
}

/// `/v1/messages`' shorthand in Meta's shape.
fn shorthand(message: &mut Map<String, Value>) {
    if let Some(Value::String(body)) = message.get("text").cloned() {
        message.insert("text".into(), json!({ "body": body, "preview_url": false }));
    }
    if let Some(template) = message.get_mut("template").and_then(Value::as_object_mut) {
        if let Some(Value::String(code)) = template.get("language").cloned() {
            template.insert("language".into(), json!({ "code": code }));
        }
        if template.get("components").is_some_and(Value::is_null) {
            template.remove("components");
        }
    }
}

/// A validated message through the person's guards and out: Meta's message id, or why not.
pub async fn send<K: Kv, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    request: SendRequest,
) -> Result<String, ApiError> {
    ctx.config.require(Secret::AccessToken)?;
    let marketing = match &request.template {
        None => false,
        Some(name) => {
            let category = match request.category {
                Some(c) => Some(c),
                None => templates::load(ctx.kv, ctx.keys, name).await?,
            };
            is_marketing(category)
        }
    };
    if marketing && ctx.kv.get(&marketing_pause_key(ctx.keys)).await?.is_some() {
        return Err(ApiError::MarketingPaused);
    }
    let op = Op::Send {
        to: request.to.clone(),
        from: request.from,
        body: OutboundBody::Message {
            message: request.message,
        },
        marketing,
    };
    let (_, answer) = call_person(authorities, &ctx.keys.contact(&request.to), &op).await?;
    let Answer::Send(result) = answer else {
        return Err(ApiError::unexpected_answer());
    };
    match result {
        SendAnswer::Sent { id } => Ok(id),
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
        SendAnswer::MarketingCapped => Err(ApiError::MarketingCapped),
        SendAnswer::RampBudgetUsed => Err(ApiError::RampBudgetUsed),
        SendAnswer::FromRequired => Err(ApiError::bad_request(
            "from_required",
            "the contact has not written to any number yet: say which phone_number_id to send from",
        )),
        SendAnswer::Failed {
            action,
            meta_code,
            http_status,
            meta_body,
        } => Err(ApiError::Graph {
            action,
            meta_code,
            http_status,
            meta_body,
        }),
    }
}

/// `POST /v1/messages`, in wa-edge's words.
pub async fn v1<K: Kv, A: Authorities>(
    ctx: &Ctx<'_, K>,
    authorities: &A,
    req: &Request,
) -> Result<Response, ApiError> {
    let Parsed::Send(request) = parse(&req.body, req.category.as_deref())? else {
        return Err(invalid(
            "mark-as-read goes through /{version}/{phone_number_id}/messages",
        ));
    };
    let to = request.to.clone();
    let id = send(ctx, authorities, request).await?;
    Ok(Response::json(200, json!({ "id": id, "to": to })))
}

/// Meta's answer to an accepted send, as Meta gives it.
pub fn meta_success(input: &str, to: &WaId, id: &str) -> Response {
    let field = match to.kind() {
        IdKind::Phone => "wa_id",
        _ => "user_id",
    };
    Response::json(
        200,
        json!({ "messaging_product": "whatsapp", "contacts": [{ "input": input, field: to }],
                "messages": [{ "id": id }] }),
    )
}
