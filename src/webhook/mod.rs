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
use crate::time::{deserialize_meta_time, UnixTime};
use account::{
    AccountAlert, AccountUpdate, Field, PhoneQualityUpdate, TemplateCategoryUpdate,
    TemplateQualityUpdate, TemplateStatusUpdate, UserPreference,
};
use lenient::{describe, items, Item, WithRaw};
use message::{Message, MetaError};
use serde::Deserialize;
use serde_json::value::RawValue;
use status::Status;

#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// Not JSON, or not an object with `entry`: acknowledged (Meta would retry it forever) but unused.
    NotAnEnvelope(String),
}

#[derive(Deserialize)]
struct Envelope<'a> {
    object: Option<String>,
    #[serde(borrow, default, deserialize_with = "items")]
    entry: Vec<Item<Entry<'a>>>,
}

#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(default, deserialize_with = "deserialize_meta_time")]
    time: Option<UnixTime>,
    #[serde(borrow, default, deserialize_with = "items")]
    changes: Vec<Item<Change<'a>>>,
}

#[derive(Deserialize)]
struct Change<'a> {
    field: Option<String>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct Metadata {
    phone_number_id: Option<PhoneNumberId>,
}

/// What a person shows of themselves in `contacts[].profile`: kept with their messages, under
/// the same retention.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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

#[derive(Deserialize)]
struct MessagesValue {
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default, deserialize_with = "items")]
    contacts: Vec<Item<ContactCard>>,
    #[serde(default, deserialize_with = "items")]
    messages: Vec<Item<WithRaw<Message>>>,
    #[serde(default, deserialize_with = "items")]
    statuses: Vec<Item<WithRaw<Status>>>,
    #[serde(default, deserialize_with = "items")]
    errors: Vec<Item<MetaError>>,
}

#[derive(Deserialize)]
struct PreferencesValue {
    #[serde(default, deserialize_with = "items")]
    user_preferences: Vec<Item<WithRaw<UserPreference>>>,
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

/// Parses a verified body into events, in payload order.
pub fn parse(body: &[u8]) -> Result<Vec<Event>, ParseError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| ParseError::NotAnEnvelope(describe(&e)))?;
    if envelope
        .object
        .as_deref()
        .is_some_and(|o| o != "whatsapp_business_account")
    {
        return Ok(vec![Event::Unknown {
            field: format!("object:{}", envelope.object.unwrap_or_default()),
        }]);
    }
    let mut events = Vec::new();
    for entry in envelope.entry {
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
        for change in entry.changes {
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
    let Some(value) = change.value else {
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
        match serde_json::from_str::<T>(value.get()) {
            Ok(v) => Some(v),
            Err(e) => {
                out.push(Event::Invalid {
                    field: field.to_string(),
                    reason: describe(&e),
                });
                None
            }
        }
    }
    match field {
        Field::Messages => {
            if let Some(v) = typed::<MessagesValue>(value, &field_name, out) {
                flatten_messages(v, &field_name, at, out);
            }
        }
        Field::UserPreferences => {
            if let Some(v) = typed::<PreferencesValue>(value, &field_name, out) {
                for item in v.user_preferences {
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

fn flatten_messages(v: MessagesValue, field: &str, at: Option<UnixTime>, out: &mut Vec<Event>) {
    let phone_number_id = v.metadata.and_then(|m| m.phone_number_id);
    let cards: Vec<ContactCard> = v
        .contacts
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
    for item in v.messages {
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
    for item in v.statuses {
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
    for item in v.errors {
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
