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
use crate::json::{Fields, JsonObject, Object, RawJson, ToJson, Value};
use crate::policy::auto_reply::MAX_TEXT_BODY;
use crate::policy::business::{is_marketing, Category};
use crate::send::graph::MESSAGE_TYPES;
use crate::send::OutboundBody;
use crate::store::account::marketing_pause_key;
use crate::store::kv::Kv;
use crate::store::templates;
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
    /// Meta's message object, as it will be forwarded (wa-edge's own fields taken out).
    pub message: RawJson,
    pub template: Option<String>,
    pub category: Option<Category>,
}

/// What a body asks for: a message to a person, or a request about an inbound message (mark as
/// read, typing indicator) that goes to Meta as it is.
pub enum Parsed {
    Send(SendRequest),
    PassThrough(RawJson),
}

fn invalid(message: &'static str) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}

/// A string field of an object, if it is one.
fn text_at<'a>(o: Option<&Object<'a>>, key: &str) -> Option<Cow<'a, str>> {
    o?.get(key)?.as_str()
}

/// Reads a send body. `/v1/messages`' shorthand (`"text": "..."`, a template `language` as a
/// string) becomes Meta's shape; Meta's shape is kept as it is.
pub fn parse(body: &[u8], header_category: Option<&str>) -> Result<Parsed, ApiError> {
    let Ok(Value::Object(message)) = crate::json::parse_bytes(body) else {
        return Err(invalid("expected a JSON object: Meta's message object"));
    };
    if text_at(Some(&message), "status").as_deref() == Some("read") {
        return Ok(Parsed::PassThrough(RawJson::of(&Value::Object(message))));
    }
    let category = match message.get("category") {
        None => header_category.map(Cow::Borrowed),
        Some(Value::String(c)) => Some(c.text()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_category",
                "category must be a string",
            ))
        }
    };
    let category = match category {
        None => None,
        Some(c) => Some(Category::parse(&c).ok_or(ApiError::bad_request(
            "invalid_category",
            "category must be marketing, utility or authentication",
        ))?),
    };
    let from = match message.get("from") {
        None => None,
        Some(Value::String(f)) => {
            Some(PhoneNumberId::parse(&f.text()).ok_or(ApiError::bad_request(
                "invalid_phone_number_id",
                "from must be Meta's numeric phone number id",
            ))?)
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_phone_number_id",
                "from must be a string",
            ))
        }
    };
    let given_kind = text_at(Some(&message), "type");
    let kind = match &given_kind {
        Some(kind) => kind.to_string(),
        None => MESSAGE_TYPES
            .into_iter()
            .find(|t| message.get(t).is_some())
            .ok_or(invalid("no message: say its type and give its object"))?
            .to_string(),
    };
    let object_of_kind = message.get(&kind);
    // `/v1/messages` shorthand: `"text": "..."` is the text's body.
    let shorthand_text = match object_of_kind {
        Some(Value::String(body)) if kind == "text" => Some(body.text()),
        _ => None,
    };
    if shorthand_text.is_none()
        && object_of_kind.is_none_or(|v| v.as_object().is_none())
        && kind != "contacts"
    {
        return Err(invalid("the message's type names no object of that name"));
    }
    if kind == "text" {
        let text = shorthand_text
            .clone()
            .or_else(|| text_at(object_of_kind.and_then(Value::as_object), "body"))
            .unwrap_or_default();
        if text.trim().is_empty() || text.chars().count() > MAX_TEXT_BODY {
            return Err(invalid("text.body must be 1 to 4096 characters"));
        }
    }
    let template = match kind.as_str() {
        "template" => Some(
            text_at(object_of_kind.and_then(Value::as_object), "name")
                .filter(|n| !n.is_empty())
                .ok_or(invalid("template.name is required"))?
                .into_owned(),
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
    let to = WaId::parse_user_input(&raw_to).ok_or(ApiError::bad_request(
        "invalid_wa_id",
        "to is not a WhatsApp id",
    ))?;
    let input = raw_to.into_owned();
    let mut out = String::new();
    let mut f = Fields::new(&mut out);
    if message.get("messaging_product").is_none() {
        f.field("messaging_product", "whatsapp");
    }
    if given_kind.is_none() {
        f.field("type", kind.as_str());
    }
    for (key, value) in &message.fields {
        let key = key.text();
        match (key.as_ref(), value) {
            // wa-edge's own fields are not Meta's.
            ("category" | "from", _) => {}
            ("text", Value::String(body)) => {
                let text = JsonObject::new()
                    .with("body", &body.text())
                    .with("preview_url", &false);
                f.field("text", &text);
            }
            ("template", Value::Object(t)) => {
                f.field("template", &Template(t));
            }
            (key, value) => {
                f.field(key, value);
            }
        }
    }
    f.end();
    Ok(Parsed::Send(SendRequest {
        to,
        input,
        from,
        message: RawJson::parse(&out).ok_or(invalid("expected a JSON object"))?,
        template,
        category,
    }))
}

/// A template object in Meta's shape: `language` given as a string becomes `{"code": ...}`,
/// and `components: null` is left out.
struct Template<'t, 'a>(&'t Object<'a>);

impl ToJson for Template<'_, '_> {
    fn write_json(&self, out: &mut String) {
        let mut f = Fields::new(out);
        for (key, value) in &self.0.fields {
            let key = key.text();
            match (key.as_ref(), value) {
                ("language", Value::String(code)) => {
                    f.field("language", &JsonObject::new().with("code", &code.text()));
                }
                ("components", Value::Null) => {}
                (key, value) => {
                    f.field(key, value);
                }
            }
        }
        f.end();
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
    Ok(Response::json(
        200,
        JsonObject::new().with("id", &id).with("to", &to),
    ))
}

/// Meta's answer to an accepted send, as Meta gives it.
pub fn meta_success(input: &str, to: &WaId, id: &str) -> Response {
    let field = match to.kind() {
        IdKind::Phone => "wa_id",
        _ => "user_id",
    };
    let contact = JsonObject::new().with("input", input).with(field, to);
    let message = JsonObject::new().with("id", id);
    Response::json(
        200,
        JsonObject::new()
            .with("messaging_product", "whatsapp")
            .with("contacts", &[contact])
            .with("messages", &[message]),
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
        assert_eq!(request.message.as_str(), body);
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
        assert!(matches!(
            parse(
                br#"{"messaging_product":"whatsapp","status":"read","message_id":"wamid.X"}"#,
                None
            ),
            Ok(Parsed::PassThrough(_))
        ));
    }
}
