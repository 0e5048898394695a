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
        r
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
