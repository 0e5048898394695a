//! The Cloud API messages endpoint: its URL, request bodies and response parsing, pure.

use crate::config::Config;
use crate::ids::{MessageId, PhoneNumberId, WaId};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn messages_url(config: &Config, phone_number_id: &PhoneNumberId) -> String {
    format!(
        "{}/{}/{}/messages",
        config.graph_api_base, config.graph_api_version, phone_number_id
    )
}

/// What to send. Each kind maps to one Cloud API request shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
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
        components: serde_json::Value,
    },
    /// Marks an inbound message as read (blue ticks); not a message to the contact.
    MarkRead {
        message_id: MessageId,
    },
    /// A Cloud API message object exactly as a business's client sent it (any type: media,
    /// location, contacts, reactions, interactive, templates, with `context`), forwarded as is.
    Message {
        message: serde_json::Value,
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

fn field<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, key| v.get(key))
        .and_then(|v| v.as_str())
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
                let kind = self.kind();
                let said = match kind {
                    "text" => field(message, &["text", "body"]).map(str::to_string),
                    "template" => field(message, &["template", "name"]).map(|name| {
                        let language = field(message, &["template", "language", "code"])
                            .or(field(message, &["template", "language"]))
                            .unwrap_or_default();
                        format!("template {name} ({language})")
                    }),
                    "interactive" => {
                        field(message, &["interactive", "body", "text"]).map(str::to_string)
                    }
                    "reaction" => field(message, &["reaction", "emoji"]).map(str::to_string),
                    media => field(message, &[media, "caption"]).map(str::to_string),
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
                let kind = field(message, &["type"]).unwrap_or("text");
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

pub fn request_body(
    to: &WaId,
    body: &OutboundBody,
    reply_to: Option<&MessageId>,
) -> serde_json::Value {
    let mut v = match body {
        OutboundBody::MarkRead { message_id } => {
            return json!({ "messaging_product": "whatsapp", "status": "read", "message_id": message_id.as_str() });
        }
        // The caller's own object: its recipient, context and callback data are its own.
        OutboundBody::Message { message } => {
            let mut message = message.clone();
            if let Some(obj) = message.as_object_mut() {
                obj.entry("messaging_product").or_insert(json!("whatsapp"));
            }
            return message;
        }
        OutboundBody::Text { body } => {
            json!({ "type": "text", "text": { "body": body, "preview_url": false } })
        }
        OutboundBody::Buttons { body, buttons } => {
            let buttons: Vec<_> = buttons
                .iter()
                .enumerate()
                .map(|(i, title)| json!({ "type": "reply", "reply": { "id": format!("btn{}", i + 1), "title": title } }))
                .collect();
            json!({ "type": "interactive", "interactive": { "type": "button", "body": { "text": body }, "action": { "buttons": buttons } } })
        }
        OutboundBody::Template {
            name,
            language,
            components,
        } => {
            let mut template = json!({ "name": name, "language": { "code": language } });
            if let (false, Some(obj)) = (components.is_null(), template.as_object_mut()) {
                obj.insert("components".into(), components.clone());
            }
            json!({ "type": "template", "template": template })
        }
    };
    if let Some(obj) = v.as_object_mut() {
        obj.insert("messaging_product".into(), json!("whatsapp"));
        obj.insert("recipient_type".into(), json!("individual"));
        // A BSUID goes in `recipient` (Meta reads `to` first, so only one is sent).
        let field = match to.kind() {
            crate::ids::IdKind::Phone => "to",
            _ => "recipient",
        };
        obj.insert(field.into(), json!(to.as_str()));
        if let Some(id) = reply_to {
            obj.insert("context".into(), json!({ "message_id": id.as_str() }));
        }
    }
    v
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

#[derive(Deserialize)]
struct SendOk {
    #[serde(default)]
    messages: Vec<SentId>,
}

#[derive(Deserialize)]
struct SentId {
    id: MessageId,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: Option<i64>,
    #[serde(alias = "error_user_title")]
    message: Option<String>,
}

/// Meta's error objects are small; a larger body is not handed back.
pub const MAX_ERROR_BODY: usize = 4096;

/// Reads Meta's answer to a send: the new message id, or the error.
pub fn parse_send_response(http_status: u16, body: &str) -> Result<MessageId, GraphError> {
    if (200..300).contains(&http_status) {
        if let Ok(ok) = serde_json::from_str::<SendOk>(body) {
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
    let detail = serde_json::from_str::<ErrorBody>(body)
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
            components: serde_json::Value::Null,
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
            json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.in"})
        );
    }
}
