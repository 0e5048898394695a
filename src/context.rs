//! What every decision about stored data needs: the store, the key scheme, the configuration and
//! the time, passed down together. The core never reads a clock, env or secret itself.

use crate::config::Config;
use crate::ids::WaId;
use crate::store::contact_state::{self, ContactState};
use crate::store::keys::{ContactKey, KeyScheme};
use crate::store::kv::KvError;
use crate::store::Put;
use crate::time::UnixTime;

pub struct Ctx<'a, K> {
    pub kv: &'a K,
    pub keys: &'a KeyScheme,
    pub config: &'a Config,
    pub now: UnixTime,
    /// Inside a person's authority: the person every id of the delivery belongs to (their
    /// linked ids resolve here). Elsewhere each id is its own key.
    pub person: Option<ContactKey>,
}

impl<'a, K> Ctx<'a, K> {
    pub fn new(kv: &'a K, keys: &'a KeyScheme, config: &'a Config, now: UnixTime) -> Self {
        Ctx {
            kv,
            keys,
            config,
            now,
            person: None,
        }
    }

    /// The same, deciding for one person whatever id their events carry.
    pub fn for_person(mut self, person: ContactKey) -> Self {
        self.person = Some(person);
        self
    }

    /// The key a contact's records, state and consent live under.
    pub fn contact(&self, wa: &WaId) -> ContactKey {
        match &self.person {
            Some(person) => person.clone(),
            None => self.keys.contact(wa),
        }
    }
}

impl<K> Ctx<'_, K> {
    /// The write of a contact's sending state, kept as long as the configured cooldown and
    /// retention say (`policy::retention`).
    pub fn state_put(&self, contact: &ContactKey, state: &ContactState) -> Result<Put, KvError> {
        let cooldown = self.config.replies.cooldown_secs;
        let expires = state.expires(self.now, cooldown, self.config.retention_days);
        contact_state::put(contact, state, expires)
    }
}
