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
use crate::json::{from_json, object, FromJson, Object, ShapeError, Value};
use crate::time::{MetaTimeField, UnixTime};
use account::{
    AccountAlert, AccountUpdate, Field, PhoneQualityUpdate, TemplateCategoryUpdate,
    TemplateQualityUpdate, TemplateStatusUpdate, UserPreference,
};
use lenient::{items, items_by, Item, WithRaw};
use message::{Message, MetaError};
use status::Status;

#[derive(Debug, Clone, PartialEq)]
pub enum ParseError {
    /// Not JSON, or not an object with `entry`: acknowledged (Meta would retry it forever) but unused.
    NotAnEnvelope(String),
}

/// What a person shows of themselves in `contacts[].profile`: kept with their messages, under
/// the same retention.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub name: Option<String>,
    /// Their WhatsApp username (since 2026), for people who may share no phone number.
    pub username: Option<String>,
}
from_json!(Profile {
    name: opt,
    username: opt,
});

/// `contacts[]`: the ids Meta knows one person by in this item, and their profile.
struct ContactCard {
    wa_id: Option<WaId>,
    user_id: Option<WaId>,
    parent_user_id: Option<WaId>,
    profile: Option<Profile>,
}
from_json!(ContactCard {
    wa_id: opt,
    user_id: opt,
    parent_user_id: opt,
    profile: opt,
});

impl ContactCard {
    fn ids(&self) -> impl Iterator<Item = &WaId> {
        [&self.wa_id, &self.user_id, &self.parent_user_id]
            .into_iter()
            .flatten()
    }
}

#[derive(Default)]
struct Metadata {
    phone_number_id: Option<PhoneNumberId>,
}
from_json!(Metadata {
    phone_number_id: opt
});

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
    let not_envelope = |e: &dyn std::fmt::Display| ParseError::NotAnEnvelope(e.to_string());
    let root = crate::json::parse_bytes(body).map_err(|e| not_envelope(&e))?;
    let envelope = object(&root).map_err(|e| not_envelope(&e))?;
    let kind: Option<String> = envelope.opt("object").map_err(|e| not_envelope(&e))?;
    if kind
        .as_deref()
        .is_some_and(|o| o != "whatsapp_business_account")
    {
        return Ok(vec![Event::Unknown {
            field: format!("object:{}", kind.unwrap_or_default()),
        }]);
    }
    let mut events = Vec::new();
    for entry in items_by(envelope, "entry", Entry::read) {
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
        for change in items_by(entry.object, "changes", Change::read) {
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

/// `entry[]`: its time, and its object (whose `changes` are read next).
struct Entry<'v, 'a> {
    time: Option<UnixTime>,
    object: &'v Object<'a>,
}

/// `changes[]`: which field, and its value (read by the field's type).
struct Change<'v, 'a> {
    field: Option<String>,
    value: Option<&'v Value<'a>>,
}

impl<'v, 'a> Entry<'v, 'a> {
    fn read(value: &'v Value<'a>) -> Result<Self, ShapeError> {
        let object = object(value)?;
        Ok(Entry {
            time: object.meta_time("time")?,
            object,
        })
    }
}

impl<'v, 'a> Change<'v, 'a> {
    fn read(value: &'v Value<'a>) -> Result<Self, ShapeError> {
        let o = object(value)?;
        Ok(Change {
            field: o.opt("field")?,
            value: o.get("value").filter(|v| !v.is_null()),
        })
    }
}

fn flatten_change(change: Change<'_, '_>, at: Option<UnixTime>, out: &mut Vec<Event>) {
    let field_name = change.field.unwrap_or_default();
    let field = Field::from(field_name.as_str());
    let Some(value) = change.value else {
        out.push(Event::Invalid {
            field: field_name,
            reason: "no value".into(),
        });
        return;
    };
    fn typed<'a, T: FromJson<'a>>(
        value: &Value<'a>,
        field: &str,
        out: &mut Vec<Event>,
    ) -> Option<T> {
        match T::from_json(value) {
            Ok(v) => Some(v),
            Err(e) => {
                out.push(Event::Invalid {
                    field: field.to_string(),
                    reason: e.to_string(),
                });
                None
            }
        }
    }
    match field {
        Field::Messages => match object(value).and_then(|v| Ok((v, v.opt("metadata")?))) {
            Ok((v, metadata)) => flatten_messages(v, metadata, &field_name, at, out),
            Err(e) => out.push(Event::Invalid {
                field: field_name.clone(),
                reason: e.to_string(),
            }),
        },
        Field::UserPreferences => match object(value) {
            Ok(v) => {
                for item in items::<WithRaw<UserPreference>>(v, "user_preferences") {
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
            Err(e) => out.push(Event::Invalid {
                field: field_name.clone(),
                reason: e.to_string(),
            }),
        },
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

fn flatten_messages(
    v: &Object<'_>,
    metadata: Option<Metadata>,
    field: &str,
    at: Option<UnixTime>,
    out: &mut Vec<Event>,
) {
    let phone_number_id = metadata.and_then(|m| m.phone_number_id);
    let cards: Vec<ContactCard> = items::<ContactCard>(v, "contacts")
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
    for item in items::<WithRaw<Message>>(v, "messages") {
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
    for item in items::<WithRaw<Status>>(v, "statuses") {
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
    for item in items::<MetaError>(v, "errors") {
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
