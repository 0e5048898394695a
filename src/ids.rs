//! Typed identifiers, so a phone-number id can never be passed where a contact id belongs.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

    };
}

id_type!(
    /// A WhatsApp user: the `wa_id` (digits of a phone number) or, for users with usernames, the
    /// business-scoped user id Meta sends instead. Personal data: never put it in a KV key or log.
    WaId
);
id_type!(
    /// The business phone number's id in the Cloud API (not a phone number).
    PhoneNumberId
);
id_type!(
    /// A `wamid.…` message id. It encodes the contact's number, so it is hashed before use in keys.
    MessageId
);

/// Which of Meta's identifiers a `WaId` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IdKind {
    /// A `wa_id`: the digits of a phone number.
    #[serde(rename = "phone")]
    Phone,
    /// A business-scoped user id, `CC.<digits>`: one per person and business portfolio.
    #[serde(rename = "bsuid")]
    Bsuid,
    /// A parent BSUID, `CC.ENT.<digits>`: one per person across a business's portfolios.
    #[serde(rename = "parent_bsuid")]
    ParentBsuid,
}

impl PhoneNumberId {
    /// Meta's phone number ids are digits. Anything else (a path, a query) is refused before it
    /// can reach a Graph URL.
    pub fn parse(raw: &str) -> Option<PhoneNumberId> {
        let raw = raw.trim();
        ((1..=32).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()))
            .then(|| PhoneNumberId(raw.to_string()))
    }
}

/// The two-digit country calling codes (ITU-T E.164 assignments); `1` and `7` are the only
/// one-digit ones, and every other code has three digits. Enough to mask a number the way
/// people read it (`+44 770 ••• 0123`) without a numbering-plan library.
const TWO_DIGIT_CALLING_CODES: [&str; 44] = [
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
    "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65",
    "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
];

/// The dialling prefix for an international call in most of the world: `0044…` is `+44…`.
const INTERNATIONAL_PREFIX: &str = "00";

impl WaId {
    /// BSUIDs start with a two-letter country code and a dot (`US.1349…`, `US.ENT.1181…`), the
    /// test the client libraries use too; everything else is a phone number.
    pub fn kind(&self) -> IdKind {
        let s = self.as_str();
        let coded = s.get(..3).is_some_and(|head| {
            let b = head.as_bytes();
            b.iter().take(2).all(u8::is_ascii_alphabetic) && b.get(2) == Some(&b'.')
        });
        match (
            coded,
            s.get(3..).is_some_and(|rest| rest.starts_with("ENT.")),
        ) {
            (false, _) => IdKind::Phone,
            (true, false) => IdKind::Bsuid,
            (true, true) => IdKind::ParentBsuid,
        }
    }

    /// The id as the console shows it among many people: the country code, the next three
    /// digits and the last four of a number (`+1 555 ••• 4567`); a BSUID's country and last four
    /// (`US.••• 1918`). Enough to recognise someone one already knows, not to find them.
    pub fn masked(&self) -> String {
        let s = self.as_str();
        if self.kind() != IdKind::Phone {
            let head = s.get(..2).unwrap_or_default();
            let tail = s.get(s.len().saturating_sub(4)..).unwrap_or_default();
            return format!("{head}.••• {tail}");
        }
        let code_len = if s.starts_with('1') || s.starts_with('7') {
            1
        } else if TWO_DIGIT_CALLING_CODES.iter().any(|c| s.starts_with(c)) {
            2
        } else {
            3
        };
        let code = s.get(..code_len).unwrap_or_default();
        let tail = s.get(s.len().saturating_sub(4)..).unwrap_or_default();
        match s.get(code_len..code_len + 3) {
            // Three digits shown, four at the end, and at least one hidden between them.
            Some(next) if s.len() > code_len + 3 + 4 => format!("+{code} {next} ••• {tail}"),
            _ => format!(
                "+{code} ••• {}",
                s.get(s.len().saturating_sub(2)..).unwrap_or_default()
            ),
        }
    }

    /// Accepts what an API caller may type for a contact (`+44 7700 900123`, `447700900123`,
    /// `00447700900123`) and keeps only the digits, the form Meta sends as `wa_id`. Ids that are
    /// not phone numbers (business-scoped user ids) are kept as they are.
    ///
    /// No E.164 number starts with 0: the `00` international prefix is dropped (`+00` too), and a
    /// number that still starts with 0 (a national form, or more zeros) is refused rather than
    /// taken for a different person than the one it names.
    pub fn parse_user_input(raw: &str) -> Option<WaId> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > 128 {
            return None;
        }
        let phone_like = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'));
        if phone_like {
            let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
            let digits = digits.strip_prefix(INTERNATIONAL_PREFIX).unwrap_or(&digits);
            if digits.starts_with('0') {
                return None;
            }
            let digits = digits.to_string();
            if (6..=20).contains(&digits.len()) {
                return Some(WaId(digits));
            }
            return None;
        }
        if trimmed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
        {
            return Some(WaId(trimmed.to_string()));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_show_the_country_and_the_last_digits_only() {
        assert_eq!(WaId::new("15551234567").masked(), "+1 555 ••• 4567");
        assert_eq!(WaId::new("447700900123").masked(), "+44 770 ••• 0123");
        assert_eq!(WaId::new("353861234567").masked(), "+353 861 ••• 4567");
        assert_eq!(WaId::new("4930901820").masked(), "+49 309 ••• 1820");
        assert_eq!(WaId::new("1234567").masked(), "+1 ••• 67");
        assert_eq!(WaId::new("US.13491208655302741918").masked(), "US.••• 1918");
        assert_eq!(
            WaId::new("US.ENT.11815799212886844830").masked(),
            "US.••• 4830"
        );
    }

    #[test]
    fn user_input_normalises_phone_numbers_to_digits() {
        assert_eq!(
            WaId::parse_user_input("+44 7700 900123").unwrap().as_str(),
            "447700900123"
        );
        assert_eq!(
            WaId::parse_user_input("15551234567").unwrap().as_str(),
            "15551234567"
        );
        assert_eq!(
            WaId::parse_user_input("US.123abc").unwrap().as_str(),
            "US.123abc"
        );
    }

    #[test]
    fn kinds_follow_metas_shapes() {
        assert_eq!(WaId::new("15551234567").kind(), IdKind::Phone);
        assert_eq!(WaId::new("US.13491208655302741918").kind(), IdKind::Bsuid);
        assert_eq!(
            WaId::new("US.ENT.11815799212886844830").kind(),
            IdKind::ParentBsuid
        );
        assert_eq!(WaId::new("U.1").kind(), IdKind::Phone);
        assert_eq!(WaId::new("").kind(), IdKind::Phone);
    }

    #[test]
    fn leading_zeros_are_the_same_person_or_refused() {
        for written in ["0015551234567", "+0015551234567", "00 1 555 123 4567"] {
            assert_eq!(
                WaId::parse_user_input(written).unwrap().as_str(),
                "15551234567",
                "{written}"
            );
        }
        for refused in ["015551234567", "+015551234567", "00015551234567", "0"] {
            assert!(WaId::parse_user_input(refused).is_none(), "{refused}");
        }
    }

    #[test]
    fn user_input_rejects_garbage() {
        assert!(WaId::parse_user_input("").is_none());
        assert!(WaId::parse_user_input("12").is_none());
        assert!(WaId::parse_user_input("a/b").is_none());
        assert!(WaId::parse_user_input(&"9".repeat(200)).is_none());
    }
}
