//! The Cloud API messages endpoint: its URL, request bodies and response parsing, pure.

use crate::config::Config;
use crate::ids::{MessageId, PhoneNumberId, WaId};
use crate::serde_ext::{Members, Ordered, RawJson};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

pub fn messages_url(config: &Config, phone_number_id: &PhoneNumberId) -> String {
    format!(
        "{}/{}/{}/messages",
        config.graph_api_base, config.graph_api_version, phone_number_id
    )
}

/// What to send. Each kind maps to one Cloud API request shape. Stored in the outbox as serde's
/// internal tagging writes it (`{"kind":"text","body":...}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
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
        /// As the caller gave them (`null`: none).
        #[serde(default)]
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

// Read by its `kind` first, then as that variant: serde's internally tagged reading buffers
// the object, and a value kept as its exact text (`RawJson`) cannot be read from a buffer.
impl<'de> Deserialize<'de> for OutboundBody {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct Kind<'a> {
            #[serde(borrow)]
            kind: Cow<'a, str>,
        }
        #[derive(Deserialize)]
        struct TextIn {
            body: String,
        }
        #[derive(Deserialize)]
        struct ButtonsIn {
            body: String,
            buttons: Vec<String>,
        }
        #[derive(Deserialize)]
        struct TemplateIn {
            name: String,
            language: String,
            #[serde(default)]
            components: RawJson,
        }
        #[derive(Deserialize)]
        struct MarkReadIn {
            message_id: MessageId,
        }
        #[derive(Deserialize)]
        struct MessageIn {
            message: RawJson,
        }
        let raw = Box::<serde_json::value::RawValue>::deserialize(d)?;
        let text = raw.get();
        let kind: Kind<'_> = serde_json::from_str(text).map_err(D::Error::custom)?;
        let read = |e: serde_json::Error| D::Error::custom(crate::serde_ext::describe(&e));
        Ok(match kind.kind.as_ref() {
            "text" => {
                let t: TextIn = serde_json::from_str(text).map_err(read)?;
                OutboundBody::Text { body: t.body }
            }
            "buttons" => {
                let b: ButtonsIn = serde_json::from_str(text).map_err(read)?;
                OutboundBody::Buttons {
                    body: b.body,
                    buttons: b.buttons,
                }
            }
            "template" => {
                let t: TemplateIn = serde_json::from_str(text).map_err(read)?;
                OutboundBody::Template {
                    name: t.name,
                    language: t.language,
                    components: t.components,
                }
            }
            "mark_read" => {
                let m: MarkReadIn = serde_json::from_str(text).map_err(read)?;
                OutboundBody::MarkRead {
                    message_id: m.message_id,
                }
            }
            "message" => {
                let m: MessageIn = serde_json::from_str(text).map_err(read)?;
                OutboundBody::Message { message: m.message }
            }
            _ => return Err(D::Error::custom("unknown kind of outbound body")),
        })
    }
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

/// A string inside a JSON text, by its path of keys.
fn field(message: &RawJson, path: &[&str]) -> Option<String> {
    let value: serde_json::Value = message.read().ok()?;
    path.iter()
        .try_fold(&value, |v, key| v.get(key))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

/// The `type` of a caller's message object, read without taking the rest apart.
#[derive(Deserialize)]
struct TypeOf<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
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
                let kind = message.read::<TypeOf<'_>>().ok().and_then(|t| t.kind);
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
    // A BSUID goes in `recipient` (Meta reads `to` first, so only one is sent).
    let (to_field, recipient) = match to.kind() {
        crate::ids::IdKind::Phone => (Some(to), None),
        _ => (None, Some(to)),
    };
    let mut out = Outgoing {
        messaging_product: "whatsapp",
        recipient_type: "individual",
        to: to_field,
        recipient,
        context: reply_to.map(|message_id| ContextOut { message_id }),
        kind: "text",
        text: None,
        interactive: None,
        template: None,
        biz_opaque_callback_data: callback,
    };
    match body {
        OutboundBody::MarkRead { message_id } => {
            return crate::serde_ext::to_string(&MarkReadOut {
                messaging_product: "whatsapp",
                status: "read",
                message_id,
                typing_indicator: None,
                biz_opaque_callback_data: callback,
            });
        }
        // The caller's own object: its recipient and context are its own.
        OutboundBody::Message { message } => return callers_object(message, callback),
        OutboundBody::Text { body } => {
            out.text = Some(TextOut {
                body,
                preview_url: false,
            });
        }
        OutboundBody::Buttons { body, buttons } => {
            out.kind = "interactive";
            out.interactive = Some(ButtonsOut {
                kind: "button",
                body: TextOf { text: body },
                action: ButtonList {
                    buttons: buttons
                        .iter()
                        .enumerate()
                        .map(|(i, title)| ReplyButton {
                            kind: "reply",
                            reply: Reply {
                                id: format!("btn{}", i + 1),
                                title,
                            },
                        })
                        .collect(),
                },
            });
        }
        OutboundBody::Template {
            name,
            language,
            components,
        } => {
            out.kind = "template";
            out.template = Some(TemplateOut {
                name,
                language: Code { code: language },
                components: Some(components).filter(|c| c.as_str() != "null"),
            });
        }
    }
    crate::serde_ext::to_string(&out)
}

/// A caller's message object with its members in their order: Meta's product added when
/// missing, and our callback in place of theirs when we set one.
fn callers_object(message: &RawJson, callback: Option<&str>) -> String {
    let Ok(members) = message.read::<Members<'_>>() else {
        return message.as_str().to_string();
    };
    let mut out: Vec<(&str, RawJson)> = Vec::with_capacity(members.0.len() + 2);
    if members.get("messaging_product").is_none() {
        out.push(("messaging_product", RawJson::from_value("whatsapp")));
    }
    for (key, value) in &members.0 {
        if callback.is_some() && key == "biz_opaque_callback_data" {
            continue;
        }
        out.push((key.as_ref(), RawJson::from((*value).to_owned())));
    }
    if let Some(callback) = callback {
        out.push(("biz_opaque_callback_data", RawJson::from_value(callback)));
    }
    crate::serde_ext::to_string(&Ordered(&out))
}

/// A message wa-edge writes itself, in the order Meta documents its fields.
#[derive(Serialize)]
struct Outgoing<'a> {
    messaging_product: &'static str,
    recipient_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a WaId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<&'a WaId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<ContextOut<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<TextOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interactive: Option<ButtonsOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<TemplateOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<&'a str>,
}

/// A mark-as-read as Meta takes it, with the typing indicator or without.
#[derive(Serialize)]
pub struct MarkReadOut<'a> {
    pub messaging_product: &'static str,
    pub status: &'static str,
    pub message_id: &'a MessageId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typing_indicator: Option<&'a TypingIndicator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<&'a str>,
}

/// `typing_indicator`: Meta's only kind is `text`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TypingIndicator {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Serialize)]
struct ContextOut<'a> {
    message_id: &'a MessageId,
}

#[derive(Serialize)]
struct TextOut<'a> {
    body: &'a str,
    preview_url: bool,
}

#[derive(Serialize)]
struct ButtonsOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    body: TextOf<'a>,
    action: ButtonList<'a>,
}

#[derive(Serialize)]
struct TextOf<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct ButtonList<'a> {
    buttons: Vec<ReplyButton<'a>>,
}

#[derive(Serialize)]
struct ReplyButton<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    reply: Reply<'a>,
}

#[derive(Serialize)]
struct Reply<'a> {
    id: String,
    title: &'a str,
}

#[derive(Serialize)]
struct TemplateOut<'a> {
    name: &'a str,
    language: Code<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<&'a RawJson>,
}

#[derive(Serialize)]
struct Code<'a> {
    code: &'a str,
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
    /// What a request that got no answer at all (a timeout, a reset) is recorded as.
    pub fn no_answer() -> GraphError {
        GraphError {
            http_status: 0,
            code: None,
            title: Some("no answer".into()),
            body: None,
        }
    }

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
    message: Option<String>,
    error_user_title: Option<String>,
}

/// Meta's error objects are small; a larger body is not handed back.
pub const MAX_ERROR_BODY: usize = 4096;

/// Reads Meta's answer to a send: the new message id, or the error.
pub fn parse_send_response(http_status: u16, body: &str) -> Result<MessageId, GraphError> {
    if (200..300).contains(&http_status) {
        if let Ok(ok) = crate::serde_ext::from_str::<SendOk>(body) {
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
    let detail = crate::serde_ext::from_str::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error);
    Err(GraphError {
        http_status,
        code: detail.as_ref().and_then(|d| d.code),
        title: detail.and_then(|d| d.message.or(d.error_user_title)),
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
        let stored = crate::serde_ext::to_string(&body);
        assert_eq!(
            crate::serde_ext::from_str::<OutboundBody>(&stored),
            Ok(body)
        );
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
            crate::serde_ext::from_str::<OutboundBody>(queued),
            Ok(OutboundBody::Template { .. })
        ));
    }
}
