//! Configuration, read once per request from a lookup the shell provides (env vars and secrets).
//! The core never reads the environment itself.

use crate::policy::auto_reply::{AutoReplies, AutoReplySettings};
use crate::policy::cooldown::{DEFAULT_REPLY_COOLDOWN_HOURS, MAX_REPLY_COOLDOWN_HOURS};
use crate::policy::keywords::Keywords;
use crate::policy::pacing::{DEFAULT_PAIR_BURST, MAX_PAIR_BURST};
use crate::policy::retention::{DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS};
use crate::store::keys::KeyScheme;

pub const DEFAULT_GRAPH_API_BASE: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_API_VERSION: &str = "v24.0";

/// Meta sends a message's `sent` status within seconds; five minutes without one means the send
/// never reached Meta (webhooks delayed longer than that are rare, and the cost is one duplicate).
pub const DEFAULT_UNCONFIRMED_RETRY_SECS: u64 = 300;

/// The secrets, by the names operators set with `wrangler secret put`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    AppSecret,
    AppSecretPrevious,
    VerifyToken,
    AccessToken,
    AdminToken,
    ContactKeySecret,
    /// The admin token being rotated out: accepted until it is unset.
    AdminTokenPrevious,
    /// A token that may only send (both send routes), for a CRM or a campaign tool.
    SendToken,
    SendTokenPrevious,
    /// A token that may only read: lookups, history, consent checks and account signals.
    ViewerToken,
    ViewerTokenPrevious,
}

impl Secret {
    pub const REQUIRED: [Secret; 5] = [
        Secret::AppSecret,
        Secret::VerifyToken,
        Secret::AccessToken,
        Secret::AdminToken,
        Secret::ContactKeySecret,
    ];

    /// Optional secrets: a second app secret and tokens during a rotation, the send-only token.
    pub const OPTIONAL: [Secret; 6] = [
        Secret::AppSecretPrevious,
        Secret::AdminTokenPrevious,
        Secret::SendToken,
        Secret::SendTokenPrevious,
        Secret::ViewerToken,
        Secret::ViewerTokenPrevious,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Secret::AppSecret => "WHATSAPP_APP_SECRET",
            Secret::AppSecretPrevious => "WHATSAPP_APP_SECRET_PREVIOUS",
            Secret::VerifyToken => "WHATSAPP_VERIFY_TOKEN",
            Secret::AccessToken => "WHATSAPP_ACCESS_TOKEN",
            Secret::AdminToken => "ADMIN_TOKEN",
            Secret::ContactKeySecret => "CONTACT_KEY_SECRET",
            Secret::AdminTokenPrevious => "ADMIN_TOKEN_PREVIOUS",
            Secret::SendToken => "SEND_TOKEN",
            Secret::ViewerToken => "VIEWER_TOKEN",
            Secret::ViewerTokenPrevious => "VIEWER_TOKEN_PREVIOUS",
            Secret::SendTokenPrevious => "SEND_TOKEN_PREVIOUS",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A required secret is not set. Names the secret, never its value.
    Missing(&'static str),
    /// A variable is set to something unusable.
    Invalid {
        name: &'static str,
        why: &'static str,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Missing(name) => write!(f, "{name} is not set"),
            ConfigError::Invalid { name, why } => write!(f, "{name} is invalid: {why}"),
        }
    }
}

/// Texts and keyword additions the business configures. Defaults ship in `wrangler.toml`.
#[derive(Debug, Clone, Default)]
pub struct Messages {
    pub business_name: String,
    pub opt_out_confirmation: String,
    pub opt_in_confirmation: String,
    pub help_text: String,
    pub extra_opt_out_keywords: Vec<String>,
    pub extra_opt_in_keywords: Vec<String>,
    pub extra_help_keywords: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    secrets: Vec<(Secret, String)>,
    pub graph_api_base: String,
    pub graph_api_version: String,
    pub retention_days: u64,
    /// Messages one person may get at once before pacing (`policy::pacing`).
    pub pair_burst: u64,
    /// How long a send interrupted mid-flight waits for Meta's status before it goes again.
    pub unconfirmed_retry_secs: u64,
    /// Business-initiated guards (`policy::business`): marketing templates per person per
    /// rolling 24 h (0: no cap), and a new number's daily budget of business-initiated messages.
    pub marketing_per_day: u64,
    pub ramp_daily_limit: Option<u64>,
    pub messages: Messages,
    /// Parsed once with the configuration (not per request): the rules and the keyword lists.
    pub replies: AutoReplies,
    pub keywords: Keywords,
    /// Invalid variables, reported by /healthz and by every request that depends on them.
    pub problems: Vec<ConfigError>,
    /// The contacts' key scheme, keyed once with `CONTACT_KEY_SECRET` (when set) instead of on
    /// every request: keying costs two SHA-256 blocks, and the worker and each object did it.
    keys: Option<KeyScheme>,
}

/// Reads variables by name, collecting what is wrong instead of stopping at the first problem.
struct Reader<F: Fn(&str) -> Option<String>> {
    lookup: F,
    problems: Vec<ConfigError>,
}

impl<F: Fn(&str) -> Option<String>> Reader<F> {
    /// Empty values count as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn invalid(&mut self, name: &'static str, why: &'static str) {
        self.problems.push(ConfigError::Invalid { name, why });
    }

    /// A whole number within `range`, else `default` and a problem.
    fn number(
        &mut self,
        name: &'static str,
        range: std::ops::RangeInclusive<u64>,
        default: u64,
        why: &'static str,
    ) -> u64 {
        match self.get(name).map(|v| v.trim().parse::<u64>()) {
            None => default,
            Some(Ok(n)) if range.contains(&n) => n,
            Some(_) => {
                self.invalid(name, why);
                default
            }
        }
    }

    fn flag(&mut self, name: &'static str, default: bool) -> bool {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => false,
            Some(_) => {
                self.invalid(name, "must be true or false");
                default
            }
        }
    }

    /// A comma-separated list.
    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn messages(&self) -> Messages {
        let business_name = self
            .get("BUSINESS_NAME")
            .unwrap_or_else(|| "our business".to_string());
        Messages {
            opt_out_confirmation: self.get("OPT_OUT_CONFIRMATION").unwrap_or_else(|| {
                format!("You have been unsubscribed from {business_name} and will get no more messages. Reply START to subscribe again.")
            }),
            opt_in_confirmation: self.get("OPT_IN_CONFIRMATION").unwrap_or_else(|| {
                format!("You are subscribed to {business_name} again. Reply STOP to unsubscribe.")
            }),
            help_text: self.get("HELP_TEXT").unwrap_or_else(|| {
                format!("{business_name}: reply with your question and a person will get back to you. Reply STOP to unsubscribe.")
            }),
            business_name,
            extra_opt_out_keywords: self.list("OPT_OUT_KEYWORDS"),
            extra_opt_in_keywords: self.list("OPT_IN_KEYWORDS"),
            extra_help_keywords: self.list("HELP_KEYWORDS"),
        }
    }

    fn graph_api_base(&mut self) -> String {
        let base = self
            .get("GRAPH_API_BASE")
            .map(|b| b.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| DEFAULT_GRAPH_API_BASE.to_string());
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            self.invalid("GRAPH_API_BASE", "must be an http(s) URL");
        }
        base
    }

    fn replies(&mut self) -> AutoReplies {
        let settings = AutoReplySettings {
            rules_json: self.get("AUTO_REPLY_RULES"),
            default_reply: self.get("DEFAULT_REPLY"),
            default_cooldown_hours: self.number(
                "DEFAULT_REPLY_COOLDOWN_HOURS",
                0..=MAX_REPLY_COOLDOWN_HOURS,
                DEFAULT_REPLY_COOLDOWN_HOURS,
                "must be a whole number of hours from 0 to 720",
            ),
            mark_as_read: self.flag("MARK_AS_READ", true),
        };
        AutoReplies::from_settings(&settings).unwrap_or_else(|why| {
            self.invalid("AUTO_REPLY_RULES", why);
            AutoReplies::default()
        })
    }
}

impl Config {
    /// Builds the configuration from `lookup(name)`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let mut r = Reader {
            lookup,
            problems: Vec::new(),
        };
        let secrets: Vec<(Secret, String)> = Secret::REQUIRED
            .iter()
            .chain(Secret::OPTIONAL.iter())
            .filter_map(|s| r.get(s.name()).map(|v| (*s, v)))
            .collect();
        let retention_days = r.number(
            "RETENTION_DAYS",
            1..=MAX_RETENTION_DAYS,
            DEFAULT_RETENTION_DAYS,
            "must be a whole number of days from 1 to 30",
        );
        let pair_burst = r.number(
            "PAIR_BURST",
            1..=MAX_PAIR_BURST,
            DEFAULT_PAIR_BURST,
            "must be a whole number of messages from 1 to 45",
        );
        let unconfirmed_retry_secs = r.number(
            "UNCONFIRMED_SEND_RETRY_SECONDS",
            5..=3600,
            DEFAULT_UNCONFIRMED_RETRY_SECS,
            "must be a whole number of seconds from 5 to 3600",
        );
        let marketing_per_day = r.number(
            "MARKETING_PER_DAY",
            0..=100,
            crate::policy::business::DEFAULT_MARKETING_PER_DAY,
            "must be a whole number of marketing messages from 0 (no cap) to 100",
        );
        // Unset: no budget. Set: a whole number, or a problem reported like any other.
        let ramp_daily_limit = r.get("RAMP_DAILY_LIMIT").is_some().then(|| {
            r.number(
                "RAMP_DAILY_LIMIT",
                1..=1_000_000,
                1,
                "must be a whole number of messages per day from 1 to 1000000",
            )
        });
        let graph_api_base = r.graph_api_base();
        let messages = r.messages();
        let replies = r.replies();
        let keywords = Keywords::new(
            &messages.extra_opt_out_keywords,
            &messages.extra_opt_in_keywords,
            &messages.extra_help_keywords,
        );
        let graph_api_version = r
            .get("GRAPH_API_VERSION")
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| DEFAULT_GRAPH_API_VERSION.to_string());
        let keys = secrets
            .iter()
            .find(|(s, _)| *s == Secret::ContactKeySecret)
            .map(|(_, v)| KeyScheme::new(v));
        Config {
            replies,
            keywords,
            keys,
            secrets,
            graph_api_base,
            graph_api_version,
            retention_days,
            pair_burst,
            unconfirmed_retry_secs,
            marketing_per_day,
            ramp_daily_limit,
            messages,
            problems: r.problems,
        }
    }

    pub fn secret(&self, which: Secret) -> Option<&str> {
        self.secrets
            .iter()
            .find(|(s, _)| *s == which)
            .map(|(_, v)| v.as_str())
    }

    /// The secret's value, or an error naming it.
    pub fn require(&self, which: Secret) -> Result<&str, ConfigError> {
        self.secret(which).ok_or(ConfigError::Missing(which.name()))
    }

    /// The contacts' key scheme, or an error naming `CONTACT_KEY_SECRET`.
    pub fn keys(&self) -> Result<&KeyScheme, ConfigError> {
        self.keys
            .as_ref()
            .ok_or(ConfigError::Missing(Secret::ContactKeySecret.name()))
    }

    /// Fails on the first invalid variable, so a misconfigured worker refuses work loudly.
    pub fn check_valid(&self) -> Result<(), ConfigError> {
        match self.problems.first() {
            Some(problem) => Err(problem.clone()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Config {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn missing_secret_is_named() {
        let c = config(&[("WHATSAPP_APP_SECRET", "s")]);
        assert_eq!(c.require(Secret::AppSecret), Ok("s"));
        assert_eq!(
            c.require(Secret::AdminToken),
            Err(ConfigError::Missing("ADMIN_TOKEN"))
        );
        assert_eq!(
            ConfigError::Missing("ADMIN_TOKEN").to_string(),
            "ADMIN_TOKEN is not set"
        );
    }

    #[test]
    fn empty_secret_counts_as_missing() {
        let c = config(&[("WHATSAPP_APP_SECRET", "  ")]);
        assert!(c.require(Secret::AppSecret).is_err());
    }

    #[test]
    fn retention_defaults_to_thirty_and_refuses_more() {
        assert_eq!(config(&[]).retention_days, 30);
        assert_eq!(config(&[("RETENTION_DAYS", "7")]).retention_days, 7);
        let too_long = config(&[("RETENTION_DAYS", "31")]);
        assert_eq!(too_long.retention_days, 30);
        assert!(matches!(
            too_long.check_valid(),
            Err(ConfigError::Invalid {
                name: "RETENTION_DAYS",
                ..
            })
        ));
        assert!(config(&[("RETENTION_DAYS", "0")]).check_valid().is_err());
    }

    #[test]
    fn graph_base_trailing_slash_and_keyword_lists() {
        let c = config(&[
            ("GRAPH_API_BASE", "http://127.0.0.1:9/"),
            ("OPT_OUT_KEYWORDS", "halt, nope ,,"),
        ]);
        assert_eq!(c.graph_api_base, "http://127.0.0.1:9");
        assert_eq!(c.messages.extra_opt_out_keywords, vec!["halt", "nope"]);
        assert!(config(&[("GRAPH_API_BASE", "ftp://x")])
            .check_valid()
            .is_err());
    }
}
