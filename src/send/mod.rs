//! Sending through the Cloud API: what a decided message is (`Outbound`), its request shape
//! (`graph`), the retry policy (`client`) and what each outcome changes and records (`outcome`).
//! The transport is the `Platform` trait: fetch in the shell, a fake in native tests.

pub mod client;
pub mod graph;
pub mod outcome;

pub use client::{send, SendOutcome};
pub use graph::OutboundBody;
pub use outcome::{deliver_all, record_outcome};

use crate::ids::{MessageId, PhoneNumberId, WaId};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    OptOutConfirmation,
    OptInConfirmation,
    Help,
    AutoReply,
    DefaultReply,
    Api,
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
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub to: WaId,
    pub phone_number_id: PhoneNumberId,
    pub body: OutboundBody,
    pub purpose: Purpose,
    pub reply_to: Option<MessageId>,
}
