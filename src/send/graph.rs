//! The Cloud API messages endpoint: its URL, request bodies and response parsing, pure.

use crate::config::Config;
use crate::ids::{MessageId, PhoneNumberId, WaId};
use crate::json::{
    from_json, object, write_str, Fields, FromJson, RawJson, ShapeError, ToJson, Value,
};

pub fn messages_url(config: &Config, phone_number_id: &PhoneNumberId) -> String {
    format!(
        "{}/{}/{}/messages",
        config.graph_api_base, config.graph_api_version, phone_number_id
    )
}

/// What to send. Each kind maps to one Cloud API request shape.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboundBody {
    Text {
        body: String,
    },
    /// Interactive reply buttons (at most 3).
    Buttons {
        body: String,
        buttons: Vec<String>,
    },
    /// An approved template: the only thing allowed outside the 24-hour window.
    Template {
        name: String,
        language: String,
        /// As the caller gave them (`null`: none).
        components: RawJson,
    },
    /// Marks an inbound message as read (blue ticks); not a message to the contact.
    MarkRead {
        message_id: MessageId,
    },
    /// A Cloud API message object exactly as a business's client sent it (any type: media,
    /// location, contacts, reactions, interactive, templates, with `context`), forwarded as is.
    Message {
        message: RawJson,
    },
}

/// The message types of the Cloud API; another `type` is forwarded and shown as `other`. In the
/// order the send API guesses a missing `type` from the object present.
pub const MESSAGE_TYPES: [&str; 12] = [
    "text",
    "template",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "reaction",
    "interactive",
    "address",
];

/// A string inside a JSON object, by its path of keys.
fn field(v: &Value<'_>, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(v, |v, key| v.as_object()?.get(key))
        .and_then(|v| v.as_str())
        .map(|s| s.into_owned())
}

// Stored in the outbox as serde's internal tagging wrote it (`{"kind":"text","body":...}`), so
// items queued by an earlier version still read.
impl ToJson for OutboundBody {
    fn write_json(&self, out: &mut String) {
        let mut f = Fields::new(out);
        match self {
            OutboundBody::Text { body } => f.field("kind", "text").field("body", body),
            OutboundBody::Buttons { body, buttons } => f
                .field("kind", "buttons")
                .field("body", body)
                .field("buttons", buttons),
            OutboundBody::Template {
                name,
                language,
                components,
            } => f
                .field("kind", "template")
                .field("name", name)
                .field("language", language)
                .field("components", components),
            OutboundBody::MarkRead { message_id } => {
                f.field("kind", "mark_read").field("message_id", message_id)
            }
            OutboundBody::Message { message } => {
                f.field("kind", "message").field("message", message)
            }
        };
        f.end();
    }
}

impl<'a> FromJson<'a> for OutboundBody {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        let o = object(value)?;
        let kind: String = o.req("kind")?;
        Ok(match kind.as_str() {
            "text" => OutboundBody::Text {
                body: o.req("body")?,
            },
            "buttons" => OutboundBody::Buttons {
                body: o.req("body")?,
                buttons: o.req("buttons")?,
            },
            "template" => OutboundBody::Template {
                name: o.req("name")?,
                language: o.req("language")?,
                components: o.or_default("components")?,
            },
            "mark_read" => OutboundBody::MarkRead {
                message_id: o.req("message_id")?,
            },
            "message" => OutboundBody::Message {
                message: o.req("message")?,
            },
            _ => return Err(crate::json::unknown_variant()),
        })
    }
}

impl OutboundBody {
    /// The text a support agent sees in the history.
    pub fn summary(&self) -> String {
        match self {
            OutboundBody::Text { body } | OutboundBody::Buttons { body, .. } => body.clone(),
            OutboundBody::Template { name, language, .. } => {
                format!("template {name} ({language})")
            }
            OutboundBody::MarkRead { .. } => String::new(),
            OutboundBody::Message { message } => {
                let message = &message.value();
                let kind = self.kind();
                let said = match kind {
                    "text" => field(message, &["text", "body"]),
                    "template" => field(message, &["template", "name"]).map(|name| {
                        let language = field(message, &["template", "language", "code"])
                            .or_else(|| field(message, &["template", "language"]))
                            .unwrap_or_default();
                        format!("template {name} ({language})")
                    }),
                    "interactive" => field(message, &["interactive", "body", "text"]),
                    "reaction" => field(message, &["reaction", "emoji"]),
                    media => field(message, &[media, "caption"]),
                };
                said.unwrap_or_else(|| format!("[{kind}]"))
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            OutboundBody::Text { .. } => "text",
            OutboundBody::Buttons { .. } => "interactive",
            OutboundBody::Template { .. } => "template",
            OutboundBody::MarkRead { .. } => "read",
            OutboundBody::Message { message } => {
                let kind = field(&message.value(), &["type"]);
                let kind = kind.as_deref().unwrap_or("text");
                MESSAGE_TYPES
                    .into_iter()
                    .find(|k| *k == kind)
                    .unwrap_or("other")
            }
        }
    }

    /// Templates are the only messages allowed outside the 24-hour window.
    pub fn is_template(&self) -> bool {
        self.kind() == "template"
    }
}

/// The Cloud API request for one message, as JSON text. `callback` goes in
/// `biz_opaque_callback_data` (Meta echoes it in the message's statuses).
pub fn request_body(
    to: &WaId,
    body: &OutboundBody,
    reply_to: Option<&MessageId>,
    callback: Option<&str>,
) -> String {
    let mut out = String::new();
    let mut f = Fields::new(&mut out);
    match body {
        OutboundBody::MarkRead { message_id } => {
            f.field("messaging_product", "whatsapp")
                .field("status", "read")
                .field("message_id", message_id);
        }
        // The caller's own object: its recipient and context are its own.
        OutboundBody::Message { message } => {
            let message = message.value();
            let Some(fields) = message.as_object() else {
                return crate::json::to_string(&message);
            };
            if fields.get("messaging_product").is_none() {
                f.field("messaging_product", "whatsapp");
            }
            for (key, value) in &fields.fields {
                if callback.is_some() && key.is("biz_opaque_callback_data") {
                    continue;
                }
                f.field(&key.text(), value);
            }
        }
        OutboundBody::Text { body } => {
            addressed(&mut f, to, reply_to).field("type", "text");
            f.field("text", &TextObject { body });
        }
        OutboundBody::Buttons { body, buttons } => {
            addressed(&mut f, to, reply_to).field("type", "interactive");
            f.field("interactive", &ButtonsObject { body, buttons });
        }
        OutboundBody::Template {
            name,
            language,
            components,
        } => {
            addressed(&mut f, to, reply_to).field("type", "template");
            f.field(
                "template",
                &TemplateObject {
                    name,
                    language,
                    components,
                },
            );
        }
    }
    if let Some(callback) = callback {
        f.field("biz_opaque_callback_data", callback);
    }
    f.end();
    out
}

/// The fields every message wa-edge writes itself starts with: who it goes to, and what it
/// answers.
fn addressed<'f, 'o>(
    f: &'f mut Fields<'o>,
    to: &WaId,
    reply_to: Option<&MessageId>,
) -> &'f mut Fields<'o> {
    // A BSUID goes in `recipient` (Meta reads `to` first, so only one is sent).
    let field = match to.kind() {
        crate::ids::IdKind::Phone => "to",
        _ => "recipient",
    };
    f.field("messaging_product", "whatsapp")
        .field("recipient_type", "individual")
        .field(field, to);
    if let Some(id) = reply_to {
        f.field("context", &Context { message_id: id });
    }
    f
}

struct Context<'a> {
    message_id: &'a MessageId,
}

impl ToJson for Context<'_> {
    fn write_json(&self, out: &mut String) {
        Fields::new(out).field("message_id", self.message_id).end();
    }
}

struct TextObject<'a> {
    body: &'a str,
}

impl ToJson for TextObject<'_> {
    fn write_json(&self, out: &mut String) {
        Fields::new(out)
            .field("body", self.body)
            .field("preview_url", &false)
            .end();
    }
}

struct ButtonsObject<'a> {
    body: &'a str,
    buttons: &'a [String],
}

impl ToJson for ButtonsObject<'_> {
    fn write_json(&self, out: &mut String) {
        let mut f = Fields::new(out);
        f.field("type", "button")
            .field("body", &TextField(self.body));
        f.field("action", &ButtonList(self.buttons));
        f.end();
    }
}

/// `{"text": ...}`
struct TextField<'a>(&'a str);

impl ToJson for TextField<'_> {
    fn write_json(&self, out: &mut String) {
        Fields::new(out).field("text", self.0).end();
    }
}

/// `{"buttons": [{"type":"reply","reply":{"id":"btn1","title":...}}, ...]}`
struct ButtonList<'a>(&'a [String]);

impl ToJson for ButtonList<'_> {
    fn write_json(&self, out: &mut String) {
        out.push_str("{\"buttons\":[");
        for (i, title) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"type\":\"reply\",\"reply\":{\"id\":\"btn");
            (i + 1).write_json(out);
            out.push_str("\",\"title\":");
            write_str(out, title);
            out.push_str("}}");
        }
        out.push_str("]}");
    }
}

struct TemplateObject<'a> {
    name: &'a str,
    language: &'a str,
    components: &'a RawJson,
}

impl ToJson for TemplateObject<'_> {
    fn write_json(&self, out: &mut String) {
        let mut f = Fields::new(out);
        f.field("name", self.name)
            .field("language", &Code(self.language));
        if self.components.as_str() != "null" {
            f.field("components", self.components);
        }
        f.end();
    }
}

/// `{"code": ...}`
struct Code<'a>(&'a str);

impl ToJson for Code<'_> {
    fn write_json(&self, out: &mut String) {
        Fields::new(out).field("code", self.0).end();
    }
}

/// A Graph API failure: Meta's error code when it sent one, else the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub http_status: u16,
    pub code: Option<i64>,
    pub title: Option<String>,
    /// Meta's error object as it came, for the gateway to hand back unchanged.
    pub body: Option<String>,
}

impl GraphError {
    /// Whether the message may have gone out after all: no answer, or a success without a
    /// readable message id, or a server error without Meta's code. Recorded as "unknown".
    pub fn outcome_unknown(&self) -> bool {
        self.http_status == 0
            || (200..300).contains(&self.http_status)
            || (self.http_status >= 500 && self.code.is_none())
    }
}

struct SendOk {
    messages: Vec<SentId>,
}
from_json!(SendOk {
    messages: or_default
});

struct SentId {
    id: MessageId,
}
from_json!(SentId { id: req });

struct ErrorBody {
    error: Option<ErrorDetail>,
}
from_json!(ErrorBody { error: opt });

struct ErrorDetail {
    code: Option<i64>,
    message: Option<String>,
}

impl<'a> FromJson<'a> for ErrorDetail {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        let o = object(value)?;
        Ok(ErrorDetail {
            code: o.opt("code")?,
            message: match o.opt("message")? {
                Some(m) => Some(m),
                None => o.opt("error_user_title")?,
            },
        })
    }
}

/// Meta's error objects are small; a larger body is not handed back.
pub const MAX_ERROR_BODY: usize = 4096;

/// Reads Meta's answer to a send: the new message id, or the error.
pub fn parse_send_response(http_status: u16, body: &str) -> Result<MessageId, GraphError> {
    if (200..300).contains(&http_status) {
        if let Ok(ok) = crate::json::from_str::<SendOk>(body) {
            if let Some(sent) = ok.messages.into_iter().next() {
                return Ok(sent.id);
            }
        }
        return Err(GraphError {
            http_status,
            code: None,
            title: Some("no message id in response".into()),
            body: None,
        });
    }
    let detail = crate::json::from_str::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error);
    Err(GraphError {
        http_status,
        code: detail.as_ref().and_then(|d| d.code),
        title: detail.and_then(|d| d.message),
        body: Some(body.to_string()).filter(|b| b.len() <= MAX_ERROR_BODY && b.starts_with('{')),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_and_error_responses() {
        let ok = r#"{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.X"}]}"#;
        assert_eq!(parse_send_response(200, ok), Ok(MessageId::new("wamid.X")));
        let err = r#"{"error":{"message":"Re-engagement message","type":"OAuthException","code":131047,"fbtrace_id":"x"}}"#;
        let e = parse_send_response(400, err).unwrap_err();
        assert_eq!(e.code, Some(131047));
        assert_eq!(parse_send_response(502, "<html>").unwrap_err().code, None);
        assert!(parse_send_response(200, "{}").is_err());
    }

    #[test]
    fn request_shapes() {
        let request_body = |to: &WaId, body: &OutboundBody, reply_to: Option<&MessageId>| {
            let text = request_body(to, body, reply_to, None);
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        };
        let to = WaId::new("15550001");
        let text = OutboundBody::Text { body: "hi".into() };
        let v = request_body(&to, &text, Some(&MessageId::new("wamid.in")));
        assert_eq!(v["to"], "15550001");
        assert_eq!(v["type"], "text");
        assert_eq!(v["text"]["body"], "hi");
        assert_eq!(v["context"]["message_id"], "wamid.in");
        assert_eq!(v["messaging_product"], "whatsapp");
        let buttons = OutboundBody::Buttons {
            body: "Pick".into(),
            buttons: vec!["A".into(), "B".into()],
        };
        let b = request_body(&to, &buttons, None);
        assert_eq!(b["interactive"]["type"], "button");
        assert_eq!(
            b["interactive"]["action"]["buttons"][1]["reply"]["title"],
            "B"
        );
        let template = OutboundBody::Template {
            name: "hello_world".into(),
            language: "en_US".into(),
            components: RawJson::default(),
        };
        let t = request_body(&to, &template, None);
        assert_eq!(t["template"]["language"]["code"], "en_US");
        assert!(t["template"].get("components").is_none());
        let read = OutboundBody::MarkRead {
            message_id: MessageId::new("wamid.in"),
        };
        let r = request_body(&to, &read, None);
        assert_eq!(
            r,
            serde_json::json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.in"})
        );
    }

    #[test]
    fn a_callers_object_goes_out_as_written_with_our_callback_and_product() {
        let to = WaId::new("15550001");
        let message = RawJson::parse(
            r#"{"to":"15550001","type":"image","image":{"link":"https://x/y.png"},"biz_opaque_callback_data":"theirs"}"#,
        )
        .unwrap();
        let body = OutboundBody::Message { message };
        assert_eq!(
            request_body(&to, &body, None, Some("ours")),
            r#"{"messaging_product":"whatsapp","to":"15550001","type":"image","image":{"link":"https://x/y.png"},"biz_opaque_callback_data":"ours"}"#
        );
        assert_eq!(
            request_body(&to, &body, None, None),
            r#"{"messaging_product":"whatsapp","to":"15550001","type":"image","image":{"link":"https://x/y.png"},"biz_opaque_callback_data":"theirs"}"#
        );
        assert_eq!(body.kind(), "image");
        let stored = crate::json::to_string(&body);
        assert_eq!(crate::json::from_str::<OutboundBody>(&stored), Ok(body));
        let text = OutboundBody::Text {
            body: "a \"b\"".into(),
        };
        assert_eq!(
            request_body(&to, &text, Some(&MessageId::new("wamid.in")), Some("cb")),
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"15550001","context":{"message_id":"wamid.in"},"type":"text","text":{"body":"a \"b\"","preview_url":false},"biz_opaque_callback_data":"cb"}"#
        );
        // Written by serde's internal tagging in an earlier version, and still read.
        let queued = r#"{"kind":"template","name":"hello","language":"en_US","components":null}"#;
        assert!(matches!(
            crate::json::from_str::<OutboundBody>(queued),
            Ok(OutboundBody::Template { .. })
        ));
    }
}
