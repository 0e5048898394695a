//! Opt-out, opt-in and help keywords, and the consent ledger.
//!
//! Matching rule (documented in the README): the message is normalised (trimmed, case-folded,
//! accents, punctuation and emoji removed, spaces collapsed). It matches when the whole message is
//! a keyword, or when it is short (at most `MAX_LED_WORDS` words) and *starts* with an opt-out
//! keyword followed only by politeness words ("stop please", "STOP!!!", "unsubscribe me").
//! "I'll stop by the store" and "stop this bill" do not match: the FCC asks that clear requests
//! be honoured, and a false opt-out silences a customer who wanted to talk to the business.

use crate::ids::MessageId;
use crate::time::UnixTime;
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
/// The history kept per contact: enough evidence for an audit, bounded so the record stays small.
pub const MAX_HISTORY: usize = 50;

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
#[serde(rename_all = "snake_case")]
pub enum Intent {
    OptOut,
    OptIn,
    /// `yes` and friends: an opt-in only for a contact who is opted out.
    OptInIfOptedOut,
    Help,
    /// Meta's "Stop promotions" button: marketing only.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    OptedIn,
    OptedOut,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    All,
    Marketing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Keyword,
    Button,
    UserPreferences,
    SendError,
    Admin,
}

/// One piece of evidence: who changed what, when, and because of which message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentChange {
    pub status: ConsentStatus,
    pub scope: Scope,
    /// When the person acted (the event's own time), which orders changes.
    pub at: UnixTime,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Free text for off-WhatsApp consent ("website checkbox, order 1234").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// False when a newer change already stood: kept as evidence, not applied.
    pub applied: bool,
}

/// The suppression record: kept without TTL and through erasure, holding no message text and no
/// profile name, because an objection to direct marketing must be honoured indefinitely.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub status: ConsentStatus,
    pub scope: Option<Scope>,
    pub updated_at: Option<UnixTime>,
    pub history: Vec<ConsentChange>,
}

impl Default for ConsentRecord {
    fn default() -> Self {
        ConsentRecord {
            status: ConsentStatus::Unknown,
            scope: None,
            updated_at: None,
            history: Vec::new(),
        }
    }
}

/// What applying a change did to the effective state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Already in the ledger (a redelivery): nothing changed.
    Duplicate,
    /// Older than the state in force: recorded as evidence only.
    Superseded,
    /// Applied; `changed` is whether the effective status or scope moved.
    Applied { changed: bool },
}

impl ConsentRecord {
    pub fn is_opted_out_of_all(&self) -> bool {
        self.status == ConsentStatus::OptedOut && self.scope == Some(Scope::All)
    }

    /// May a message of this kind be sent? Unknown consent is not an objection (the business
    /// collects consent elsewhere); an opt-out is.
    pub fn allows(&self, marketing: bool) -> bool {
        match (self.status, self.scope) {
            (ConsentStatus::OptedOut, Some(Scope::All)) => false,
            (ConsentStatus::OptedOut, _) => !marketing,
            _ => true,
        }
    }

    /// Applies a change if it is the newest; later events win, ties go to the later arrival so
    /// STOP then START in the same second ends opted in.
    pub fn apply(&mut self, mut change: ConsentChange) -> Applied {
        let same = |c: &ConsentChange| {
            c.source == change.source
                && c.status == change.status
                && c.scope == change.scope
                && c.at == change.at
                && c.message_id == change.message_id
                && c.evidence == change.evidence
        };
        if self.history.iter().any(same) {
            return Applied::Duplicate;
        }
        let newest = self.updated_at.is_none_or(|t| change.at >= t);
        change.applied = newest;
        let before = (self.status, self.scope);
        if newest {
            self.updated_at = Some(change.at);
            match (change.status, change.scope) {
                (ConsentStatus::OptedOut, Scope::All) => {
                    self.status = ConsentStatus::OptedOut;
                    self.scope = Some(Scope::All);
                }
                // A marketing opt-out never loosens an opt-out of everything.
                (ConsentStatus::OptedOut, Scope::Marketing) => {
                    if !self.is_opted_out_of_all() {
                        self.status = ConsentStatus::OptedOut;
                        self.scope = Some(Scope::Marketing);
                    }
                }
                // An opt-in to everything (START, admin) lifts any opt-out.
                (ConsentStatus::OptedIn, Scope::All) => {
                    self.status = ConsentStatus::OptedIn;
                    self.scope = None;
                }
                // Resuming marketing lifts only a marketing opt-out.
                (ConsentStatus::OptedIn, Scope::Marketing) => {
                    if !self.is_opted_out_of_all() {
                        self.status = ConsentStatus::OptedIn;
                        self.scope = None;
                    }
                }
                (ConsentStatus::Unknown, _) => {}
            }
        }
        let pos = self
            .history
            .iter()
            .position(|c| c.at > change.at)
            .unwrap_or(self.history.len());
        self.history.insert(pos, change);
        if self.history.len() > MAX_HISTORY {
            let excess = self.history.len() - MAX_HISTORY;
            self.history.drain(..excess);
        }
        if newest {
            Applied::Applied {
                changed: before != (self.status, self.scope),
            }
        } else {
            Applied::Superseded
        }
    }
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

    fn change(status: ConsentStatus, scope: Scope, at: u64, source: Source) -> ConsentChange {
        ConsentChange {
            status,
            scope,
            at: UnixTime(at),
            source,
            message_id: Some(MessageId::new(format!("wamid.{at}{status:?}"))),
            keyword: None,
            evidence: None,
            applied: false,
        }
    }

    #[test]
    fn later_events_win_and_older_start_is_evidence_only() {
        let mut r = ConsentRecord::default();
        assert_eq!(
            r.apply(change(
                ConsentStatus::OptedOut,
                Scope::All,
                200,
                Source::Keyword
            )),
            Applied::Applied { changed: true }
        );
        assert_eq!(
            r.apply(change(
                ConsentStatus::OptedIn,
                Scope::All,
                100,
                Source::Keyword
            )),
            Applied::Superseded
        );
        assert!(r.is_opted_out_of_all());
        assert_eq!(r.history.len(), 2);
        assert_eq!(r.history.first().map(|c| c.applied), Some(false));
    }

    #[test]
    fn stop_then_start_in_the_same_second_ends_opted_in() {
        let mut r = ConsentRecord::default();
        r.apply(change(
            ConsentStatus::OptedOut,
            Scope::All,
            100,
            Source::Keyword,
        ));
        r.apply(change(
            ConsentStatus::OptedIn,
            Scope::All,
            100,
            Source::Keyword,
        ));
        assert_eq!(r.status, ConsentStatus::OptedIn);
        assert!(r.allows(true));
    }

    #[test]
    fn redelivered_change_is_a_duplicate() {
        let mut r = ConsentRecord::default();
        let c = change(ConsentStatus::OptedOut, Scope::All, 100, Source::Keyword);
        r.apply(c.clone());
        assert_eq!(r.apply(c), Applied::Duplicate);
        assert_eq!(r.history.len(), 1);
    }

    #[test]
    fn marketing_scope_rules() {
        let mut r = ConsentRecord::default();
        r.apply(change(
            ConsentStatus::OptedOut,
            Scope::Marketing,
            100,
            Source::UserPreferences,
        ));
        assert!(!r.allows(true));
        assert!(r.allows(false));
        // Resume of marketing does not lift a later full opt-out.
        r.apply(change(
            ConsentStatus::OptedOut,
            Scope::All,
            110,
            Source::Keyword,
        ));
        assert_eq!(
            r.apply(change(
                ConsentStatus::OptedIn,
                Scope::Marketing,
                120,
                Source::UserPreferences
            )),
            Applied::Applied { changed: false }
        );
        assert!(r.is_opted_out_of_all());
        // A marketing opt-out never loosens a full one.
        r.apply(change(
            ConsentStatus::OptedOut,
            Scope::Marketing,
            130,
            Source::Button,
        ));
        assert!(r.is_opted_out_of_all());
        r.apply(change(
            ConsentStatus::OptedIn,
            Scope::All,
            140,
            Source::Keyword,
        ));
        assert!(r.allows(true));
    }

    #[test]
    fn history_is_bounded() {
        let mut r = ConsentRecord::default();
        for i in 0..(MAX_HISTORY as u64 + 10) {
            let status = if i % 2 == 0 {
                ConsentStatus::OptedOut
            } else {
                ConsentStatus::OptedIn
            };
            r.apply(change(status, Scope::All, 1000 + i, Source::Keyword));
        }
        assert_eq!(r.history.len(), MAX_HISTORY);
        assert_eq!(r.updated_at, Some(UnixTime(1000 + MAX_HISTORY as u64 + 9)));
    }
}
