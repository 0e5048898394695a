//! Delivery statuses of messages the business sent (`value.statuses[]`).

use super::lenient::open_enum;
use super::message::MetaError;
use crate::ids::{MessageId, WaId};
use crate::json::{object, FromJson, ShapeError, Value};
use crate::time::{MetaTimeField, UnixTime};

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

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Origin {
    pub kind: Option<String>,
}
crate::json::json_object!(Origin {
    kind: opt "type",
});

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Conversation {
    pub id: Option<String>,
    pub origin: Option<Origin>,
}
crate::json::json_object!(Conversation {
    id: opt,
    origin: opt,
});

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pricing {
    pub billable: Option<bool>,
    pub pricing_model: Option<String>,
    pub category: Option<String>,
    pub kind: Option<String>,
}
crate::json::json_object!(Pricing {
    billable: opt,
    pricing_model: opt,
    category: opt,
    kind: opt "type",
});

#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub id: Option<MessageId>,
    pub status: Option<StatusKind>,
    pub timestamp: Option<UnixTime>,
    pub recipient_id: Option<WaId>,
    pub recipient_user_id: Option<WaId>,
    /// Meta's documents spell it both ways.
    /// Also sent as `recipient_parent_user_id`.
    pub parent_recipient_user_id: Option<WaId>,
    pub conversation: Option<Conversation>,
    pub pricing: Option<Pricing>,
    pub errors: Vec<MetaError>,
    /// What the sender put in `biz_opaque_callback_data`, echoed by Meta.
    pub biz_opaque_callback_data: Option<String>,
}

impl<'a> FromJson<'a> for Status {
    fn from_json(value: &Value<'a>) -> Result<Self, ShapeError> {
        let o = object(value)?;
        Ok(Status {
            id: o.opt("id")?,
            status: o.opt("status")?,
            timestamp: o.meta_time("timestamp")?,
            recipient_id: o.opt("recipient_id")?,
            recipient_user_id: o.opt("recipient_user_id")?,
            parent_recipient_user_id: match o.opt("parent_recipient_user_id")? {
                Some(id) => Some(id),
                None => o.opt("recipient_parent_user_id")?,
            },
            conversation: o.opt("conversation")?,
            pricing: o.opt("pricing")?,
            errors: o.or_default("errors")?,
            biz_opaque_callback_data: o.opt("biz_opaque_callback_data")?,
        })
    }
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
