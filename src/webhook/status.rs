//! Delivery statuses of messages the business sent (`value.statuses[]`).

use super::lenient::open_enum;
use super::message::MetaError;
use crate::ids::{MessageId, WaId};
use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

open_enum!(
    /// `statuses[].status`.
    StatusKind {
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
        Deleted = "deleted",
        Played = "played",
    }
);

impl StatusKind {
    /// Progress order: a later status never goes back to an earlier one. `failed` is terminal
    /// but recorded beside the others; unknown statuses are kept and rank lowest.
    pub fn rank(&self) -> u8 {
        match self {
            StatusKind::Sent => 1,
            StatusKind::Delivered => 2,
            StatusKind::Read | StatusKind::Played => 3,
            StatusKind::Failed | StatusKind::Deleted => 4,
            StatusKind::Other(_) => 0,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Origin {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Conversation {
    pub id: Option<String>,
    pub origin: Option<Origin>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Pricing {
    pub billable: Option<bool>,
    pub pricing_model: Option<String>,
    pub category: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// One status, as Meta sends it. Fields not listed are ignored.
#[derive(Deserialize, Debug, Clone, PartialEq)]
pub struct Status {
    pub id: Option<MessageId>,
    pub status: Option<StatusKind>,
    #[serde(default, deserialize_with = "crate::serde_ext::meta_time")]
    pub timestamp: Option<UnixTime>,
    pub recipient_id: Option<WaId>,
    pub recipient_user_id: Option<WaId>,
    /// Meta's documents spell it both ways.
    #[serde(alias = "recipient_parent_user_id")]
    pub parent_recipient_user_id: Option<WaId>,
    pub conversation: Option<Conversation>,
    pub pricing: Option<Pricing>,
    #[serde(default)]
    pub errors: Vec<MetaError>,
    /// What the sender put in `biz_opaque_callback_data`, echoed by Meta.
    pub biz_opaque_callback_data: Option<String>,
}

impl Status {
    pub fn recipient(&self) -> Option<&WaId> {
        self.recipient_id
            .as_ref()
            .or(self.recipient_user_id.as_ref())
            .or(self.parent_recipient_user_id.as_ref())
    }

    pub fn own_ids(&self) -> Vec<&WaId> {
        [
            self.recipient_id.as_ref(),
            self.recipient_user_id.as_ref(),
            self.parent_recipient_user_id.as_ref(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}
