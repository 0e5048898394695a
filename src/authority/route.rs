//! The worker's side: which events of a delivery belong to a person (their messages, their
//! failed statuses, their marketing preferences), and each person's part in Meta's own envelope,
//! so their authority parses and decides it with the same code. Everything else (statuses that
//! change nothing, account signals) is stored by the worker directly.

use crate::authority::outbox::key_of_callback;
use crate::ids::{IdKind, PhoneNumberId, WaId};
use crate::store::keys::{ContactKey, KeyScheme};
use crate::webhook::identity::ids_of;
use crate::webhook::status::{Status, StatusKind};
use crate::webhook::{Event, Profile};

/// One person's part of a delivery: every id it names (hashed), and its changes.
#[derive(Debug, Default)]
pub struct PersonPart {
    /// The keys of every id this part names (phone numbers, BSUIDs, parent BSUIDs), sorted.
    pub ids: Vec<ContactKey>,
    /// Changes in payload order, with their position in the delivery.
    changes: Vec<(usize, String)>,
}

impl PersonPart {
    /// The authority tried first: the smallest key, which is the person's home whenever their
    /// ids were first linked together (`identity`).
    pub fn first(&self) -> Option<&ContactKey> {
        self.ids.first()
    }

    /// The part as a delivery body in Meta's shape.
    pub fn body(&self) -> String {
        let mut parts =
            vec![r#"{"object":"whatsapp_business_account","entry":[{"id":"authority","changes":["#];
        for (i, (_, change)) in self.changes.iter().enumerate() {
            if i > 0 {
                parts.push(",");
            }
            parts.push(change);
        }
        parts.push("]}]}");
        parts.concat()
    }
}

/// A delivery split: each person's part (events sharing any id are one person), and the rest.
pub struct Split {
    pub persons: Vec<PersonPart>,
    pub rest: Vec<Event>,
}

/// The `contacts[]` card the authority sees: every id of the person, and the profile.
/// The first id of each kind goes in its field (`ids_of` lists phone numbers first).
fn card(ids: &[WaId], profile: Option<&Profile>) -> String {
    let mut card = serde_json::Map::new();
    for kind in [IdKind::Phone, IdKind::Bsuid, IdKind::ParentBsuid] {
        let field = match kind {
            IdKind::Phone => "wa_id",
            IdKind::Bsuid => "user_id",
            IdKind::ParentBsuid => "parent_user_id",
        };
        if let Some(id) = ids.iter().find(|id| id.kind() == kind) {
            card.insert(field.into(), id.as_str().into());
        }
    }
    if let Some(p) = profile {
        let profile = serde_json::json!({"name": p.name, "username": p.username});
        card.insert("profile".into(), profile);
    }
    serde_json::Value::Object(card).to_string()
}

/// The change that carries one event to its person's authority, or `None` for events that
/// belong to no person.
fn person_change(event: &Event) -> Option<String> {
    let ids = ids_of(event);
    match event {
        Event::Message {
            phone_number_id,
            profile,
            raw,
            ..
        } => Some(
            [
                r#"{"field":"messages","value":{"metadata":{"phone_number_id":"#,
                &crate::serde_ext::to_string(phone_number_id),
                r#"},"contacts":["#,
                &card(&ids, Some(profile)),
                r#"],"messages":["#,
                raw,
                "]}}",
            ]
            .concat(),
        ),
        Event::Status {
            phone_number_id,
            status,
            raw,
            ..
        } if changes_person(status) => Some(
            [
                r#"{"field":"messages","value":{"metadata":{"phone_number_id":"#,
                &crate::serde_ext::to_string(phone_number_id),
                r#"},"contacts":["#,
                &card(&ids, None),
                r#"],"statuses":["#,
                raw,
                "]}}",
            ]
            .concat(),
        ),
        Event::UserPreference { raw, .. } => Some(
            [
                r#"{"field":"user_preferences","value":{"user_preferences":["#,
                raw,
                "]}}",
            ]
            .concat(),
        ),
        _ => None,
    }
    .filter(|_| !ids.is_empty())
}

/// A status the person's authority must see: a failure with Meta's errors (they change the
/// person's state), or the `sent` status of one of its own sends (it confirms a send that a
/// restart interrupted). Every other status is only stored.
fn changes_person(status: &Status) -> bool {
    let failed = status.status == Some(StatusKind::Failed) && !status.errors.is_empty();
    let ours = status
        .biz_opaque_callback_data
        .as_deref()
        .and_then(key_of_callback)
        .is_some();
    failed || (ours && status.status == Some(StatusKind::Sent))
}

pub fn split(keys: &KeyScheme, events: Vec<Event>) -> Split {
    let mut persons: Vec<PersonPart> = Vec::new();
    let mut rest = Vec::new();
    for (position, event) in events.into_iter().enumerate() {
        let Some(change) = person_change(&event) else {
            rest.push(event);
            continue;
        };
        let ids: Vec<ContactKey> = ids_of(&event).iter().map(|id| keys.contact(id)).collect();
        // Every part sharing an id with this event is the same person: they become one.
        let (same, others): (Vec<PersonPart>, Vec<PersonPart>) = persons
            .into_iter()
            .partition(|p| p.ids.iter().any(|k| ids.contains(k)));
        persons = others;
        let mut part = PersonPart::default();
        for p in same {
            part.ids.extend(p.ids);
            part.changes.extend(p.changes);
        }
        part.ids.extend(ids);
        part.ids.sort();
        part.ids.dedup();
        part.changes.push((position, change));
        part.changes.sort_by_key(|(at, _)| *at);
        persons.push(part);
    }
    Split { persons, rest }
}

/// The business numbers a person's messages were sent to (their pauses gate the replies).
pub fn numbers(events: &[Event]) -> Vec<PhoneNumberId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message {
                phone_number_id, ..
            } => phone_number_id.clone(),
            _ => None,
        })
        .collect()
}

/// The numbers that failed statuses report Meta's error `code` for.
pub fn numbers_failed_with(events: &[Event], code: i64) -> Vec<PhoneNumberId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Status {
                phone_number_id,
                status,
                ..
            } if status.status == Some(StatusKind::Failed)
                && status.errors.iter().any(|e| e.code == code) =>
            {
                phone_number_id.clone()
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::payloads::{messages_delivery, status, statuses_delivery, text_message};

    #[test]
    fn each_person_gets_their_own_events_in_metas_shape() {
        let keys = KeyScheme::new("k");
        let mut body: serde_json::Value = serde_json::from_str(&messages_delivery(
            "PNID",
            "111",
            "Ann",
            &[text_message("111", "wamid.A", 1, "STOP")],
        ))
        .unwrap();
        let other = text_message("222", "wamid.B", 2, "hi");
        body["entry"][0]["changes"][0]["value"]["messages"]
            .as_array_mut()
            .unwrap()
            .push(other);
        let events = crate::webhook::parse(body.to_string().as_bytes()).unwrap();
        let split = split(&keys, events);
        assert!(split.rest.is_empty());
        assert_eq!(split.persons.len(), 2);
        let ann_key = keys.contact(&WaId::new("111"));
        let ann = split
            .persons
            .iter()
            .find(|p| p.ids == [ann_key.clone()])
            .unwrap();
        let events = crate::webhook::parse(ann.body().as_bytes()).unwrap();
        assert_eq!(events.len(), 1);
        let Event::Message {
            message,
            profile,
            phone_number_id,
            ..
        } = &events[0]
        else {
            panic!("{events:?}")
        };
        assert_eq!(message.content().typed_text(), Some("STOP"));
        assert_eq!(profile.name.as_deref(), Some("Ann"));
        assert_eq!(phone_number_id.as_ref().map(|p| p.as_str()), Some("PNID"));
    }

    #[test]
    fn statuses_that_change_nothing_stay_with_the_worker() {
        let keys = KeyScheme::new("k");
        let body = statuses_delivery(
            "PNID",
            &[
                status("wamid.1", "delivered", 1, "111", None),
                status("wamid.2", "failed", 1, "111", Some(131026)),
            ],
        );
        let split = split(&keys, crate::webhook::parse(body.as_bytes()).unwrap());
        assert_eq!(split.rest.len(), 1);
        assert_eq!(
            split.persons.iter().map(|p| p.changes.len()).sum::<usize>(),
            1
        );
    }
}
