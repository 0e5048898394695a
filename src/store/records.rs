//! What is stored about each message and status: what a support agent needs, nothing more
//! (no media binaries, no raw payloads).

use crate::ids::{MessageId, PhoneNumberId};
use crate::time::UnixTime;
use crate::webhook::message::{Content, Message, MetaError};
use crate::webhook::status::{Conversation, Pricing, Status};
use crate::webhook::Profile;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    #[serde(rename = "inbound")]
    Inbound,
    #[serde(rename = "outbound")]
    Outbound,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub id: MessageId,
    pub direction: Direction,
    pub at: UnixTime,
    #[serde(rename = "type")]
    pub kind: String,
    /// Text body, caption, tapped button or list title, reaction emoji, or location name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The text was longer than a record keeps (`MAX_STORED_TEXT`) and is its beginning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub text_truncated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<[serde_json::Number; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    /// The sender's WhatsApp username, kept like the profile name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<PhoneNumberId>,
    /// A failed send: the Graph API's HTTP status (0: no answer at all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// What wa-edge decided on this message (e.g. `opted_out`, `help`), recorded before the 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Why an outbound message was sent (`opt_out_confirmation`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MetaError>,
}

impl MessageRecord {
    pub fn inbound(
        id: MessageId,
        message: &Message,
        content: &Content,
        at: UnixTime,
        profile: Profile,
        phone_number_id: Option<PhoneNumberId>,
    ) -> MessageRecord {
        let mut r = MessageRecord {
            id,
            direction: Direction::Inbound,
            at,
            kind: message
                .kind
                .as_ref()
                .map(|k| k.as_str().to_string())
                .unwrap_or_default(),
            text: None,
            text_truncated: false,
            media_id: None,
            mime_type: None,
            filename: None,
            location: None,
            reply_to: message.context.as_ref().and_then(|c| c.id.clone()),
            profile_name: profile.name,
            profile_username: profile.username,
            phone_number_id,
            http_status: None,
            action: None,
            purpose: None,
            errors: message.errors.clone(),
        };
        match content {
            Content::Text(body) => r.text = Some(body.clone()),
            Content::Media { media, .. } => {
                r.text = media.caption.clone();
                r.media_id = media.id.clone();
                r.mime_type = media.mime_type.clone();
                r.filename = media.filename.clone();
            }
            Content::Location(l) => {
                r.text = l.name.clone().or_else(|| l.address.clone());
                r.location = l
                    .latitude
                    .clone()
                    .zip(l.longitude.clone())
                    .map(|(a, b)| [a, b]);
            }
            Content::Contacts(names) => {
                r.text = Some(format!("shared contacts: {}", names.join(", ")))
            }
            Content::Reaction(reaction) => {
                r.text = reaction.emoji.clone();
                r.reply_to = reaction.message_id.clone();
            }
            Content::ButtonReply(reply) | Content::ListReply(reply) => r.text = reply.title.clone(),
            Content::FlowReply(flow) => r.text = flow.body.clone(),
            Content::Button(b) => r.text = b.text.clone(),
            Content::Order(o) => r.text = Some(format!("order: {} item(s)", o.product_items.len())),
            Content::System(s) => r.text = s.body.clone(),
            Content::RequestWelcome | Content::Unsupported(_) => {}
            Content::Unknown(kind) => r.kind = kind.clone(),
        }
        r.fit();
        r
    }

    /// Cuts what is longer than a record keeps, so that every message can be stored: a value
    /// too large for a Durable Object's storage would fail its whole delivery on every retry.
    fn fit(&mut self) {
        if let Some(text) = &mut self.text {
            self.text_truncated = cut(text, MAX_STORED_TEXT);
        }
        for field in [
            &mut self.media_id,
            &mut self.mime_type,
            &mut self.filename,
            &mut self.profile_name,
            &mut self.profile_username,
        ]
        .into_iter()
        .flatten()
        {
            cut(field, MAX_STORED_FIELD);
        }
        cut(&mut self.kind, MAX_STORED_FIELD);
    }
}

/// The most characters of a message's text a record keeps: a WhatsApp text message holds at most
/// 4,096, so only a payload from elsewhere is longer.
pub const MAX_STORED_TEXT: usize = 4096;

/// The most characters a record keeps of a name, a kind or an id.
pub const MAX_STORED_FIELD: usize = 1024;

/// Keeps the first `max` characters of `text`; whether anything was cut.
fn cut(text: &mut String, max: usize) -> bool {
    match text.char_indices().nth(max) {
        Some((at, _)) => {
            text.truncate(at);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_longer_than_a_record_keeps_is_its_beginning_and_says_so() {
        let mut long = "é".repeat(MAX_STORED_TEXT + 10);
        assert!(cut(&mut long, MAX_STORED_TEXT));
        assert_eq!(long.chars().count(), MAX_STORED_TEXT);
        let mut short = "STOP".to_string();
        assert!(!cut(&mut short, MAX_STORED_TEXT));
        assert_eq!(short, "STOP");
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StatusRecord {
    pub id: MessageId,
    pub status: String,
    pub at: UnixTime,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MetaError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
}

impl StatusRecord {
    pub fn from_status(id: MessageId, status: &Status, at: UnixTime) -> StatusRecord {
        StatusRecord {
            id,
            status: status
                .status
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            at,
            errors: status.errors.clone(),
            conversation: status.conversation.clone(),
            pricing: status.pricing.clone(),
        }
    }
}
