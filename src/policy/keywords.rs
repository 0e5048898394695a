//! Opt-out, opt-in and help keywords, and how a message is matched against them.
//!
//! Matching rule (documented in the README): the message is normalised (trimmed, case-folded,
//! accents, punctuation and emoji removed, spaces collapsed). It matches when the whole message is
//! a keyword, or when it is short (at most `MAX_LED_WORDS` words) and *starts* with an opt-out
//! keyword followed only by politeness words ("stop please", "STOP!!!", "unsubscribe me").
//! "I'll stop by the store" and "stop this bill" do not match: the FCC asks that clear requests
//! be honoured, and a false opt-out silences a customer who wanted to talk to the business.

use serde::{Deserialize, Serialize};

/// Opt-out keywords: CTIA/carrier standard English words and the localised ones businesses
/// on WhatsApp most often meet (ES, PT, DE, FR, IT), already normalised.
pub const OPT_OUT_KEYWORDS: &[&str] = &[
    "stop",
    "stopall",
    "stop all",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "optout",
    "opt out",
    "opt-out",
    "revoke", // English
    "baja",
    "parar",
    "detener",
    "cancelar", // Spanish
    "sair",
    "pare",
    "descadastrar", // Portuguese (parar, cancelar above)
    "stopp",
    "abmelden",
    "abbestellen", // German
    "arret",
    "arrete",
    "desabonner",
    "se desabonner", // French
    "ferma",
    "disiscriviti", // Italian
];
/// Re-subscribe words. `yes`/`si`/`sim`/`ja`/`oui` only count when the contact is opted out.
pub const OPT_IN_KEYWORDS: &[&str] = &["start", "unstop", "subscribe", "resume"];
pub const CONDITIONAL_OPT_IN_KEYWORDS: &[&str] = &["yes", "si", "sim", "ja", "oui"];
pub const HELP_KEYWORDS: &[&str] = &["help", "info", "ayuda", "ajuda", "hilfe", "aide", "aiuto"];
/// Words that may follow an opt-out keyword without changing its meaning.
pub const POLITE_TRAILERS: &[&str] = &[
    "please",
    "pls",
    "plz",
    "now",
    "me",
    "thanks",
    "thank you",
    "thx",
    "it",
    "messaging",
    "messages",
    "texting",
    "por favor",
    "gracias",
    "obrigado",
    "obrigada",
    "bitte",
    "danke",
    "merci",
    "sil vous plait",
    "grazie",
    "per favore",
];
/// A longer message is a conversation, not a command, unless it is exactly a keyword.
pub const MAX_LED_WORDS: usize = 4;
/// Labels of Meta's "Stop promotions" template button in common template languages.
pub const STOP_PROMOTIONS_LABELS: &[&str] = &[
    "stop promotions",
    "detener promociones",
    "parar promocoes",
    "werbung stoppen",
    "arreter les promotions",
    "interrompi promozioni",
    "hentikan promosi",
];

/// Lower-cases, removes accents, turns punctuation/emoji into spaces, collapses spaces.
/// Hyphens inside words survive so "opt-out" stays one word.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = fold_accent(c);
        if c.is_alphanumeric() || c == '-' {
            out.push(c);
        } else if c == '\'' || c == '\u{2019}' {
            // "s'il" → "sil": apostrophes join, they do not separate.
        } else {
            out.push(' ');
        }
    }
    out.split_whitespace()
        .map(|w| w.trim_matches('-'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'ß' => 's',
        other => other,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Intent {
    #[serde(rename = "opt_out")]
    OptOut,
    #[serde(rename = "opt_in")]
    OptIn,
    /// `yes` and friends: an opt-in only for a contact who is opted out.
    #[serde(rename = "opt_in_if_opted_out")]
    OptInIfOptedOut,
    #[serde(rename = "help")]
    Help,
    /// Meta's "Stop promotions" button: marketing only.
    #[serde(rename = "stop_promotions")]
    StopPromotions,
}

/// Keyword lists in force: the shipped ones plus the business's additions.
#[derive(Debug, Clone, Default)]
pub struct Keywords {
    opt_out: Vec<String>,
    opt_in: Vec<String>,
    help: Vec<String>,
    stop_promotions: Vec<String>,
}

impl Keywords {
    pub fn new(
        extra_opt_out: &[String],
        extra_opt_in: &[String],
        extra_help: &[String],
    ) -> Keywords {
        let merge = |shipped: &[&str], extra: &[String]| -> Vec<String> {
            shipped
                .iter()
                .map(|s| s.to_string())
                .chain(extra.iter().map(|e| normalise(e)))
                .filter(|k| !k.is_empty())
                .collect()
        };
        Keywords {
            opt_out: merge(OPT_OUT_KEYWORDS, extra_opt_out),
            opt_in: merge(OPT_IN_KEYWORDS, extra_opt_in),
            help: merge(HELP_KEYWORDS, extra_help),
            stop_promotions: merge(STOP_PROMOTIONS_LABELS, &[]),
        }
    }

    /// What a typed message asks for, with the keyword that matched.
    pub fn classify_text(&self, text: &str) -> Option<(Intent, String)> {
        let norm = normalise(text);
        if norm.is_empty() {
            return None;
        }
        let exact = |list: &[String]| list.iter().find(|k| **k == norm).cloned();
        if let Some(k) = exact(&self.opt_out) {
            return Some((Intent::OptOut, k));
        }
        if let Some(k) = exact(&self.opt_in) {
            return Some((Intent::OptIn, k));
        }
        if let Some(k) = CONDITIONAL_OPT_IN_KEYWORDS.iter().find(|k| **k == norm) {
            return Some((Intent::OptInIfOptedOut, k.to_string()));
        }
        if let Some(k) = exact(&self.help) {
            return Some((Intent::Help, k));
        }
        self.led_by_opt_out(&norm).map(|k| (Intent::OptOut, k))
    }

    /// "stop please", "unsubscribe me now": an opt-out keyword then only politeness words.
    fn led_by_opt_out(&self, norm: &str) -> Option<String> {
        if norm.split(' ').count() > MAX_LED_WORDS {
            return None;
        }
        self.opt_out
            .iter()
            .filter(|k| norm.starts_with(k.as_str()) && norm.as_bytes().get(k.len()) == Some(&b' '))
            .find(|k| only_polite(norm.get(k.len() + 1..).unwrap_or_default()))
            .cloned()
    }

    /// A template quick-reply button: Meta's "Stop promotions" (marketing), or a business's own
    /// button whose label is a keyword (treated like typing it).
    pub fn classify_button(
        &self,
        text: Option<&str>,
        payload: Option<&str>,
    ) -> Option<(Intent, String)> {
        for candidate in [text, payload].into_iter().flatten() {
            let norm = normalise(candidate);
            if let Some(label) = self.stop_promotions.iter().find(|l| **l == norm) {
                return Some((Intent::StopPromotions, label.clone()));
            }
        }
        text.and_then(|t| self.classify_text(t))
    }
}

fn only_polite(rest: &str) -> bool {
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some(word) = POLITE_TRAILERS
            .iter()
            .filter(|p| {
                rest == **p
                    || (rest.starts_with(**p) && rest.as_bytes().get(p.len()) == Some(&b' '))
            })
            .max_by_key(|p| p.len())
        else {
            return false;
        };
        rest = rest.get(word.len()..).unwrap_or_default().trim_start();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kw() -> Keywords {
        Keywords::new(&["halt".to_string()], &[], &[])
    }

    #[test]
    fn keyword_table() {
        let k = kw();
        let opt_out = [
            "STOP",
            "stop",
            " Stop ",
            "STOP!!!",
            "🛑 stop 🛑",
            "stop please",
            "Stop, please.",
            "STOP ALL",
            "stopall",
            "Unsubscribe",
            "unsubscribe me",
            "cancel",
            "END",
            "quit",
            "OPTOUT",
            "opt out",
            "Opt-Out",
            "revoke",
            "BAJA",
            "parar",
            "Detener",
            "cancelar",
            "SAIR",
            "pare",
            "descadastrar",
            "STOPP",
            "abmelden",
            "abbestellen",
            "ARRÊT",
            "arret",
            "arrête",
            "désabonner",
            "se désabonner",
            "ferma",
            "disiscriviti",
            "stop por favor",
            "stopp bitte",
            "halt",
            "STOP now thanks",
        ];
        for text in opt_out {
            assert_eq!(
                k.classify_text(text).map(|(i, _)| i),
                Some(Intent::OptOut),
                "{text:?}"
            );
        }
        let ordinary = [
            "I'll stop by the store",
            "stop this bill",
            "please stop by tomorrow",
            "don't stop",
            "stopping",
            "the end of the line",
            "how do I cancel my order",
            "stop sending me the invoice twice",
            "",
            "   ",
            "🙂",
            "stop stop stop stop stop",
        ];
        for text in ordinary {
            assert_eq!(k.classify_text(text), None, "{text:?}");
        }
        assert_eq!(
            k.classify_text("START").map(|(i, _)| i),
            Some(Intent::OptIn)
        );
        assert_eq!(
            k.classify_text("unstop").map(|(i, _)| i),
            Some(Intent::OptIn)
        );
        assert_eq!(
            k.classify_text("Yes!").map(|(i, _)| i),
            Some(Intent::OptInIfOptedOut)
        );
        assert_eq!(
            k.classify_text("sí").map(|(i, _)| i),
            Some(Intent::OptInIfOptedOut)
        );
        assert_eq!(k.classify_text("HELP").map(|(i, _)| i), Some(Intent::Help));
        assert_eq!(k.classify_text("info?").map(|(i, _)| i), Some(Intent::Help));
        assert_eq!(k.classify_text("help me with my order"), None);
        assert_eq!(
            k.classify_text("ARRÊT").map(|(_, w)| w),
            Some("arret".to_string())
        );
    }

    #[test]
    fn buttons() {
        let k = kw();
        assert_eq!(
            k.classify_button(Some("Stop promotions"), None)
                .map(|(i, _)| i),
            Some(Intent::StopPromotions)
        );
        assert_eq!(
            k.classify_button(Some("Parar promoções"), None)
                .map(|(i, _)| i),
            Some(Intent::StopPromotions)
        );
        assert_eq!(
            k.classify_button(Some("Unsubscribe"), None).map(|(i, _)| i),
            Some(Intent::OptOut)
        );
        assert_eq!(
            k.classify_button(Some("Track my order"), Some("TRACK")),
            None
        );
    }
}
