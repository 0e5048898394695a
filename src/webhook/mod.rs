//! Meta's webhook payloads, parsed leniently and flattened into one event per item.
//!
//! `object → entry[] → changes[] → value`, where `value`'s shape depends on `field`. Every entry,
//! change and item is visited (never only `[0]`); an item that does not parse becomes
//! `Event::Invalid` and its neighbours still count; an unknown field becomes `Event::Unknown`.

pub mod account;
pub mod handshake;
pub mod identity;
pub mod lenient;
pub mod message;
pub mod signature;
pub mod status;

use crate::ids::{PhoneNumberId, WaId};
use crate::time::UnixTime;
use account::{
    AccountAlert, AccountUpdate, Field, PhoneQualityUpdate, TemplateCategoryUpdate,
    TemplateQualityUpdate, TemplateStatusUpdate, UserPreference,
};
use lenient::{items, items_with_raw, read, Item, WithRaw};
use message::{Message, MetaError};
use serde::Deserialize;
use serde_json::value::RawValue;
use status::Status;
use std::borrow::Cow;

#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// Not JSON, or not an object with `entry`: acknowledged (Meta would retry it forever) but unused.
    NotAnEnvelope(String),
}

/// What a person shows of themselves in `contacts[].profile`: kept with their messages, under
/// the same retention.
#[derive(Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub name: Option<String>,
    /// Their WhatsApp username (since 2026), for people who may share no phone number.
    pub username: Option<String>,
}

/// `contacts[]`: the ids Meta knows one person by in this item, and their profile.
#[derive(Deserialize)]
struct ContactCard {
    wa_id: Option<WaId>,
    user_id: Option<WaId>,
    parent_user_id: Option<WaId>,
    profile: Option<Profile>,
}

impl ContactCard {
    fn ids(&self) -> impl Iterator<Item = &WaId> {
        [&self.wa_id, &self.user_id, &self.parent_user_id]
            .into_iter()
            .flatten()
    }
}

#[derive(Deserialize, Default)]
struct Metadata {
    phone_number_id: Option<PhoneNumberId>,
}

/// One thing that happened, from one item of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Message {
        phone_number_id: Option<PhoneNumberId>,
        profile: Profile,
        /// The ids of the sender's `contacts[]` card (phone number, BSUID, parent BSUID).
        linked: Vec<WaId>,
        /// Boxed: a message is far larger than the other events.
        message: Box<Message>,
        /// The message's JSON as Meta sent it, handed on to the person's authority.
        raw: String,
    },
    Status {
        phone_number_id: Option<PhoneNumberId>,
        /// Boxed, like a message: far larger than the other events.
        status: Box<Status>,
        /// The ids of the recipient's `contacts[]` card, when the status carries one.
        linked: Vec<WaId>,
        raw: String,
    },
    /// `value.errors[]`: a problem Meta reports about the number or app, not one message.
    Error {
        phone_number_id: Option<PhoneNumberId>,
        error: MetaError,
        at: Option<UnixTime>,
    },
    UserPreference {
        preference: UserPreference,
        raw: String,
    },
    TemplateStatus {
        update: TemplateStatusUpdate,
        at: Option<UnixTime>,
    },
    TemplateCategory {
        update: TemplateCategoryUpdate,
        at: Option<UnixTime>,
    },
    TemplateQuality {
        update: TemplateQualityUpdate,
        at: Option<UnixTime>,
    },
    PhoneQuality {
        update: PhoneQualityUpdate,
        at: Option<UnixTime>,
    },
    AccountUpdate {
        update: AccountUpdate,
        at: Option<UnixTime>,
    },
    AccountAlert {
        alert: AccountAlert,
        at: Option<UnixTime>,
    },
    /// A field this version does not know: acknowledged, counted, not stored.
    Unknown { field: String },
    /// An item that did not parse. The reason names a position, never payload content.
    Invalid { field: String, reason: String },
}

/// The envelope: `object` and the raw `entry` array, each entry read on its own.
#[derive(Deserialize)]
struct Envelope<'a> {
    object: Option<Cow<'a, str>>,
    #[serde(borrow)]
    entry: Option<&'a RawValue>,
}

/// `entry[]`: its time, and its raw `changes` (each read next).
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(default, deserialize_with = "crate::serde_ext::meta_time")]
    time: Option<UnixTime>,
    #[serde(borrow)]
    changes: Option<&'a RawValue>,
}

/// `changes[]`: which field, and its raw value (read by the field's type).
#[derive(Deserialize)]
struct Change<'a> {
    field: Option<String>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

/// `value` of a `messages` change: its metadata and raw item arrays.
#[derive(Deserialize)]
struct MessagesValue<'a> {
    metadata: Option<Metadata>,
    #[serde(borrow)]
    contacts: Option<&'a RawValue>,
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
    #[serde(borrow)]
    statuses: Option<&'a RawValue>,
    #[serde(borrow)]
    errors: Option<&'a RawValue>,
}

/// `value` of a `user_preferences` change.
#[derive(Deserialize)]
struct PreferencesValue<'a> {
    #[serde(borrow)]
    user_preferences: Option<&'a RawValue>,
}

/// The envelope read in one pass, every entry and change at once: what a well-formed delivery
/// is, read without scanning the body once per level. Anything it does not fit goes through the
/// lenient reading, level by level.
#[derive(Deserialize)]
struct WholeEnvelope<'a> {
    #[serde(borrow)]
    object: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    entry: Vec<WholeEntry<'a>>,
}

#[derive(Deserialize)]
struct WholeEntry<'a> {
    #[serde(default, deserialize_with = "crate::serde_ext::meta_time")]
    time: Option<UnixTime>,
    #[serde(borrow, default)]
    changes: Vec<Change<'a>>,
}

/// A delivery about another kind of object than a WhatsApp account: acknowledged as unknown.
fn other_object(object: Option<&str>) -> Option<Vec<Event>> {
    let kind = object.filter(|o| *o != "whatsapp_business_account")?;
    Some(vec![Event::Unknown {
        field: format!("object:{kind}"),
    }])
}

/// Parses a verified body into events, in payload order.
pub fn parse(body: &[u8]) -> Result<Vec<Event>, ParseError> {
    let not_envelope = |e: &dyn std::fmt::Display| ParseError::NotAnEnvelope(e.to_string());
    // An object, not an array read field by field into the envelope.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(not_envelope(&"shape error: expected an object"));
    }
    if let Ok(whole) = crate::serde_ext::from_slice::<WholeEnvelope<'_>>(body) {
        if let Some(other) = other_object(whole.object.as_deref()) {
            return Ok(other);
        }
        let mut events = Vec::new();
        for entry in whole.entry {
            for change in entry.changes {
                flatten_change(change, entry.time, &mut events);
            }
        }
        return Ok(events);
    }
    let envelope: Envelope<'_> =
        crate::serde_ext::from_slice(body).map_err(|e| not_envelope(&e))?;
    if let Some(other) = other_object(envelope.object.as_deref()) {
        return Ok(other);
    }
    let mut events = Vec::new();
    for entry in items::<Entry<'_>>(envelope.entry, "entry") {
        let entry = match entry {
            Item::Ok(entry) => entry,
            Item::Invalid(reason) => {
                events.push(Event::Invalid {
                    field: "entry".into(),
                    reason,
                });
                continue;
            }
        };
        for change in items::<Change<'_>>(entry.changes, "changes") {
            match change {
                Item::Ok(change) => flatten_change(change, entry.time, &mut events),
                Item::Invalid(reason) => events.push(Event::Invalid {
                    field: "change".into(),
                    reason,
                }),
            }
        }
    }
    Ok(events)
}

fn flatten_change(change: Change<'_>, at: Option<UnixTime>, out: &mut Vec<Event>) {
    let field_name = change.field.unwrap_or_default();
    let field = Field::from(field_name.as_str());
    let Some(value) = change.value.filter(|v| v.get() != "null") else {
        out.push(Event::Invalid {
            field: field_name,
            reason: "no value".into(),
        });
        return;
    };
    fn typed<'a, T: Deserialize<'a>>(
        value: &'a RawValue,
        field: &str,
        out: &mut Vec<Event>,
    ) -> Option<T> {
        match read::<T>(value) {
            Item::Ok(v) => Some(v),
            Item::Invalid(reason) => {
                out.push(Event::Invalid {
                    field: field.to_string(),
                    reason,
                });
                None
            }
        }
    }
    match field {
        Field::Messages => {
            if let Some(v) = typed::<MessagesValue<'_>>(value, &field_name, out) {
                flatten_messages(v, &field_name, at, out);
            }
        }
        Field::UserPreferences => {
            if let Some(v) = typed::<PreferencesValue<'_>>(value, &field_name, out) {
                for item in items_with_raw::<UserPreference>(v.user_preferences, "user_preferences")
                {
                    out.push(match item {
                        Item::Ok(p) => Event::UserPreference {
                            preference: p.value,
                            raw: p.raw,
                        },
                        Item::Invalid(reason) => Event::Invalid {
                            field: field_name.clone(),
                            reason,
                        },
                    });
                }
            }
        }
        Field::TemplateStatus => {
            if let Some(update) = typed(value, &field_name, out) {
                out.push(Event::TemplateStatus { update, at });
            }
        }
        Field::TemplateCategory => {
            if let Some(update) = typed(value, &field_name, out) {
                out.push(Event::TemplateCategory { update, at });
            }
        }
        Field::TemplateQuality => {
            if let Some(update) = typed(value, &field_name, out) {
                out.push(Event::TemplateQuality { update, at });
            }
        }
        Field::PhoneQuality => {
            if let Some(update) = typed(value, &field_name, out) {
                out.push(Event::PhoneQuality { update, at });
            }
        }
        Field::AccountUpdate => {
            if let Some(update) = typed(value, &field_name, out) {
                out.push(Event::AccountUpdate { update, at });
            }
        }
        Field::AccountAlerts => {
            if let Some(alert) = typed(value, &field_name, out) {
                out.push(Event::AccountAlert { alert, at });
            }
        }
        Field::Other(_) => out.push(Event::Unknown { field: field_name }),
    }
}

fn flatten_messages(v: MessagesValue<'_>, field: &str, at: Option<UnixTime>, out: &mut Vec<Event>) {
    let phone_number_id = v.metadata.and_then(|m| m.phone_number_id);
    let cards: Vec<ContactCard> = items::<ContactCard>(v.contacts, "contacts")
        .into_iter()
        .filter_map(|c| match c {
            Item::Ok(card) => Some(card),
            Item::Invalid(_) => None,
        })
        .collect();
    // A card belongs to the item that shares one of its ids; never assume the first card.
    let card_of = |ids: &[&WaId]| cards.iter().find(|c| c.ids().any(|id| ids.contains(&id)));
    let linked_of = |card: Option<&ContactCard>| -> Vec<WaId> {
        card.map(|c| c.ids().cloned().collect()).unwrap_or_default()
    };
    for item in items_with_raw::<Message>(v.messages, "messages") {
        out.push(match item {
            Item::Ok(WithRaw { value, raw }) => {
                let card = card_of(&value.own_ids());
                Event::Message {
                    phone_number_id: phone_number_id.clone(),
                    profile: card.and_then(|c| c.profile.clone()).unwrap_or_default(),
                    linked: linked_of(card),
                    message: Box::new(value),
                    raw,
                }
            }
            Item::Invalid(reason) => Event::Invalid {
                field: format!("{field}.messages"),
                reason,
            },
        });
    }
    for item in items_with_raw::<Status>(v.statuses, "statuses") {
        out.push(match item {
            Item::Ok(WithRaw { value, raw }) => Event::Status {
                phone_number_id: phone_number_id.clone(),
                linked: linked_of(card_of(&value.own_ids())),
                status: Box::new(value),
                raw,
            },
            Item::Invalid(reason) => Event::Invalid {
                field: format!("{field}.statuses"),
                reason,
            },
        });
    }
    for item in items::<MetaError>(v.errors, "errors") {
        out.push(match item {
            Item::Ok(error) => Event::Error {
                phone_number_id: phone_number_id.clone(),
                error,
                at,
            },
            Item::Invalid(reason) => Event::Invalid {
                field: format!("{field}.errors"),
                reason,
            },
        });
    }
}
