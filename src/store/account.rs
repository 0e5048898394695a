//! Account-level signals under `a:`: template and quality updates, account updates and alerts,
//! webhook errors, the 131048 pause and token problems. One enum owns, for each kind, its key
//! kind, the `kind` in its JSON and the group `GET /v1/account` shows it under.

use crate::ids::PhoneNumberId;
use crate::serde_ext::RawJson;
use crate::store::keys::{self, KeyScheme};
use crate::store::kv::{list_all, Kv, KvError};
use crate::store::{Put, RecordMeta};
use crate::time::UnixTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// Meta's 131048: automatic sending from a number is paused until a person resumes it.
    Pause,
    /// Meta reported a number flagged, of low quality, or restricted: marketing sends pause
    /// until a person resumes them (replies and utility messages go on).
    MarketingPause,
    TokenProblem,
    /// The new-number budget a number's authority has handed out today (`RAMP_DAILY_LIMIT`).
    RampBudget,
    PhoneQuality,
    TemplateStatus,
    TemplateQuality,
    AccountUpdate,
    AccountAlert,
    Error,
}

impl SignalKind {
    /// In the order `GET /v1/account` lists the groups: what stops sending first.
    pub const ALL: [SignalKind; 10] = [
        SignalKind::Pause,
        SignalKind::MarketingPause,
        SignalKind::TokenProblem,
        SignalKind::RampBudget,
        SignalKind::PhoneQuality,
        SignalKind::TemplateStatus,
        SignalKind::TemplateQuality,
        SignalKind::AccountUpdate,
        SignalKind::AccountAlert,
        SignalKind::Error,
    ];

    /// The kind's part of the KV key (`a:{key_kind}:{id}`).
    pub fn key_kind(self) -> &'static str {
        match self {
            SignalKind::Pause => "pause",
            SignalKind::MarketingPause => "marketing_pause",
            SignalKind::TokenProblem => "token",
            SignalKind::RampBudget => "ramp",
            SignalKind::PhoneQuality => "quality",
            SignalKind::TemplateStatus => "template",
            SignalKind::TemplateQuality => "template_quality",
            SignalKind::AccountUpdate => "update",
            SignalKind::AccountAlert => "alert",
            SignalKind::Error => "error",
        }
    }

    /// The `kind` field of the stored JSON.
    pub fn json_kind(self) -> &'static str {
        match self {
            SignalKind::Pause => "pause",
            SignalKind::MarketingPause => "marketing_pause",
            SignalKind::TokenProblem => "token_problem",
            SignalKind::RampBudget => "ramp_budget",
            SignalKind::PhoneQuality => "phone_quality",
            SignalKind::TemplateStatus => "template_status",
            SignalKind::TemplateQuality => "template_quality",
            SignalKind::AccountUpdate => "account_update",
            SignalKind::AccountAlert => "account_alert",
            SignalKind::Error => "error",
        }
    }

    /// The group of `GET /v1/account`'s answer.
    pub fn group(self) -> &'static str {
        match self {
            SignalKind::Pause => "paused",
            SignalKind::MarketingPause => "marketing_paused",
            SignalKind::TokenProblem => "token_problems",
            SignalKind::RampBudget => "ramp_budget",
            SignalKind::PhoneQuality => "quality",
            SignalKind::TemplateStatus => "templates",
            SignalKind::TemplateQuality => "template_quality",
            SignalKind::AccountUpdate => "account_updates",
            SignalKind::AccountAlert => "alerts",
            SignalKind::Error => "errors",
        }
    }

    /// A stored signal's kind from its JSON; anything unrecognised is shown with the errors.
    pub fn from_json_kind(kind: Option<&str>) -> SignalKind {
        SignalKind::ALL
            .into_iter()
            .find(|k| Some(k.json_kind()) == kind)
            .unwrap_or(SignalKind::Error)
    }
}

/// One signal to store: `identity` are the parts that make a redelivery land on the same key;
/// `fields` the JSON object shown, to which `kind` and `at` are added.
pub struct Signal {
    pub kind: SignalKind,
    pub identity: Vec<String>,
    pub at: UnixTime,
    pub fields: Fields,
}

/// A signal's own fields, as stored.
pub type Fields = serde_json::Map<String, serde_json::Value>;

/// The fields of an object written with `json!` (anything else has none).
pub fn object(value: serde_json::Value) -> Fields {
    match value {
        serde_json::Value::Object(fields) => fields,
        _ => Fields::new(),
    }
}

impl Signal {
    /// For a pause the identity is the phone number id alone, so this is `keys::pause`.
    pub fn key(&self, keys: &KeyScheme) -> String {
        let parts: Vec<&str> = self.identity.iter().map(String::as_str).collect();
        keys::account_signal(self.kind.key_kind(), &keys.event(&parts))
    }

    /// The write; `expires` is `None` only for a pause, which lasts until a person lifts it.
    pub fn put(&self, keys: &KeyScheme, expires: Option<UnixTime>) -> Result<Put, KvError> {
        let mut value = self.fields.clone();
        value.insert("kind".into(), self.kind.json_kind().into());
        value.insert("at".into(), self.at.0.into());
        Put::json(
            self.key(keys),
            &value,
            expires,
            Some(RecordMeta::at(self.at)),
        )
    }
}

/// The most account signals shown (newest first).
pub const MAX_ACCOUNT_SIGNALS: usize = 200;

/// The newest signals, grouped by kind in `SignalKind::ALL` order. Unreadable values are skipped:
/// they are informational, and one bad record must not hide the rest.
pub async fn load_grouped<K: Kv>(kv: &K) -> Result<Vec<(SignalKind, Vec<RawJson>)>, KvError> {
    // Each key's time read once (it is a small JSON text), then sorted by it.
    let mut listed: Vec<(u64, String)> = list_all(kv, keys::ACCOUNT_PREFIX)
        .await?
        .into_iter()
        .map(|k| (RecordMeta::time_of(k.metadata.as_ref()), k.name))
        .collect();
    listed.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    listed.truncate(MAX_ACCOUNT_SIGNALS);
    let names: Vec<String> = listed.into_iter().map(|(_, name)| name).collect();
    let values = kv.get_many(&names).await?;
    let mut groups: Vec<(SignalKind, Vec<RawJson>)> =
        SignalKind::ALL.iter().map(|k| (*k, Vec::new())).collect();
    for value in values.into_iter().flatten() {
        #[derive(serde::Deserialize)]
        struct Kind<'a> {
            #[serde(borrow)]
            kind: Option<std::borrow::Cow<'a, str>>,
        }
        let Ok(signal) = crate::serde_ext::from_str::<Kind<'_>>(&value) else {
            continue;
        };
        let kind = SignalKind::from_json_kind(signal.kind.as_deref());
        let Some(raw) = RawJson::parse(&value) else {
            continue;
        };
        if let Some((_, list)) = groups.iter_mut().find(|(k, _)| *k == kind) {
            list.push(raw);
        }
    }
    Ok(groups)
}

/// The pause of one business number after Meta's 131048. A missing number id (a status without
/// metadata) pauses the empty id, which `GET /v1/account` shows and a resume lifts like any.
pub fn pause_key(keys: &KeyScheme, phone_number_id: Option<&PhoneNumberId>) -> String {
    let id = phone_number_id.map(|p| p.as_str()).unwrap_or("");
    keys::account_signal(SignalKind::Pause.key_kind(), &keys.number(id))
}

/// Is automatic sending from this number paused (131048)?
pub async fn is_paused<K: Kv>(
    kv: &K,
    keys: &KeyScheme,
    phone_number_id: Option<&PhoneNumberId>,
) -> Result<bool, KvError> {
    Ok(kv.get(&pause_key(keys, phone_number_id)).await?.is_some())
}

/// The numbers paused now, as their signals name them.
pub async fn paused_numbers<K: Kv>(kv: &K) -> Result<Vec<PhoneNumberId>, KvError> {
    let prefix = keys::account_signal(SignalKind::Pause.key_kind(), "");
    let names: Vec<String> = list_all(kv, &prefix)
        .await?
        .into_iter()
        .map(|k| k.name)
        .collect();
    let values = kv.get_many(&names).await?;
    Ok(values
        .into_iter()
        .flatten()
        .filter_map(|v| {
            #[derive(serde::Deserialize)]
            struct Paused {
                phone_number_id: Option<PhoneNumberId>,
            }
            crate::serde_ext::from_str::<Paused>(&v)
                .ok()?
                .phone_number_id
        })
        .collect())
}

/// The one marketing pause of the account (Meta names numbers in quality webhooks by their
/// display number, not their id, so the pause covers every number of the account).
pub fn marketing_pause_key(keys: &KeyScheme) -> String {
    keys::account_signal(
        SignalKind::MarketingPause.key_kind(),
        &keys.event(&["marketing"]),
    )
}

/// Lifts every pause, the 131048 pauses and the marketing pause; returns how many there were.
pub async fn resume_all<K: Kv>(kv: &K) -> Result<usize, KvError> {
    let mut lifted = 0;
    for kind in [SignalKind::Pause, SignalKind::MarketingPause] {
        let prefix = keys::account_signal(kind.key_kind(), "");
        let paused = list_all(kv, &prefix).await?;
        for key in &paused {
            kv.delete(&key.name).await?;
        }
        lifted += paused.len();
    }
    Ok(lifted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_signal_lands_on_the_pause_key() {
        let keys = KeyScheme::new("s");
        let pnid = PhoneNumberId::new("106540352242922");
        let signal = Signal {
            kind: SignalKind::Pause,
            identity: vec![pnid.as_str().to_string()],
            at: UnixTime(1),
            fields: Fields::new(),
        };
        assert_eq!(signal.key(&keys), pause_key(&keys, Some(&pnid)));
    }

    #[test]
    fn every_kind_round_trips_through_its_json_kind() {
        for kind in SignalKind::ALL {
            assert_eq!(SignalKind::from_json_kind(Some(kind.json_kind())), kind);
        }
        assert_eq!(SignalKind::from_json_kind(Some("new")), SignalKind::Error);
    }
}
