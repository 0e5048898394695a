//! Guards on business-initiated messages (those that do not answer a person inside a
//! conversation they started): the template's category, a cap on marketing per person, a new
//! number's daily budget, and pausing marketing when Meta reports the number's quality as poor.

use crate::time::UnixTime;
use serde::{Deserialize, Serialize};

/// One marketing template per person per rolling 24 hours: Meta's own per-user marketing limit
/// (131049) bites soon after, and more than one a day is what people block businesses for.
pub const DEFAULT_MARKETING_PER_DAY: u64 = 1;
/// The rolling period of the marketing cap.
pub const MARKETING_PERIOD: u64 = 24 * 3600;

/// A template's category, as Meta names it (`MARKETING`, `UTILITY`, `AUTHENTICATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Category {
    #[serde(rename = "marketing")]
    Marketing,
    #[serde(rename = "utility")]
    Utility,
    #[serde(rename = "authentication")]
    Authentication,
}

impl Category {
    pub fn parse(raw: &str) -> Option<Category> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "marketing" => Some(Category::Marketing),
            "utility" => Some(Category::Utility),
            "authentication" => Some(Category::Authentication),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Marketing => "marketing",
            Category::Utility => "utility",
            Category::Authentication => "authentication",
        }
    }
}

/// Whether a template counts as marketing: a category nobody stated or learned is treated as
/// marketing, so a marketing opt-out can never be bypassed by leaving the category out.
pub fn is_marketing(category: Option<Category>) -> bool {
    !matches!(
        category,
        Some(Category::Utility) | Some(Category::Authentication)
    )
}

/// Marketing sends to one person within the period, newest last, pruned to the period.
pub fn marketing_in_period(sent: &[UnixTime], now: UnixTime) -> Vec<UnixTime> {
    sent.iter()
        .copied()
        .filter(|t| now.0.saturating_sub(t.0) < MARKETING_PERIOD && t.0 <= now.0 + MARKETING_PERIOD)
        .collect()
}

/// May another marketing template go to this person now? `per_day` 0 means no cap.
pub fn marketing_allowed(sent: &[UnixTime], now: UnixTime, per_day: u64) -> bool {
    per_day == 0 || (marketing_in_period(sent, now).len() as u64) < per_day
}

/// The UTC day a time falls in: a number's ramp budget is counted per UTC day.
pub fn utc_day(now: UnixTime) -> u64 {
    now.0 / 86_400
}

/// Whether a phone number quality event pauses marketing from the number: Meta flagged it or
/// rated its quality low.
pub fn quality_pauses_marketing(event: Option<&str>, quality: Option<&str>) -> bool {
    let flagged = event.is_some_and(|e| e.eq_ignore_ascii_case("FLAGGED"));
    let low =
        quality.is_some_and(|q| q.eq_ignore_ascii_case("LOW") || q.eq_ignore_ascii_case("RED"));
    flagged || low
}

/// Whether an account update pauses marketing: the account or number is restricted or flagged.
pub fn account_update_pauses_marketing(event: Option<&str>) -> bool {
    event.is_some_and(|e| {
        let e = e.to_ascii_uppercase();
        e.contains("RESTRICT") || e.contains("FLAGGED")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_category_is_marketing() {
        assert!(is_marketing(None));
        assert!(is_marketing(Some(Category::Marketing)));
        assert!(!is_marketing(Category::parse("UTILITY")));
        assert!(!is_marketing(Category::parse("authentication")));
        assert_eq!(Category::parse("promo"), None);
    }

    #[test]
    fn the_marketing_cap_rolls_over_24_hours() {
        let sent = [UnixTime(1_000)];
        assert!(!marketing_allowed(&sent, UnixTime(1_000 + 3600), 1));
        assert!(marketing_allowed(&sent, UnixTime(1_000 + 86_400), 1));
        assert!(marketing_allowed(&sent, UnixTime(1_000 + 3600), 2));
        assert!(marketing_allowed(&sent, UnixTime(1_000), 0), "0 is no cap");
    }

    #[test]
    fn quality_and_account_events_that_pause_marketing() {
        assert!(quality_pauses_marketing(Some("FLAGGED"), None));
        assert!(quality_pauses_marketing(Some("DOWNGRADE"), Some("LOW")));
        assert!(!quality_pauses_marketing(Some("UPGRADE"), Some("HIGH")));
        assert!(account_update_pauses_marketing(Some("ACCOUNT_RESTRICTION")));
        assert!(account_update_pauses_marketing(Some(
            "PHONE_NUMBER_FLAGGED"
        )));
        assert!(!account_update_pauses_marketing(Some("VERIFIED_ACCOUNT")));
    }
}
