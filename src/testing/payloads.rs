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

/// One person's ids as Meta's 2026 payloads carry them: any of a phone number, a BSUID and a
/// parent BSUID.
#[derive(Clone, Copy, Default)]
pub struct Ids<'a> {
    pub phone: Option<&'a str>,
    pub bsuid: Option<&'a str>,
    pub parent: Option<&'a str>,
}

/// A text message from a person known by `ids`, with their `contacts[]` card (and a username
/// when they have no phone number), as Meta sends it since 2026.
pub fn identity_text(phone_number_id: &str, ids: Ids<'_>, id: &str, at: u64, body: &str) -> String {
    let mut message = serde_json::Map::new();
    message.insert("id".into(), json!(id));
    message.insert("timestamp".into(), json!(at.to_string()));
    message.insert("type".into(), json!("text"));
    message.insert("text".into(), json!({ "body": body }));
    let mut card = serde_json::Map::new();
    let profile = match ids.phone {
        Some(_) => json!({ "name": "Kai" }),
        None => json!({ "name": "Kai", "username": "@kai.w" }),
    };
    card.insert("profile".into(), profile);
    for (value, in_message, in_card) in [
        (ids.phone, "from", "wa_id"),
        (ids.bsuid, "from_user_id", "user_id"),
        (ids.parent, "from_parent_user_id", "parent_user_id"),
    ] {
        if let Some(v) = value {
            message.insert(in_message.into(), json!(v));
            card.insert(in_card.into(), json!(v));
        }
    }
    envelope(
        "messages",
        json!({
            "messaging_product": "whatsapp",
            "metadata": { "phone_number_id": phone_number_id },
            "contacts": [card],
            "messages": [message],
        }),
    )
    .to_string()
}

/// A `system` message: `user_changed_number` from `old` to `new`.
pub fn number_change(old: &str, new: &str, id: &str, at: u64) -> String {
    envelope(
        "messages",
        json!({
            "messaging_product": "whatsapp",
            "metadata": { "phone_number_id": "PNID" },
            "messages": [{ "from": old, "id": id, "timestamp": at.to_string(), "type": "system",
                "system": { "body": "User changed number", "wa_id": new, "type": "user_changed_number" } }],
        }),
    )
    .to_string()
}
