//! The consent ledger's rule: events decide in the person's own time order, whatever order they
//! arrive in (a late one is replayed in its place), a tie goes to the later arrival, a marketing
//! opt-out never loosens an opt-out of everything, and a redelivered change is recognised and
//! ignored.

use crate::store::consent::{ConsentChange, ConsentRecord, ConsentStatus, Scope, Source};
use crate::time::UnixTime;

/// The history kept per contact: enough evidence for an audit, bounded so the record stays small.
pub const MAX_HISTORY: usize = 50;

/// What applying a change did to the effective state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Already in the ledger (a redelivery): nothing changed.
    Duplicate,
    /// Older than the state in force: recorded as evidence only.
    Superseded,
    /// Applied; `changed` is whether the effective status or scope moved.
    Applied { changed: bool },
}

/// The same piece of evidence: a redelivery of it is not a new change.
fn same_change(a: &ConsentChange, b: &ConsentChange) -> bool {
    a.source == b.source
        && a.status == b.status
        && a.scope == b.scope
        && a.at == b.at
        && a.message_id == b.message_id
        && a.evidence == b.evidence
}

/// How strict a state in force is: an opt-out of everything, of marketing, or none.
fn strictness(record: &ConsentRecord) -> u8 {
    match (record.status, record.scope) {
        (ConsentStatus::OptedOut, Some(Scope::All)) => 2,
        (ConsentStatus::OptedOut, _) => 1,
        _ => 0,
    }
}

/// The evidence a merge records when it keeps an opt-out the replay alone would have lifted.
pub const LINK_EVIDENCE: &str = "opt-out in force under a linked id";

impl ConsentRecord {
    /// Unites the ledger of another id found to be the same person. Every change of both is
    /// replayed in the order of the person's own time, with the usual rules; then linking never
    /// loosens consent: if either side had an opt-out in force that the replay lifted (a START
    /// under one id after a STOP under another), the opt-out stays, recorded as a change of its
    /// own at the newest time either side knew, until the person acts again. A record already
    /// merged (no change of `other` is new here) is left as it is, so a repeat merge is a no-op.
    pub fn merge(&mut self, other: &ConsentRecord) {
        let known = |c: &ConsentChange| self.history.iter().any(|s| same_change(s, c));
        if other.history.iter().all(known) {
            return;
        }
        let mut changes: Vec<ConsentChange> = self
            .history
            .iter()
            .chain(other.history.iter())
            .cloned()
            .collect();
        // Stable: on a tie this record's change replays first, as the earlier arrival.
        changes.sort_by_key(|c| c.at);
        let mut merged = ConsentRecord::default();
        for change in changes {
            merged.apply(change);
        }
        let strictest = if strictness(other) > strictness(self) {
            other
        } else {
            &*self
        };
        if strictness(&merged) < strictness(strictest) {
            let at = self.updated_at.max(other.updated_at).unwrap_or(UnixTime(0));
            merged.apply(ConsentChange {
                status: ConsentStatus::OptedOut,
                scope: strictest.scope.unwrap_or(Scope::All),
                at,
                source: Source::Link,
                message_id: None,
                keyword: None,
                evidence: Some(LINK_EVIDENCE.to_string()),
                applied: true,
            });
        }
        *self = merged;
    }

    /// What applying `change` did when it was first applied, for a change already in the ledger:
    /// the ledger without it, with it applied again. A delivery that wrote consent and then
    /// failed before its dedupe markers is retried by Meta; this lets the retry decide the
    /// confirmation exactly as the first attempt did, instead of losing it as a duplicate.
    pub fn decided_again(&self, change: &ConsentChange) -> Applied {
        let mut before = ConsentRecord::default();
        for earlier in self.history.iter().take_while(|c| !same_change(c, change)) {
            before.apply(earlier.clone());
        }
        before.apply(change.clone())
    }

    pub fn is_opted_out_of_all(&self) -> bool {
        self.status == ConsentStatus::OptedOut && self.scope == Some(Scope::All)
    }

    /// May a message of this kind be sent? Unknown consent is not an objection (the business
    /// collects consent elsewhere); an opt-out is.
    pub fn allows(&self, marketing: bool) -> bool {
        match (self.status, self.scope) {
            (ConsentStatus::OptedOut, Some(Scope::All)) => false,
            (ConsentStatus::OptedOut, _) => !marketing,
            _ => true,
        }
    }

    /// Applies a change. The newest decides at once; later events win, and ties go to the later
    /// arrival, so STOP then START in the same second ends opted in. One older than the state in
    /// force is put in its place and the ledger replayed: a STOP that arrives after a newer
    /// "Stop promotions" still opts out of everything, as the two in order would. Once the
    /// history has been cut to `MAX_HISTORY`, a replay can only make the state stricter.
    pub fn apply(&mut self, mut change: ConsentChange) -> Applied {
        if self.history.iter().any(|c| same_change(c, &change)) {
            return Applied::Duplicate;
        }
        let before = (self.status, self.scope);
        let newest = self.updated_at.is_none_or(|t| change.at >= t);
        if newest {
            self.step(&change);
            change.applied = true;
            self.record(change);
            return Applied::Applied {
                changed: before != (self.status, self.scope),
            };
        }
        let complete = self.history.len() < MAX_HISTORY;
        change.applied = false;
        let pos = self.record(change);
        let mut replay = ConsentRecord::default();
        for c in &self.history {
            replay.step(c);
        }
        if complete || strictness(&replay) >= strictness(self) {
            self.status = replay.status;
            self.scope = replay.scope;
        }
        let changed = before != (self.status, self.scope);
        if let Some(c) = pos.and_then(|p| self.history.get_mut(p)) {
            c.applied = changed;
        }
        if changed {
            Applied::Applied { changed }
        } else {
            Applied::Superseded
        }
    }

    /// What one change, as the newest, does to the state in force.
    fn step(&mut self, change: &ConsentChange) {
        self.updated_at = Some(self.updated_at.map_or(change.at, |t| t.max(change.at)));
        match (change.status, change.scope) {
            (ConsentStatus::OptedOut, Scope::All) => {
                self.status = ConsentStatus::OptedOut;
                self.scope = Some(Scope::All);
            }
            // A marketing opt-out never loosens an opt-out of everything.
            (ConsentStatus::OptedOut, Scope::Marketing) => {
                if !self.is_opted_out_of_all() {
                    self.status = ConsentStatus::OptedOut;
                    self.scope = Some(Scope::Marketing);
                }
            }
            // An opt-in to everything (START, admin) lifts any opt-out.
            (ConsentStatus::OptedIn, Scope::All) => {
                self.status = ConsentStatus::OptedIn;
                self.scope = None;
            }
            // Resuming marketing lifts only a marketing opt-out.
            (ConsentStatus::OptedIn, Scope::Marketing) => {
                if !self.is_opted_out_of_all() {
                    self.status = ConsentStatus::OptedIn;
                    self.scope = None;
                }
            }
            (ConsentStatus::Unknown, _) => {}
        }
    }

    /// Puts a change in the history in the person's time order (after those of the same
    /// second), keeping the newest `MAX_HISTORY`; returns where it went, if it stayed.
    fn record(&mut self, change: ConsentChange) -> Option<usize> {
        let pos = self
            .history
            .iter()
            .position(|c| c.at > change.at)
            .unwrap_or(self.history.len());
        self.history.insert(pos, change);
        let excess = self.history.len().saturating_sub(MAX_HISTORY);
        self.history.drain(..excess);
        pos.checked_sub(excess)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MessageId;

    fn change(status: ConsentStatus, scope: Scope, at: u64, source: Source) -> ConsentChange {
        ConsentChange {
            status,
            scope,
            at: UnixTime(at),
            source,
            message_id: Some(MessageId::new(format!("wamid.{at}{status:?}"))),
            keyword: None,
            evidence: None,
            applied: false,
        }
    }

    #[test]
    fn later_events_win_and_older_start_is_evidence_only() {
        let mut r = ConsentRecord::default();
        assert_eq!(
            r.apply(change(
                ConsentStatus::OptedOut,
                Scope::All,
                200,
                Source::Keyword
            )),
            Applied::Applied { changed: true }
        );
        assert_eq!(
            r.apply(change(
                ConsentStatus::OptedIn,
                Scope::All,
                100,
                Source::Keyword
            )),
            Applied::Superseded
        );
        assert!(r.is_opted_out_of_all());
        assert_eq!(r.history.len(), 2);
        assert_eq!(r.history.first().map(|c| c.applied), Some(false));
    }

    #[test]
    fn stop_then_start_in_the_same_second_ends_opted_in() {
        let mut r = ConsentRecord::default();
        r.apply(change(
            ConsentStatus::OptedOut,
            Scope::All,
            100,
            Source::Keyword,
        ));
        r.apply(change(
            ConsentStatus::OptedIn,
            Scope::All,
            100,
            Source::Keyword,
        ));
        assert_eq!(r.status, ConsentStatus::OptedIn);
        assert!(r.allows(true));
    }

    #[test]
    fn redelivered_change_is_a_duplicate() {
        let mut r = ConsentRecord::default();
        let c = change(ConsentStatus::OptedOut, Scope::All, 100, Source::Keyword);
        r.apply(c.clone());
        assert_eq!(r.apply(c), Applied::Duplicate);
        assert_eq!(r.history.len(), 1);
    }

    #[test]
    fn marketing_scope_rules() {
        let mut r = ConsentRecord::default();
        r.apply(change(
            ConsentStatus::OptedOut,
            Scope::Marketing,
            100,
            Source::UserPreferences,
        ));
        assert!(!r.allows(true));
        assert!(r.allows(false));
        // Resume of marketing does not lift a later full opt-out.
        r.apply(change(
            ConsentStatus::OptedOut,
            Scope::All,
            110,
            Source::Keyword,
        ));
        assert_eq!(
            r.apply(change(
                ConsentStatus::OptedIn,
                Scope::Marketing,
                120,
                Source::UserPreferences
            )),
            Applied::Applied { changed: false }
        );
        assert!(r.is_opted_out_of_all());
        // A marketing opt-out never loosens a full one.
        r.apply(change(
            ConsentStatus::OptedOut,
            Scope::Marketing,
            130,
            Source::Button,
        ));
        assert!(r.is_opted_out_of_all());
        r.apply(change(
            ConsentStatus::OptedIn,
            Scope::All,
            140,
            Source::Keyword,
        ));
        assert!(r.allows(true));
    }

    #[test]
    fn a_change_decided_again_gives_its_first_outcome() {
        let mut r = ConsentRecord::default();
        let stop = change(ConsentStatus::OptedOut, Scope::All, 100, Source::Keyword);
        assert_eq!(r.apply(stop.clone()), Applied::Applied { changed: true });
        assert_eq!(r.apply(stop.clone()), Applied::Duplicate);
        assert_eq!(r.decided_again(&stop), Applied::Applied { changed: true });
        let again = change(ConsentStatus::OptedOut, Scope::All, 200, Source::Keyword);
        r.apply(again.clone());
        assert_eq!(r.decided_again(&again), Applied::Applied { changed: false });
    }

    #[test]
    fn history_is_bounded() {
        let mut r = ConsentRecord::default();
        for i in 0..60u64 {
            let status = if i % 2 == 0 {
                ConsentStatus::OptedOut
            } else {
                ConsentStatus::OptedIn
            };
            r.apply(change(status, Scope::All, 1000 + i, Source::Keyword));
        }
        assert_eq!(r.history.len(), 50, "the README promises 50 entries");
        assert_eq!(r.updated_at, Some(UnixTime(1000 + 59)));
    }

    fn record(changes: &[ConsentChange]) -> ConsentRecord {
        let mut r = ConsentRecord::default();
        for c in changes {
            r.apply(c.clone());
        }
        r
    }

    #[test]
    fn merging_two_ids_replays_both_ledgers_by_the_persons_time() {
        use ConsentStatus::*;
        let mut phone = record(&[change(OptedIn, Scope::All, 5, Source::Keyword)]);
        let bsuid = record(&[change(OptedOut, Scope::All, 10, Source::Keyword)]);
        phone.merge(&bsuid);
        assert!(phone.is_opted_out_of_all());
        assert_eq!(phone.history.len(), 2);
        assert!(phone.history.iter().all(|c| c.source != Source::Link));
    }

    #[test]
    fn merging_never_loosens_and_a_repeat_changes_nothing() {
        use ConsentStatus::*;
        let bsuid = record(&[change(OptedOut, Scope::All, 10, Source::Keyword)]);
        let mut phone = record(&[change(OptedIn, Scope::All, 20, Source::Keyword)]);
        phone.merge(&bsuid);
        assert!(
            phone.is_opted_out_of_all(),
            "the START under the other id does not lift it"
        );
        let link = phone.history.last().unwrap();
        assert_eq!((link.source, link.at), (Source::Link, UnixTime(20)));
        let merged = phone.clone();
        phone.merge(&bsuid);
        assert_eq!(
            phone, merged,
            "a repeat merge (a healed handover) is a no-op"
        );
        // The person acting again decides; a stale copy merged later does not bring it back.
        phone.apply(change(OptedIn, Scope::All, 30, Source::Keyword));
        phone.merge(&bsuid);
        assert_eq!(phone.status, OptedIn);
    }

    #[test]
    fn a_marketing_opt_out_under_one_id_survives_a_merge_as_marketing() {
        use ConsentStatus::*;
        let mut phone = record(&[change(OptedIn, Scope::All, 20, Source::Admin)]);
        let bsuid = record(&[change(
            OptedOut,
            Scope::Marketing,
            10,
            Source::UserPreferences,
        )]);
        phone.merge(&bsuid);
        assert_eq!(
            (phone.status, phone.scope),
            (OptedOut, Some(Scope::Marketing))
        );
        assert!(phone.allows(false) && !phone.allows(true));
    }
}
