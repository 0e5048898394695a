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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    OptOutConfirmation,
    OptInConfirmation,
    Help,
    AutoReply,
    DefaultReply,
    Api,
    MarkRead,
}
crate::json::string_enum!(Purpose { OptOutConfirmation = "opt_out_confirmation", OptInConfirmation = "opt_in_confirmation", Help = "help", AutoReply = "auto_reply", DefaultReply = "default_reply", Api = "api", MarkRead = "mark_read" });

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
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub to: WaId,
    pub phone_number_id: PhoneNumberId,
    pub body: OutboundBody,
    pub purpose: Purpose,
    pub reply_to: Option<MessageId>,
    /// Sent as `biz_opaque_callback_data`, which Meta echoes in the message's status webhooks:
    /// how the outbox learns that a send interrupted by a restart did reach Meta.
    pub callback: Option<String>,
}
crate::json::json_object!(Outbound {
    to: req,
    phone_number_id: req,
    body: req,
    purpose: req,
    reply_to: opt,
    callback: skip,
});
