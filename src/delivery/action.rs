//! What wa-edge decided on an inbound message, recorded on it before the 200. `Action::text` gives
//! the strings stored in message records (`opted_out`, `auto_reply:hours`, `no_reply_paced`...),
//! so stored data reads the same whatever the enum's shape.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentAction {
    OptedOut,
    MarketingOptedOut,
    OptedIn,
}

/// How a consent keyword ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentOutcome {
    /// Applied (with its confirmation queued when one was due), or already the state in force.
    Recorded,
    /// Older than the state in force: kept as evidence only.
    Superseded,
    /// Applied, but the confirmation could not go out (window closed or no business number).
    ConfirmationNotSent,
}

/// Why an automatic reply was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoReply {
    OptedOut,
    NumberPaused,
    WindowClosed,
    Undeliverable,
    Paced,
    Cooldown,
    NoNumber,
    /// The same reply went to the person less than a minute ago.
    Coalesced,
}

/// How a HELP ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpOutcome {
    Sent,
    WindowClosed,
    /// The help text went to the person less than a minute ago.
    Coalesced,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Help(HelpOutcome),
    Consent(ConsentAction, ConsentOutcome),
    AutoReply { rule: String },
    DefaultReply,
    NoReply(NoReply),
}

impl ConsentAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentAction::OptedOut => "opted_out",
            ConsentAction::MarketingOptedOut => "marketing_opted_out",
            ConsentAction::OptedIn => "opted_in",
        }
    }
}

impl NoReply {
    pub fn as_str(self) -> &'static str {
        match self {
            NoReply::OptedOut => "opted_out",
            NoReply::NumberPaused => "number_paused",
            NoReply::WindowClosed => "window_closed",
            NoReply::Undeliverable => "undeliverable",
            NoReply::Paced => "paced",
            NoReply::Cooldown => "cooldown",
            NoReply::NoNumber => "no_number",
            NoReply::Coalesced => "coalesced",
        }
    }
}

impl Action {
    /// The string stored in the message's record.
    pub fn text(&self) -> String {
        let (head, tail) = match self {
            Action::Help(HelpOutcome::Sent) => ("help", ""),
            Action::Help(HelpOutcome::WindowClosed) => ("help_not_sent_window_closed", ""),
            Action::Help(HelpOutcome::Coalesced) => ("help_coalesced", ""),
            Action::Consent(action, ConsentOutcome::Recorded) => (action.as_str(), ""),
            Action::Consent(action, ConsentOutcome::Superseded) => (action.as_str(), "_superseded"),
            Action::Consent(action, ConsentOutcome::ConfirmationNotSent) => {
                (action.as_str(), "_confirmation_not_sent_window_closed")
            }
            Action::AutoReply { rule } => return ["auto_reply:", rule].concat(),
            Action::DefaultReply => ("default_reply", ""),
            Action::NoReply(why) => ("no_reply_", why.as_str()),
        };
        [head, tail].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_strings_are_unchanged() {
        let cases = [
            (Action::Help(HelpOutcome::Sent), "help"),
            (
                Action::Help(HelpOutcome::WindowClosed),
                "help_not_sent_window_closed",
            ),
            (Action::Help(HelpOutcome::Coalesced), "help_coalesced"),
            (Action::NoReply(NoReply::Coalesced), "no_reply_coalesced"),
            (
                Action::Consent(ConsentAction::OptedOut, ConsentOutcome::Recorded),
                "opted_out",
            ),
            (
                Action::Consent(ConsentAction::OptedIn, ConsentOutcome::Superseded),
                "opted_in_superseded",
            ),
            (
                Action::Consent(ConsentAction::OptedOut, ConsentOutcome::ConfirmationNotSent),
                "opted_out_confirmation_not_sent_window_closed",
            ),
            (
                Action::Consent(ConsentAction::MarketingOptedOut, ConsentOutcome::Recorded),
                "marketing_opted_out",
            ),
            (
                Action::AutoReply {
                    rule: "hours".into(),
                },
                "auto_reply:hours",
            ),
            (Action::DefaultReply, "default_reply"),
            (Action::NoReply(NoReply::Paced), "no_reply_paced"),
            (
                Action::NoReply(NoReply::NumberPaused),
                "no_reply_number_paused",
            ),
        ];
        for (action, stored) in cases {
            assert_eq!(action.text(), stored);
        }
    }
}
