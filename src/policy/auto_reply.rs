//! Automatic replies: keyword/phrase rules and a default reply, matched with the consent
//! keywords' normalisation. Which guards a reply must pass is `delivery::auto_reply`.

use crate::policy::keywords::normalise;
use serde::Deserialize;

/// Automatic replies as configured: raw settings, validated by `AutoReplies::from_settings`.
#[derive(Debug, Clone, Default)]
pub struct AutoReplySettings {
    /// JSON list of rules, see README.
    pub rules_json: Option<String>,
    pub default_reply: Option<String>,
    pub default_cooldown_hours: u64,
    pub mark_as_read: bool,
}

/// Meta's limits for reply buttons: at most 3, titles up to 20 characters.
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
/// Interactive bodies are limited to 1024 characters, text messages to 4096.
pub const MAX_INTERACTIVE_BODY: usize = 1024;
pub const MAX_TEXT_BODY: usize = 4096;

#[derive(Deserialize)]
struct RuleInput {
    name: Option<String>,
    #[serde(rename = "match")]
    phrases: Vec<String>,
    reply: String,
    #[serde(default)]
    buttons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    phrases: Vec<String>,
    pub reply: String,
    pub buttons: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AutoReplies {
    pub rules: Vec<Rule>,
    pub default_reply: Option<String>,
    pub cooldown_secs: u64,
    pub mark_as_read: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Choice<'a> {
    Rule(&'a Rule),
    Default(&'a str),
}

impl AutoReplies {
    pub fn from_settings(s: &AutoReplySettings) -> Result<AutoReplies, &'static str> {
        let inputs: Vec<RuleInput> = match s.rules_json.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(json) => crate::serde_ext::from_str(json).map_err(|_| {
                r#"must be a JSON list of {"match":["phrase"],"reply":"text","buttons":["up to 3"]}"#
            })?,
        };
        let mut rules = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            let phrases: Vec<String> = input
                .phrases
                .iter()
                .map(|p| normalise(p))
                .filter(|p| !p.is_empty())
                .collect();
            if phrases.is_empty() || input.reply.trim().is_empty() {
                return Err("every rule needs a non-empty match list and reply");
            }
            if input.buttons.len() > MAX_BUTTONS
                || input
                    .buttons
                    .iter()
                    .any(|b| b.trim().is_empty() || b.chars().count() > MAX_BUTTON_TITLE)
            {
                return Err("a rule has at most 3 buttons of 1 to 20 characters");
            }
            let limit = if input.buttons.is_empty() {
                MAX_TEXT_BODY
            } else {
                MAX_INTERACTIVE_BODY
            };
            if input.reply.chars().count() > limit {
                return Err("a reply is too long for WhatsApp (4096, or 1024 with buttons)");
            }
            rules.push(Rule {
                name: input.name.unwrap_or_else(|| format!("rule{}", i + 1)),
                phrases,
                reply: input.reply,
                buttons: input.buttons,
            });
        }
        Ok(AutoReplies {
            rules,
            default_reply: s.default_reply.clone().filter(|r| !r.trim().is_empty()),
            cooldown_secs: s.default_cooldown_hours * 3600,
            mark_as_read: s.mark_as_read,
        })
    }

    /// The first rule whose phrase appears in the message as whole words, else the default.
    pub fn choose(&self, text: Option<&str>) -> Option<Choice<'_>> {
        if let Some(text) = text {
            let norm = format!(" {} ", normalise(text));
            if let Some(rule) = self
                .rules
                .iter()
                .find(|r| r.phrases.iter().any(|p| norm.contains(&format!(" {p} "))))
            {
                return Some(Choice::Rule(rule));
            }
        }
        self.default_reply.as_deref().map(Choice::Default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replies(rules: &str, default: Option<&str>) -> Result<AutoReplies, &'static str> {
        AutoReplies::from_settings(&AutoReplySettings {
            rules_json: Some(rules.to_string()),
            default_reply: default.map(str::to_string),
            default_cooldown_hours: 24,
            mark_as_read: true,
        })
    }

    #[test]
    fn rules_match_whole_words_after_normalisation() {
        let r = replies(
            r#"[{"name":"hours","match":["opening hours","when are you open"],"reply":"9 to 5"},
                {"match":["order"],"reply":"Which?","buttons":["Track order","Talk to us"]}]"#,
            Some("Thanks, we will answer soon."),
        )
        .unwrap();
        let name = |t: &str| match r.choose(Some(t)) {
            Some(Choice::Rule(rule)) => rule.name.clone(),
            Some(Choice::Default(_)) => "default".into(),
            None => "none".into(),
        };
        assert_eq!(name("What are your OPENING hours?"), "hours");
        assert_eq!(name("Where is my order!"), "rule2");
        assert_eq!(
            name("I want to reorder"),
            "default",
            "no partial-word matches"
        );
        assert_eq!(name("hello"), "default");
        assert_eq!(
            r.choose(None),
            Some(Choice::Default("Thanks, we will answer soon."))
        );
    }

    #[test]
    fn no_rules_and_no_default_means_no_reply() {
        let r = replies("", None).unwrap();
        assert_eq!(r.choose(Some("hi")), None);
    }

    #[test]
    fn invalid_rules_are_refused() {
        assert!(replies("not json", None).is_err());
        assert!(replies(r#"[{"match":[],"reply":"x"}]"#, None).is_err());
        assert!(replies(
            r#"[{"match":["a"],"reply":"x","buttons":["1","2","3","4"]}]"#,
            None
        )
        .is_err());
        assert!(replies(
            r#"[{"match":["a"],"reply":"x","buttons":["this title is far too long"]}]"#,
            None
        )
        .is_err());
    }
}
