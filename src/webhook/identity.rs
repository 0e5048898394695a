//! Which ids of one person an event shows: its own fields (`from`, `from_user_id`,
//! `from_parent_user_id`; `recipient_id`, `recipient_user_id`, `parent_recipient_user_id`; the ids
//! a number or BSUID change announces) and its `contacts[]` card. Everything in one list is the
//! same person; `authority::identity` links them.

use super::Event;
use crate::ids::WaId;

/// The person's ids in this event, phone numbers first, each once. Empty for events of no person.
pub fn ids_of(event: &Event) -> Vec<WaId> {
    let (own, linked): (Vec<&WaId>, &[WaId]) = match event {
        Event::Message {
            message, linked, ..
        } => (message.own_ids(), linked),
        Event::Status { status, linked, .. } => (status.own_ids(), linked),
        Event::UserPreference { preference, .. } => (preference.own_ids(), &[]),
        _ => return Vec::new(),
    };
    let mut ids: Vec<WaId> = Vec::new();
    for id in own.into_iter().chain(linked.iter()) {
        if !id.as_str().is_empty() && !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    // Stable: phone numbers, then BSUIDs, then parent BSUIDs, each in the order seen.
    ids.sort_by_key(WaId::kind);
    ids
}
