//! Inbound messages (`value.messages[]`) and the pieces shared with statuses.

use super::lenient::open_enum;
use crate::ids::{MessageId, WaId};
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MetaError {
    #[serde(default)]
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Text {
    #[serde(default)]
    pub body: String,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Media {
    pub id: Option<String>,
    pub mime_type: Option<String>,
    pub caption: Option<String>,
    pub filename: Option<String>,
    #[serde(default)]
    pub voice: bool,
    #[serde(default)]
    pub animated: bool,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Location {
    /// Kept as Meta wrote them: stored and shown, never computed with.
    pub latitude: Option<serde_json::Number>,
    pub longitude: Option<serde_json::Number>,
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Reaction {
    pub message_id: Option<MessageId>,
    /// Absent when a reaction is removed.
    pub emoji: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct InteractiveAnswer {
    pub id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct FlowReply {
    pub name: Option<String>,
    pub body: Option<String>,
    pub response_json: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Interactive {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub button_reply: Option<InteractiveAnswer>,
    pub list_reply: Option<InteractiveAnswer>,
    pub nfm_reply: Option<FlowReply>,
}

/// A template's quick-reply button, including Meta's own "Stop promotions".
#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Button {
    pub text: Option<String>,
    pub payload: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct OrderItem {
    pub product_retailer_id: Option<String>,
    pub quantity: Option<serde_json::Number>,
    pub item_price: Option<serde_json::Number>,
    pub currency: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Order {
    pub catalog_id: Option<String>,
    pub text: Option<String>,
    #[serde(default)]
    pub product_items: Vec<OrderItem>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct System {
    pub body: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `user_changed_number`: the user's new phone number.
    pub wa_id: Option<WaId>,
    /// `user_changed_user_id`: the user's new BSUID, and the one it replaces.
    pub user_id: Option<WaId>,
    pub previous_user_id: Option<WaId>,
    pub parent_user_id: Option<WaId>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SharedContactName {
    pub formatted_name: Option<String>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SharedContact {
    pub name: Option<SharedContactName>,
}

#[derive(Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Context {
    /// The message this one replies to (ours, usually).
    pub id: Option<MessageId>,
    #[serde(default)]
    pub forwarded: bool,
}

open_enum!(
    /// `messages[].type`.
    MessageKind {
        Text = "text",
        Image = "image",
        Video = "video",
        Audio = "audio",
        Document = "document",
        Sticker = "sticker",
        Location = "location",
        Contacts = "contacts",
        Reaction = "reaction",
        Interactive = "interactive",
        Button = "button",
        Order = "order",
        System = "system",
        RequestWelcome = "request_welcome",
        Unsupported = "unsupported",
    }
);

/// One inbound message, as Meta sends it. Fields not listed are ignored.
#[derive(Deserialize, Debug, Clone, PartialEq)]
pub struct Message {
    /// The sender's `wa_id`; absent for username-only users, who carry `from_user_id`.
    pub from: Option<WaId>,
    /// The sender's business-scoped user id (BSUID), and their parent BSUID where enabled.
    pub from_user_id: Option<WaId>,
    pub from_parent_user_id: Option<WaId>,
    pub id: Option<MessageId>,
    #[serde(default, deserialize_with = "crate::serde_ext::meta_time")]
    pub timestamp: Option<UnixTime>,
    #[serde(rename = "type")]
    pub kind: Option<MessageKind>,
    pub text: Option<Text>,
    pub image: Option<Media>,
    pub video: Option<Media>,
    pub audio: Option<Media>,
    pub document: Option<Media>,
    pub sticker: Option<Media>,
    pub location: Option<Location>,
    pub contacts: Option<Vec<SharedContact>>,
    pub reaction: Option<Reaction>,
    pub interactive: Option<Interactive>,
    pub button: Option<Button>,
    pub order: Option<Order>,
    pub system: Option<System>,
    pub context: Option<Context>,
    #[serde(default)]
    pub errors: Vec<MetaError>,
}

/// What a message says, by kind. Unknown kinds are kept by name, never an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text(String),
    Media {
        kind: MessageKind,
        media: Media,
    },
    Location(Location),
    Contacts(Vec<String>),
    Reaction(Reaction),
    ButtonReply(InteractiveAnswer),
    ListReply(InteractiveAnswer),
    FlowReply(FlowReply),
    /// A template quick-reply button, e.g. Meta's "Stop promotions".
    Button(Button),
    Order(Order),
    System(System),
    RequestWelcome,
    Unsupported(Vec<MetaError>),
    /// A kind this version does not know, or a known kind without its object.
    Unknown(String),
}

impl Message {
    /// Who to answer and whose message this is: the phone number, else the BSUID, else (a
    /// system message without a sender) the id it announces.
    pub fn sender(&self) -> Option<&WaId> {
        let system = self.system.as_ref();
        self.from
            .as_ref()
            .or(self.from_user_id.as_ref())
            .or(self.from_parent_user_id.as_ref())
            .or(system.and_then(|s| s.previous_user_id.as_ref()))
            .or(system.and_then(|s| s.user_id.as_ref()))
    }

    /// Every id the message itself gives its sender, including those a `user_changed_number` or
    /// `user_changed_user_id` system message announces: they are all the same person.
    pub fn own_ids(&self) -> Vec<&WaId> {
        let system = self.system.as_ref();
        [
            self.from.as_ref(),
            self.from_user_id.as_ref(),
            self.from_parent_user_id.as_ref(),
            system.and_then(|s| s.wa_id.as_ref()),
            system.and_then(|s| s.previous_user_id.as_ref()),
            system.and_then(|s| s.user_id.as_ref()),
            system.and_then(|s| s.parent_user_id.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    pub fn content(&self) -> Content {
        let kind = self
            .kind
            .clone()
            .unwrap_or(MessageKind::Other(String::new()));
        let media = |m: &Option<Media>| {
            m.clone().map(|media| Content::Media {
                kind: kind.clone(),
                media,
            })
        };
        let found = match &kind {
            MessageKind::Text => self.text.as_ref().map(|t| Content::Text(t.body.clone())),
            MessageKind::Image => media(&self.image),
            MessageKind::Video => media(&self.video),
            MessageKind::Audio => media(&self.audio),
            MessageKind::Document => media(&self.document),
            MessageKind::Sticker => media(&self.sticker),
            MessageKind::Location => self.location.clone().map(Content::Location),
            MessageKind::Contacts => self.contacts.as_ref().map(|cards| {
                Content::Contacts(
                    cards
                        .iter()
                        .filter_map(|c| c.name.as_ref().and_then(|n| n.formatted_name.clone()))
                        .collect(),
                )
            }),
            MessageKind::Reaction => self.reaction.clone().map(Content::Reaction),
            MessageKind::Interactive => self.interactive.as_ref().and_then(|i| {
                i.button_reply
                    .clone()
                    .map(Content::ButtonReply)
                    .or_else(|| i.list_reply.clone().map(Content::ListReply))
                    .or_else(|| i.nfm_reply.clone().map(Content::FlowReply))
            }),
            MessageKind::Button => self.button.clone().map(Content::Button),
            MessageKind::Order => self.order.clone().map(Content::Order),
            MessageKind::System => self.system.clone().map(Content::System),
            MessageKind::RequestWelcome => Some(Content::RequestWelcome),
            MessageKind::Unsupported => Some(Content::Unsupported(self.errors.clone())),
            MessageKind::Other(_) => None,
        };
        found.unwrap_or_else(|| Content::Unknown(kind.as_str().to_string()))
    }
}

impl Content {
    /// The text a person typed or tapped, which keyword rules look at.
    pub fn typed_text(&self) -> Option<&str> {
        match self {
            Content::Text(body) => Some(body),
            Content::ButtonReply(r) | Content::ListReply(r) => r.title.as_deref(),
            Content::Button(b) => b.text.as_deref(),
            _ => None,
        }
    }
}
