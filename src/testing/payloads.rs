//! Webhook payloads in Meta's shapes, and the requests that carry them.

use serde_json::{json, Value};

/// Meta's envelope around one change of `field`.
pub fn envelope(field: &str, value: Value) -> Value {
    json!({"object":"whatsapp_business_account","entry":[{"id":"WABA1","changes":[{"field":field,"value":value}]}]})
}

/// A `messages` delivery to `phone_number_id` from one contact, with the given message objects.
pub fn messages_delivery(
    phone_number_id: &str,
    wa_id: &str,
    name: &str,
    messages: &[Value],
) -> String {
    envelope(
        "messages",
        json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550009999", "phone_number_id": phone_number_id },
            "contacts": [{ "profile": { "name": name }, "wa_id": wa_id }],
            "messages": messages,
        }),
    )
    .to_string()
}

/// A text message object as Meta sends it (timestamp as a string of seconds).
pub fn text_message(wa_id: &str, id: &str, at: u64, body: &str) -> Value {
    json!({ "from": wa_id, "id": id, "timestamp": at.to_string(), "type": "text", "text": { "body": body } })
}

/// A `statuses` delivery with the given status objects.
pub fn statuses_delivery(phone_number_id: &str, statuses: &[Value]) -> String {
    envelope(
        "messages",
        json!({
            "messaging_product": "whatsapp",
            "metadata": { "phone_number_id": phone_number_id },
            "statuses": statuses,
        }),
    )
    .to_string()
}

/// A status object; `error_code` makes it a `failed` status carrying that Meta error.
pub fn status(id: &str, status: &str, at: u64, recipient: &str, error_code: Option<i64>) -> Value {
    let mut s = json!({ "id": id, "status": status, "timestamp": at.to_string(), "recipient_id": recipient });
    if let (Some(code), Some(obj)) = (error_code, s.as_object_mut()) {
        obj.insert(
            "errors".into(),
            json!([{ "code": code, "title": "scripted error" }]),
        );
    }
    s
}
