//! What every decision about stored data needs: the store, the key scheme, the configuration and
//! the time, passed down together. The core never reads a clock, env or secret itself.

use crate::config::Config;
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
}

impl<'a, K> Ctx<'a, K> {
    pub fn new(kv: &'a K, keys: &'a KeyScheme, config: &'a Config, now: UnixTime) -> Self {
        Ctx {
            kv,
            keys,
            config,
            now,
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
