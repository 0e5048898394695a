//! Every KV key is built here. No key holds a phone number, wa_id or message id: contacts and
//! messages appear as keyed hashes (HMAC with `CONTACT_KEY_SECRET`), so a KV listing or a leaked
//! key dump reveals nobody. (`wamid`s are base64 of the sender's number, so they are hashed too.)
//!
//! Layout: everything personal about a contact lives under `c:{contact}:`, so erasure is one
//! prefix; the consent suppression record lives apart (`consent:{contact}`) and survives it.

use crate::crypto::HmacSha256;
use crate::ids::{MessageId, WaId};
use hmac::Mac;
use std::cell::RefCell;

/// 16 bytes of HMAC: collision-free in practice, short enough to keep keys far under 512 B.
const HASH_BYTES: usize = 16;

/// How many business numbers' hashes a scheme remembers (`KeyScheme::number`): a business has a
/// few; past this many the memory starts again rather than grow.
const REMEMBERED_NUMBERS: usize = 16;

/// Built once per configuration (`Config::keys`), so per isolate in the worker.
#[derive(Clone)]
pub struct KeyScheme {
    /// The HMAC already keyed: each hash clones it instead of deriving the key's pads again
    /// (half the SHA-256 blocks of a short id's hash).
    keyed: HmacSha256,
    /// Business numbers' hashes (phone number id → hash), remembered: a delivery needs its
    /// number's up to four times (its pause, its authority, in the worker and the object), and
    /// a number id is the business's, not a person's.
    numbers: RefCell<Vec<(String, String)>>,
}

impl std::fmt::Debug for KeyScheme {
    /// Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyScheme")
    }
}

/// A contact's pseudonymous key (hex), safe to show in logs and keys.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ContactKey(pub String);

/// A message id's keyed hash (hex).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageKey(pub String);

impl KeyScheme {
    pub fn new(contact_key_secret: &str) -> KeyScheme {
        KeyScheme {
            keyed: HmacSha256::new_from_slice(contact_key_secret.as_bytes())
                .expect("HMAC accepts keys of any length"),
            numbers: RefCell::new(Vec::new()),
        }
    }

    /// HMAC-SHA256 of `domain`, a NUL and `value`, its first `HASH_BYTES` in hex. Every key in
    /// KV and every object's name depends on these bytes never changing.
    fn hash(&self, domain: &str, value: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(domain.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        let mac: [u8; 32] = mac.finalize().into_bytes().into();
        hex::encode(mac.get(..HASH_BYTES).unwrap_or(&mac))
    }

    pub fn contact(&self, wa_id: &WaId) -> ContactKey {
        ContactKey(self.hash("contact", wa_id.as_str()))
    }

    pub fn message(&self, id: &MessageId) -> MessageKey {
        MessageKey(self.hash("message", id.as_str()))
    }

    /// A business number's hash, as `event(&[phone_number_id])` makes it (its pause's key and
    /// its authority's name depend on that), remembered.
    pub fn number(&self, phone_number_id: &str) -> String {
        let known = self
            .numbers
            .borrow()
            .iter()
            .find(|(id, _)| id == phone_number_id)
            .map(|(_, hash)| hash.clone());
        if let Some(hash) = known {
            return hash;
        }
        let hash = self.event(&[phone_number_id]);
        let mut numbers = self.numbers.borrow_mut();
        if numbers.len() >= REMEMBERED_NUMBERS {
            numbers.clear();
        }
        numbers.push((phone_number_id.to_owned(), hash.clone()));
        hash
    }

    /// For events without a message id (user_preferences, account signals): a stable hash of
    /// their identifying parts, so redeliveries land on the same key.
    pub fn event(&self, parts: &[&str]) -> String {
        self.hash("event", &parts.join("\0"))
    }
}

pub fn contact_prefix(c: &ContactKey) -> String {
    ["c:", &c.0, ":"].concat()
}

pub fn message_record(c: &ContactKey, m: &MessageKey) -> String {
    ["c:", &c.0, ":m:", &m.0].concat()
}

/// One key per (message, status): statuses never overwrite each other, so an out-of-order
/// `delivered` cannot replace `read`, and a duplicate rewrites the same key with the same value.
pub fn status_record(c: &ContactKey, m: &MessageKey, status: &str) -> String {
    let status: String = status
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(32)
        .collect();
    ["c:", &c.0, ":s:", &m.0, ":", &status].concat()
}

/// Per-contact sending state (window, pacing, cooldown): under the contact prefix, so erased.
pub fn contact_state(c: &ContactKey) -> String {
    ["c:", &c.0, ":state"].concat()
}

pub fn dedupe_message(m: &MessageKey) -> String {
    ["d:m:", &m.0].concat()
}

pub fn consent(c: &ContactKey) -> String {
    [CONSENT_PREFIX, &c.0].concat()
}

/// Every consent record (the home's and its linked ids' copies) lists under this prefix.
pub const CONSENT_PREFIX: &str = "consent:";

pub const ACCOUNT_PREFIX: &str = "a:";

/// A console session that was signed out, by a keyed hash of its nonce: it is refused until it
/// would have expired anyway.
pub fn ended_session(keys: &KeyScheme, nonce: &str) -> String {
    ["se:", &keys.event(&["console session", nonce])].concat()
}

/// What the worker learned of a template (its category), by a hash of its name.
pub fn template(keys: &KeyScheme, name: &str) -> String {
    ["tc:", &keys.event(&["template", name])].concat()
}

/// An account signal: `kind` is `SignalKind::key_kind`, `id` a keyed hash of what identifies it,
/// so redeliveries land on the same key.
pub fn account_signal(kind: &str, id: &str) -> String {
    [ACCOUNT_PREFIX, kind, ":", id].concat()
}

/// What a key is, from its layout above (for stores that route or keep keys by kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `consent:{contact}`
    Consent,
    /// `c:{contact}:state`
    ContactState,
    /// `c:{contact}:m:…` and `c:{contact}:s:…`: message and status records.
    ContactRecord,
    /// `d:…`: dedupe markers.
    Dedupe,
    /// `a:…`
    AccountSignal,
    Other,
}

pub fn kind_of(key: &str) -> KeyKind {
    if key.starts_with(CONSENT_PREFIX) {
        KeyKind::Consent
    } else if key.starts_with("d:") {
        KeyKind::Dedupe
    } else if key.starts_with(ACCOUNT_PREFIX) {
        KeyKind::AccountSignal
    } else if key.starts_with("c:") && key.ends_with(":state") {
        KeyKind::ContactState
    } else if key.starts_with("c:") {
        KeyKind::ContactRecord
    } else {
        KeyKind::Other
    }
}

/// Parsed back from a listed key under `c:{contact}:`.
pub enum ContactKeyKind<'a> {
    Message(&'a str),
    Status { message: &'a str, status: &'a str },
    Other,
}

pub fn classify_contact_key<'a>(prefix: &str, key: &'a str) -> ContactKeyKind<'a> {
    let Some(rest) = key.strip_prefix(prefix) else {
        return ContactKeyKind::Other;
    };
    if let Some(m) = rest.strip_prefix("m:") {
        return ContactKeyKind::Message(m);
    }
    if let Some((message, status)) = rest.strip_prefix("s:").and_then(|s| s.split_once(':')) {
        return ContactKeyKind::Status { message, status };
    }
    ContactKeyKind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_no_identifiers() {
        let keys = KeyScheme::new("secret");
        let wa = WaId::new("15551234567");
        let id = MessageId::new("wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQTdBRjA=");
        let c = keys.contact(&wa);
        let m = keys.message(&id);
        for key in [
            message_record(&c, &m),
            status_record(&c, &m, "read"),
            dedupe_message(&m),
            consent(&c),
        ] {
            assert!(!key.contains("15551234567"), "{key}");
            assert!(!key.contains("wamid"), "{key}");
            assert!(key.len() < 512);
        }
        assert_ne!(keys.contact(&wa), KeyScheme::new("other").contact(&wa));
        assert_eq!(keys.contact(&wa), KeyScheme::new("secret").contact(&wa));
    }

    #[test]
    fn a_contact_key_is_the_same_bytes_as_ever() {
        // HMAC-SHA256("secret", "contact\0" + number), first 16 bytes, as computed elsewhere
        // (Python's hmac): existing KV keys and Durable Object names depend on it.
        let keys = KeyScheme::new("secret");
        assert_eq!(
            keys.contact(&WaId::new("15551234567")).0,
            "2eb2596867cd31836f24415799a9d7a4"
        );
    }

    #[test]
    fn a_numbers_hash_is_its_event_hash_remembered_or_not() {
        // Its pause's KV key and its authority's name were built from `event` before numbers
        // were remembered: the bytes must not change, first time, remembered, or forgotten.
        let keys = KeyScheme::new("secret");
        let expected = "4b0b923f87b5a06dd1826dabf9727652";
        assert_eq!(keys.event(&["106540352242922"]), expected);
        for round in 0..2 {
            assert_eq!(keys.number("106540352242922"), expected, "round {round}");
            // More numbers than are remembered: the memory starts again, the hashes stay.
            for n in 0..REMEMBERED_NUMBERS + 1 {
                let id = format!("1065403522{n:05}");
                assert_eq!(keys.number(&id), keys.event(&[&id]));
            }
        }
        assert_ne!(KeyScheme::new("other").number("106540352242922"), expected);
    }

    #[test]
    fn every_key_builder_is_recognised_by_its_kind() {
        let keys = KeyScheme::new("s");
        let c = keys.contact(&WaId::new("1"));
        let m = keys.message(&MessageId::new("x"));
        assert_eq!(kind_of(&consent(&c)), KeyKind::Consent);
        assert_eq!(kind_of(&contact_state(&c)), KeyKind::ContactState);
        assert_eq!(kind_of(&message_record(&c, &m)), KeyKind::ContactRecord);
        assert_eq!(
            kind_of(&status_record(&c, &m, "read")),
            KeyKind::ContactRecord
        );
        assert_eq!(kind_of(&dedupe_message(&m)), KeyKind::Dedupe);
        assert_eq!(
            kind_of(&account_signal("pause", "h")),
            KeyKind::AccountSignal
        );
        assert_eq!(kind_of("seeded"), KeyKind::Other);
    }

    #[test]
    fn status_names_are_sanitised() {
        let keys = KeyScheme::new("s");
        let c = keys.contact(&WaId::new("1"));
        let m = keys.message(&MessageId::new("x"));
        assert!(status_record(&c, &m, "we:ird/status").ends_with(":weirdstatus"));
    }
}
