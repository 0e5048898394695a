//! Configuration, read once per request from a lookup the shell provides (env vars and secrets).
//! The core never reads the environment itself.

use crate::retention::{DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS};

pub const DEFAULT_GRAPH_API_BASE: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_API_VERSION: &str = "v24.0";

/// The secrets, by the names operators set with `wrangler secret put`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    AppSecret,
    AppSecretPrevious,
    VerifyToken,
    AccessToken,
    AdminToken,
    ContactKeySecret,
}

impl Secret {
    pub const REQUIRED: [Secret; 5] = [
        Secret::AppSecret,
        Secret::VerifyToken,
        Secret::AccessToken,
        Secret::AdminToken,
        Secret::ContactKeySecret,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Secret::AppSecret => "WHATSAPP_APP_SECRET",
            Secret::AppSecretPrevious => "WHATSAPP_APP_SECRET_PREVIOUS",
            Secret::VerifyToken => "WHATSAPP_VERIFY_TOKEN",
            Secret::AccessToken => "WHATSAPP_ACCESS_TOKEN",
            Secret::AdminToken => "ADMIN_TOKEN",
            Secret::ContactKeySecret => "CONTACT_KEY_SECRET",
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

/// Automatic replies: raw settings; `replies::AutoReplies` validates and uses them.
#[derive(Debug, Clone, Default)]
pub struct AutoReplySettings {
    /// JSON list of rules, see README.
    pub rules_json: Option<String>,
    pub default_reply: Option<String>,
    pub default_cooldown_hours: u64,
    pub mark_as_read: bool,
}

/// "Don't over-message": the default reply goes to a contact at most once a day by default.
pub const DEFAULT_REPLY_COOLDOWN_HOURS: u64 = 24;

#[derive(Debug, Clone)]
pub struct Config {
    secrets: Vec<(Secret, String)>,
    pub graph_api_base: String,
    pub graph_api_version: String,
    pub retention_days: u64,
    pub messages: Messages,
    /// Parsed once with the configuration (not per request): the rules and the keyword lists.
    pub replies: crate::replies::AutoReplies,
    pub keywords: crate::consent::Keywords,
    /// Invalid variables, reported by /healthz and by every request that depends on them.
    pub problems: Vec<ConfigError>,
}

impl Config {
    /// Builds the configuration from `lookup(name)`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();
        let secrets = Secret::REQUIRED
            .iter()
            .chain(std::iter::once(&Secret::AppSecretPrevious))
            .filter_map(|s| get(s.name()).map(|v| (*s, v)))
            .collect();
        let retention_days = match get("RETENTION_DAYS") {
            None => DEFAULT_RETENTION_DAYS,
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(days) if (1..=MAX_RETENTION_DAYS).contains(&days) => days,
                _ => {
                    problems.push(ConfigError::Invalid {
                        name: "RETENTION_DAYS",
                        why: "must be a whole number of days from 1 to 30",
                    });
                    DEFAULT_RETENTION_DAYS
                }
            },
        };
        let graph_api_base = get("GRAPH_API_BASE")
            .map(|b| b.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| DEFAULT_GRAPH_API_BASE.to_string());
        if !(graph_api_base.starts_with("https://") || graph_api_base.starts_with("http://")) {
            problems.push(ConfigError::Invalid {
                name: "GRAPH_API_BASE",
                why: "must be an http(s) URL",
            });
        }
        let list = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| {
                    v.split(',')
                        .map(|k| k.trim().to_string())
                        .filter(|k| !k.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let business_name = get("BUSINESS_NAME").unwrap_or_else(|| "our business".to_string());
        let messages = Messages {
            opt_out_confirmation: get("OPT_OUT_CONFIRMATION").unwrap_or_else(|| {
                format!("You have been unsubscribed from {business_name} and will get no more messages. Reply START to subscribe again.")
            }),
            opt_in_confirmation: get("OPT_IN_CONFIRMATION").unwrap_or_else(|| {
                format!("You are subscribed to {business_name} again. Reply STOP to unsubscribe.")
            }),
            help_text: get("HELP_TEXT").unwrap_or_else(|| {
                format!("{business_name}: reply with your question and a person will get back to you. Reply STOP to unsubscribe.")
            }),
            business_name,
            extra_opt_out_keywords: list("OPT_OUT_KEYWORDS"),
            extra_opt_in_keywords: list("OPT_IN_KEYWORDS"),
            extra_help_keywords: list("HELP_KEYWORDS"),
        };
        let default_cooldown_hours =
            match get("DEFAULT_REPLY_COOLDOWN_HOURS").map(|v| v.trim().parse::<u64>()) {
                None => DEFAULT_REPLY_COOLDOWN_HOURS,
                Some(Ok(h)) if h <= 24 * 30 => h,
                Some(_) => {
                    problems.push(ConfigError::Invalid {
                        name: "DEFAULT_REPLY_COOLDOWN_HOURS",
                        why: "must be a whole number of hours from 0 to 720",
                    });
                    DEFAULT_REPLY_COOLDOWN_HOURS
                }
            };
        let mark_as_read = match get("MARK_AS_READ").map(|v| v.trim().to_ascii_lowercase()) {
            None => true,
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => false,
            Some(_) => {
                problems.push(ConfigError::Invalid {
                    name: "MARK_AS_READ",
                    why: "must be true or false",
                });
                true
            }
        };
        let auto_replies = AutoReplySettings {
            rules_json: get("AUTO_REPLY_RULES"),
            default_reply: get("DEFAULT_REPLY"),
            default_cooldown_hours,
            mark_as_read,
        };
        let replies =
            crate::replies::AutoReplies::from_settings(&auto_replies).unwrap_or_else(|why| {
                problems.push(ConfigError::Invalid {
                    name: "AUTO_REPLY_RULES",
                    why,
                });
                crate::replies::AutoReplies::default()
            });
        let keywords = crate::consent::Keywords::new(
            &messages.extra_opt_out_keywords,
            &messages.extra_opt_in_keywords,
            &messages.extra_help_keywords,
        );
        Config {
            replies,
            keywords,
            secrets,
            graph_api_base,
            graph_api_version: get("GRAPH_API_VERSION")
                .map(|v| v.trim().to_string())
                .unwrap_or_else(|| DEFAULT_GRAPH_API_VERSION.to_string()),
            retention_days,
            messages,
            problems,
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
