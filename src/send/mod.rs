//! Sending through the Cloud API: what a decided message is (`Outbound`), its request shape
//! (`graph`), one attempt and the send API's send (`client`), and what each outcome changes and
//! records (`outcome`). The durable outbox that retries lives with the person's authority.
//! The transport is the `Platform` trait: fetch in the shell, a fake in native tests.

pub mod client;
pub mod graph;
pub mod outcome;

pub use client::{attempt, send, SendOutcome};
pub use graph::OutboundBody;
pub use outcome::record_outcome;

use crate::ids::{MessageId, PhoneNumberId, WaId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    #[serde(rename = "opt_out_confirmation")]
    OptOutConfirmation,
    #[serde(rename = "opt_in_confirmation")]
    OptInConfirmation,
    #[serde(rename = "help")]
    Help,
    #[serde(rename = "auto_reply")]
    AutoReply,
    #[serde(rename = "default_reply")]
    DefaultReply,
    #[serde(rename = "api")]
    Api,
    #[serde(rename = "mark_read")]
    MarkRead,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::OptOutConfirmation => "opt_out_confirmation",
            Purpose::OptInConfirmation => "opt_in_confirmation",
            Purpose::Help => "help",
            Purpose::AutoReply => "auto_reply",
            Purpose::DefaultReply => "default_reply",
            Purpose::Api => "api",
            Purpose::MarkRead => "mark_read",
        }
    }
}

/// A message to send, decided (and recorded) before it goes out.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Outbound {
    pub to: WaId,
    pub phone_number_id: PhoneNumberId,
    pub body: OutboundBody,
    pub purpose: Purpose,
    pub reply_to: Option<MessageId>,
    /// Sent as `biz_opaque_callback_data`, which Meta echoes in the message's status webhooks:
    /// how the outbox learns that a send interrupted by a restart did reach Meta.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
}
