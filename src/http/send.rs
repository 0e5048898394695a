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
use crate::ids::MessageId;
use crate::ids::{IdKind, PhoneNumberId, WaId};
use crate::policy::auto_reply::MAX_TEXT_BODY;
use crate::policy::business::{is_marketing, Category};
use crate::send::graph::{MarkReadOut, TypingIndicator, MESSAGE_TYPES};
use crate::send::OutboundBody;
use crate::serde_ext::{from_str, unique_keys, Members, Ordered, RawJson};
use crate::store::account::marketing_pause_key;
use crate::store::kv::Kv;
use crate::store::templates;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A template's category when the caller's client cannot add a `category` field.
pub const CATEGORY_HEADER: &str = "x-wa-edge-category";

/// A validated message to send.
pub struct SendRequest {
    pub to: WaId,
    /// The recipient as the caller wrote it (Meta's answer echoes it as `input`).
    pub input: String,
    /// The business number: from the gateway's path, or `/v1/messages`' optional `from`.
    pub from: Option<PhoneNumberId>,
    /// Meta's message object as it will be forwarded: built from what was checked (the
    /// recipient normalised, the text and template read), wa-edge's own fields taken out.
    pub message: RawJson,
    pub template: Option<String>,
    pub category: Option<Category>,
}

/// What a body asks for: a message to a person, or a request about an inbound message (mark as
/// read, with the typing indicator or without) that goes to Meta in exactly that shape.
pub enum Parsed {
    Send(SendRequest),
    PassThrough(RawJson),
}

fn invalid(message: &'static str) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}

/// `text`: Meta's object, or `/v1/messages`' shorthand string.
#[derive(Deserialize)]
#[serde(untagged)]
enum TextField {
    Body(String),
    Object(TextObject),
}

#[derive(Deserialize, Serialize)]
struct TextObject {
    #[serde(default)]
    body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preview_url: Option<bool>,
}

/// A template's `language`: Meta's object, or `/v1/messages`' shorthand string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Language {
    Code(String),
    Object(LanguageObject),
}

#[derive(Deserialize, Serialize)]
struct LanguageObject {
    code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
}

/// A template object in Meta's shape, from the caller's: its name checked, a `language` given as
/// a string written as `{"code": ...}`, `components: null` left out, the rest as written.
fn template_of(raw: &RawValue) -> Result<(String, RawJson), ApiError> {
    let refused = || invalid("template must be Meta's template object");
    let members: Members<'_> = from_str(raw.get()).map_err(|_| refused())?;
    let name = string_member(&members, "name", refused)?
        .filter(|n| !n.is_empty())
        .ok_or(invalid("template.name is required"))?;
    let mut out: Vec<(&str, RawJson)> = Vec::with_capacity(members.0.len());
    for (key, value) in &members.0 {
        let written = match key.as_ref() {
            "language" => match from_str::<Language>(value.get()).map_err(|_| refused())? {
                Language::Code(code) => RawJson::from_value(&LanguageObject { code, policy: None }),
                Language::Object(object) => RawJson::from_value(&object),
            },
            "components" if value.get() == "null" => continue,
            _ => RawJson::from((*value).to_owned()),
        };
        out.push((key.as_ref(), written));
    }
    Ok((name, RawJson::from_value(&Ordered(&out))))
}

/// A mark-as-read, with the typing indicator or without: exactly these fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkReadIn<'a> {
    #[serde(default)]
    messaging_product: Option<Cow<'a, str>>,
    status: Cow<'a, str>,
    message_id: MessageId,
    #[serde(default)]
    typing_indicator: Option<TypingIndicator>,
}

/// A string member, or the refusal that names it.
fn string_member<'a>(
    members: &Members<'a>,
    key: &str,
    refusal: impl Fn() -> ApiError,
) -> Result<Option<String>, ApiError> {
    match members.get(key) {
        None => Ok(None),
        Some(raw) => from_str::<String>(raw.get())
            .map(Some)
            .map_err(|_| refusal()),
    }
}

/// Reads a send body into its typed shape. A key given twice anywhere is refused; `/v1/messages`'
/// shorthand (`"text": "..."`, a template `language` as a string) becomes Meta's shape; the
/// recipient is normalised once, and that value is checked, forwarded and recorded.
pub fn parse(body: &[u8], header_category: Option<&str>) -> Result<Parsed, ApiError> {
    let not_object = || invalid("expected a JSON object: Meta's message object");
    let text = std::str::from_utf8(body).map_err(|_| not_object())?;
    if !text.trim_start().starts_with('{') {
        return Err(not_object());
    }
    unique_keys(text).map_err(|e| {
        if e.0.contains("duplicate") {
            ApiError::bad_request("duplicate_key", "a key is given twice in the body")
        } else {
            not_object()
        }
    })?;
    let members: Members<'_> = from_str(text).map_err(|_| not_object())?;
    if members.get("status").is_some() {
        return mark_read(text).map(Parsed::PassThrough);
    }
    let category = match string_member(&members, "category", || {
        ApiError::bad_request("invalid_category", "category must be a string")
    })? {
        Some(c) => Some(c),
        None => header_category.map(str::to_string),
    };
    let category = match category {
        None => None,
        Some(c) => Some(Category::parse(&c).ok_or(ApiError::bad_request(
            "invalid_category",
            "category must be marketing, utility or authentication",
        ))?),
    };
    let from = match string_member(&members, "from", || {
        ApiError::bad_request("invalid_phone_number_id", "from must be a string")
    })? {
        None => None,
        Some(f) => Some(PhoneNumberId::parse(&f).ok_or(ApiError::bad_request(
            "invalid_phone_number_id",
            "from must be Meta's numeric phone number id",
        ))?),
    };
    let given_kind = string_member(&members, "type", || invalid("type must be a string"))?;
    let kind = match &given_kind {
        Some(kind) => kind.clone(),
        None => MESSAGE_TYPES
            .into_iter()
            .find(|t| members.get(t).is_some())
            .ok_or(invalid("no message: say its type and give its object"))?
            .to_string(),
    };
    let object_of_kind = members.get(&kind);
    let is_object = object_of_kind.is_some_and(|v| v.get().starts_with('{'));
    let text_object = match (kind.as_str(), object_of_kind) {
        ("text", Some(raw)) => match from_str::<TextField>(raw.get()) {
            Ok(TextField::Body(body)) => Some(TextObject {
                body,
                preview_url: Some(false),
            }),
            Ok(TextField::Object(object)) => Some(object),
            Err(_) => return Err(invalid("text must be Meta's text object")),
        },
        _ => None,
    };
    if text_object.is_none() && !is_object && kind != "contacts" {
        return Err(invalid("the message's type names no object of that name"));
    }
    if let Some(t) = &text_object {
        if t.body.trim().is_empty() || t.body.chars().count() > MAX_TEXT_BODY {
            return Err(invalid("text.body must be 1 to 4096 characters"));
        }
    }
    let template = match (kind.as_str(), object_of_kind) {
        ("template", Some(raw)) => Some(template_of(raw)?),
        _ => None,
    };
    // Meta reads `to` first when both are given; so does wa-edge, and only the recipient it
    // checked goes out.
    let recipient_key = if members.get("to").is_some() {
        "to"
    } else {
        "recipient"
    };
    let raw_to = string_member(&members, recipient_key, || {
        ApiError::bad_request("invalid_wa_id", "to must be a string")
    })?
    .ok_or(ApiError::bad_request(
        "invalid_wa_id",
        "to (or recipient) is required",
    ))?;
    let to = WaId::parse_user_input(&raw_to).ok_or(ApiError::bad_request(
        "invalid_wa_id",
        "to is not a WhatsApp id in international form (no leading 0)",
    ))?;
    let mut out: Vec<(&str, RawJson)> = Vec::with_capacity(members.0.len() + 2);
    if members.get("messaging_product").is_none() {
        out.push(("messaging_product", RawJson::from_value("whatsapp")));
    }
    if given_kind.is_none() {
        out.push(("type", RawJson::from_value(kind.as_str())));
    }
    for (key, value) in &members.0 {
        let written = match key.as_ref() {
            // wa-edge's own fields are not Meta's; the recipient not checked is not sent.
            "category" | "from" => continue,
            "to" | "recipient" if key.as_ref() != recipient_key => continue,
            "to" | "recipient" => RawJson::from_value(to.as_str()),
            "text" if text_object.is_some() => RawJson::from_value(&text_object),
            "template" => match &template {
                Some((_, object)) => object.clone(),
                None => RawJson::from((*value).to_owned()),
            },
            _ => RawJson::from((*value).to_owned()),
        };
        out.push((key.as_ref(), written));
    }
    let message = Ordered(&out);
    Ok(Parsed::Send(SendRequest {
        to,
        input: raw_to,
        from,
        message: RawJson::from_value(&message),
        template: template.map(|(name, _)| name),
        category,
    }))
}

/// A mark-as-read (with the typing indicator or without), rebuilt from its typed shape: any
/// other field, or a status other than `read`, is refused rather than passed on unguarded.
fn mark_read(text: &str) -> Result<RawJson, ApiError> {
    let refused = || {
        invalid("a status request is a mark-as-read: messaging_product, status \"read\", message_id and typing_indicator only")
    };
    let read: MarkReadIn<'_> = from_str(text).map_err(|_| refused())?;
    let product_ok = read
        .messaging_product
        .as_deref()
        .is_none_or(|p| p == "whatsapp");
    if read.status != "read" || !product_ok {
        return Err(refused());
    }
    if read
        .typing_indicator
        .as_ref()
        .is_some_and(|t| t.kind != "text")
    {
        return Err(refused());
    }
    Ok(RawJson::from_value(&MarkReadOut {
        messaging_product: "whatsapp",
        status: "read",
        message_id: &read.message_id,
        typing_indicator: read.typing_indicator.as_ref(),
        biz_opaque_callback_data: None,
    }))
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
        SendAnswer::Stopped => Err(ApiError::SendingStopped),
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
    Ok(Response::json(200, json!({"id": id, "to": to})))
}

/// Meta's answer to an accepted send, as Meta gives it.
pub fn meta_success(input: &str, to: &WaId, id: &str) -> Response {
    let field = match to.kind() {
        IdKind::Phone => "wa_id",
        _ => "user_id",
    };
    let contact = json!({"input": input, field: to});
    let message = json!({"id": id});
    Response::json(
        200,
        json!({"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message_of(body: &str) -> SendRequest {
        match parse(body.as_bytes(), None) {
            Ok(Parsed::Send(request)) => request,
            _ => panic!("not a send: {body}"),
        }
    }

    #[test]
    fn a_message_in_metas_shape_is_forwarded_as_written() {
        let body = r#"{"messaging_product":"whatsapp","to":"+1 650 555 1234","type":"image","image":{"link":"https://x/y.png","caption":"caf\u00e9"}}"#;
        let request = message_of(body);
        // The recipient goes out as it was checked; the rest as the caller wrote it.
        assert_eq!(
            request.message.as_str(),
            body.replace("+1 650 555 1234", "16505551234")
        );
        assert_eq!(request.to.as_str(), "16505551234");
        assert_eq!(request.input, "+1 650 555 1234");
    }

    #[test]
    fn shorthand_becomes_metas_shape_and_our_own_fields_are_taken_out() {
        let request = message_of(
            r#"{"to":"16505551234","text":"hi \"you\"","from":"106540352242922","category":"utility"}"#,
        );
        assert_eq!(
            request.message.as_str(),
            r#"{"messaging_product":"whatsapp","type":"text","to":"16505551234","text":{"body":"hi \"you\"","preview_url":false}}"#
        );
        assert_eq!(request.from.unwrap().as_str(), "106540352242922");
        assert_eq!(request.category, Some(Category::Utility));
        let template = message_of(
            r#"{"to":"16505551234","type":"template","template":{"name":"hello","language":"en_US","components":null}}"#,
        );
        assert_eq!(
            template.message.as_str(),
            r#"{"messaging_product":"whatsapp","to":"16505551234","type":"template","template":{"name":"hello","language":{"code":"en_US"}}}"#
        );
        assert_eq!(template.template.as_deref(), Some("hello"));
    }

    #[test]
    fn bodies_that_are_not_a_message_get_their_reason() {
        let code = |body: &str| match parse(body.as_bytes(), None) {
            Err(ApiError::BadRequest { code, message }) => format!("{code}: {message}"),
            _ => "accepted".into(),
        };
        assert_eq!(
            code("[1]"),
            "invalid_body: expected a JSON object: Meta's message object"
        );
        assert_eq!(
            code(r#"{"to":"1650","type":"image","image":"x"}"#),
            "invalid_body: the message's type names no object of that name"
        );
        assert_eq!(
            code(r#"{"to":"16505551234","text":{"body":"  "}}"#),
            "invalid_body: text.body must be 1 to 4096 characters"
        );
        assert_eq!(
            code(r#"{"text":"hi"}"#),
            "invalid_wa_id: to (or recipient) is required"
        );
        assert_eq!(
            code(r#"{"to":"16505551234","text":"hi","category":7}"#),
            "invalid_category: category must be a string"
        );
        assert_eq!(
            code(r#"{"to":"16505551234","to":"16505550000","text":"hi"}"#),
            "duplicate_key: a key is given twice in the body"
        );
        assert_eq!(
            code(r#"{"to":"16505551234","text":{"body":"a","body":"b"}}"#),
            "duplicate_key: a key is given twice in the body"
        );
        assert!(
            code(r#"{"status":"read","message_id":"wamid.X","to":"1650555","type":"text"}"#)
                .starts_with("invalid_body: a status request is a mark-as-read")
        );
        assert!(code(r#"{"to":"015551234567","text":"hi"}"#).starts_with("invalid_wa_id"));
        assert!(matches!(
            parse(
                br#"{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X"}"#,
                None
            ),
            Ok(Parsed::PassThrough(_))
        ));
    }
}
