//! The Cloud API messages endpoint: request bodies and response parsing, pure.

use crate::config::Config;
use crate::ids::{MessageId, PhoneNumberId, WaId};
use serde::Deserialize;
use serde_json::json;

pub fn messages_url(config: &Config, phone_number_id: &PhoneNumberId) -> String {
    format!(
        "{}/{}/{}/messages",
        config.graph_api_base, config.graph_api_version, phone_number_id
    )
}

pub fn text_body(to: &WaId, body: &str, reply_to: Option<&MessageId>) -> serde_json::Value {
    let mut v = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.as_str(),
        "type": "text",
        "text": { "body": body, "preview_url": false },
    });
    if let (Some(id), Some(obj)) = (reply_to, v.as_object_mut()) {
        obj.insert("context".into(), json!({ "message_id": id.as_str() }));
    }
    v
}

/// A Graph API failure: Meta's error code when it sent one, else the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub http_status: u16,
    pub code: Option<i64>,
    pub title: Option<String>,
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
        });
    }
    let detail = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error);
    Err(GraphError {
        http_status,
        code: detail.as_ref().and_then(|d| d.code),
        title: detail.and_then(|d| d.message),
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
    fn text_body_shape() {
        let v = text_body(
            &WaId::new("15550001"),
            "hi",
            Some(&MessageId::new("wamid.in")),
        );
        assert_eq!(v["to"], "15550001");
        assert_eq!(v["text"]["body"], "hi");
        assert_eq!(v["context"]["message_id"], "wamid.in");
        assert_eq!(v["messaging_product"], "whatsapp");
    }
}
