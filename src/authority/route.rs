//! The worker's side: which events of a delivery belong to a person (their messages, their
//! failed statuses, their marketing preferences), and each person's part in Meta's own envelope,
//! so their authority parses and decides it with the same code. Everything else (statuses that
//! change nothing, account signals) is stored by the worker directly.

use crate::authority::outbox::key_of_callback;
use crate::ids::PhoneNumberId;
use crate::store::keys::{ContactKey, KeyScheme};
use crate::webhook::status::{Status, StatusKind};
use crate::webhook::Event;
use std::collections::BTreeMap;

/// A delivery split: each person's part (in payload order), and the rest.
pub struct Split {
    pub persons: BTreeMap<ContactKey, Vec<String>>,
    pub rest: Vec<Event>,
}

impl Split {
    /// One person's part as a delivery body in Meta's shape.
    pub fn body(changes: &[String]) -> String {
        format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"authority","changes":[{}]}}]}}"#,
            changes.join(",")
        )
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// The change that carries one event to its person's authority, or `None` for events that
/// belong to no person.
fn person_change(keys: &KeyScheme, event: &Event) -> Option<(ContactKey, String)> {
    match event {
        Event::Message {
            phone_number_id,
            profile_name,
            message,
            raw,
        } => {
            let sender = message.sender()?;
            let card = match profile_name {
                Some(name) => format!(
                    r#"{{"wa_id":{},"profile":{{"name":{}}}}}"#,
                    json(sender),
                    json(name)
                ),
                None => format!(r#"{{"wa_id":{}}}"#, json(sender)),
            };
            let change = format!(
                r#"{{"field":"messages","value":{{"metadata":{{"phone_number_id":{}}},"contacts":[{card}],"messages":[{raw}]}}}}"#,
                json(phone_number_id)
            );
            Some((keys.contact(sender), change))
        }
        Event::Status {
            phone_number_id,
            status,
            raw,
        } if changes_person(status) => {
            let recipient = status.recipient()?;
            let change = format!(
                r#"{{"field":"messages","value":{{"metadata":{{"phone_number_id":{}}},"statuses":[{raw}]}}}}"#,
                json(phone_number_id)
            );
            Some((keys.contact(recipient), change))
        }
        Event::UserPreference { preference, raw } => {
            let contact = preference.contact()?;
            let change =
                format!(r#"{{"field":"user_preferences","value":{{"user_preferences":[{raw}]}}}}"#);
            Some((keys.contact(contact), change))
        }
        _ => None,
    }
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
    let mut persons: BTreeMap<ContactKey, Vec<String>> = BTreeMap::new();
    let mut rest = Vec::new();
    for event in events {
        match person_change(keys, &event) {
            Some((contact, change)) => persons.entry(contact).or_default().push(change),
            None => rest.push(event),
        }
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
        let ann = &split.persons[&keys.contact(&crate::ids::WaId::new("111"))];
        let events = crate::webhook::parse(Split::body(ann).as_bytes()).unwrap();
        assert_eq!(events.len(), 1);
        let Event::Message {
            message,
            profile_name,
            phone_number_id,
            ..
        } = &events[0]
        else {
            panic!("{events:?}")
        };
        assert_eq!(message.content().typed_text(), Some("STOP"));
        assert_eq!(profile_name.as_deref(), Some("Ann"));
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
        assert_eq!(split.persons.values().map(Vec::len).sum::<usize>(), 1);
    }
}
