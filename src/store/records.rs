//! What is stored about each message and status: what a support agent needs, nothing more
//! (no media binaries, no raw payloads).

use crate::ids::{MessageId, PhoneNumberId};
use crate::json::Number;
use crate::time::UnixTime;
use crate::webhook::message::{Content, Message, MetaError};
use crate::webhook::status::{Conversation, Pricing, Status};
use crate::webhook::Profile;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}
crate::json::string_enum!(Direction { Inbound = "inbound", Outbound = "outbound" });

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub id: MessageId,
    pub direction: Direction,
    pub at: UnixTime,
    pub kind: String,
    /// Text body, caption, tapped button or list title, reaction emoji, or location name.
    pub text: Option<String>,
    pub media_id: Option<String>,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    pub location: Option<[Number; 2]>,
    pub reply_to: Option<MessageId>,
    pub profile_name: Option<String>,
    /// The sender's WhatsApp username, kept like the profile name.
    pub profile_username: Option<String>,
    pub phone_number_id: Option<PhoneNumberId>,
    /// A failed send: the Graph API's HTTP status (0: no answer at all).
    pub http_status: Option<u16>,
    /// What wa-edge decided on this message (e.g. `opted_out`, `help`), recorded before the 200.
    pub action: Option<String>,
    /// Why an outbound message was sent (`opt_out_confirmation`, …).
    pub purpose: Option<String>,
    pub errors: Vec<MetaError>,
}
crate::json::json_object!(MessageRecord {
    id: req,
    direction: req,
    at: req,
    kind: req "type",
    text: skip,
    media_id: skip,
    mime_type: skip,
    filename: skip,
    location: skip,
    reply_to: skip,
    profile_name: skip,
    profile_username: skip,
    phone_number_id: skip,
    http_status: skip,
    action: skip,
    purpose: skip,
    errors: skip,
});

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

#[derive(Debug, Clone, PartialEq)]
pub struct StatusRecord {
    pub id: MessageId,
    pub status: String,
    pub at: UnixTime,
    pub errors: Vec<MetaError>,
    pub conversation: Option<Conversation>,
    pub pricing: Option<Pricing>,
}
crate::json::json_object!(StatusRecord {
    id: req,
    status: req,
    at: req,
    errors: skip,
    conversation: skip,
    pricing: skip,
});

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
