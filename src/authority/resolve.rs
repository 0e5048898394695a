//! The worker's side of identities: reach the person an id belongs to (following forwards and
//! finishing any merge found half done), and link the ids a delivery shows together
//! (`identity` has the rules). Every step is a request to one authority, so a worker killed
//! between two steps leaves a state the next request (Meta's retry) completes.

use super::identity::Export;
use super::route::PersonPart;
use super::{Answer, Authorities, Op};
use crate::store::keys::ContactKey;
use crate::store::kv::KvError;
use std::collections::BTreeSet;

/// Forwards followed before giving up (each merge adds at most one to a chain).
pub const MAX_HOPS: usize = 8;
/// Rounds of linking before giving up: each round merges every home found, so a second round
/// only happens when another request merged at the same time.
pub const MAX_ROUNDS: usize = 4;

fn too_deep() -> KvError {
    KvError::Unavailable("identity links still changing; try again".into())
}

/// `op` at the home of the person `key` belongs to; the home's key and its answer.
pub async fn call_person<A: Authorities>(
    authorities: &A,
    key: &ContactKey,
    op: &Op,
) -> Result<(ContactKey, Answer), KvError> {
    let mut at = key.clone();
    for _ in 0..MAX_HOPS {
        match authorities.call(&at, op).await? {
            Answer::Moved { to, export } => {
                if let Some(export) = export {
                    finish(authorities, &at, &to, export).await?;
                }
                at = to;
            }
            answer => return Ok((at, answer)),
        }
    }
    Err(too_deep())
}

/// Steps 2 and 3 of a merge from `from` (which forwards to `to`).
async fn finish<A: Authorities>(
    authorities: &A,
    from: &ContactKey,
    to: &ContactKey,
    export: Export,
) -> Result<(), KvError> {
    let absorb = Op::Absorb {
        from: from.clone(),
        export,
    };
    // Boxed: a home that moved meanwhile is followed by the same function.
    match Box::pin(call_person(authorities, to, &absorb)).await? {
        (_, Answer::Absorbed) => {}
        _ => return Err(KvError::Corrupt("absorb answer")),
    }
    authorities.call(from, &Op::Release).await?;
    Ok(())
}

/// Makes the authorities of `ids` one person; returns their home.
pub async fn link<A: Authorities>(
    authorities: &A,
    ids: &[ContactKey],
) -> Result<ContactKey, KvError> {
    for _ in 0..MAX_ROUNDS {
        let mut homes = BTreeSet::new();
        for id in ids {
            homes.insert(call_person(authorities, id, &Op::Identity).await?.0);
        }
        let mut homes = homes.into_iter();
        let winner = homes.next().ok_or(KvError::Corrupt("no ids to link"))?;
        let losers: Vec<ContactKey> = homes.collect();
        if losers.is_empty() {
            return Ok(winner);
        }
        for loser in losers {
            let handover = Op::Handover { to: winner.clone() };
            if let Answer::Moved {
                to,
                export: Some(export),
            } = authorities.call(&loser, &handover).await?
            {
                finish(authorities, &loser, &to, export).await?;
            }
        }
    }
    Err(too_deep())
}

/// One person's part of a delivery at their home, linking first the ids it shows together.
pub async fn deliver<A: Authorities>(
    authorities: &A,
    part: &PersonPart,
) -> Result<Answer, KvError> {
    let first = part.first().ok_or(KvError::Corrupt("a part with no id"))?;
    let op = Op::Deliver {
        body: part.body(),
        ids: part.ids.clone(),
    };
    match call_person(authorities, first, &op).await? {
        (_, Answer::Unlinked { .. }) => {
            let home = link(authorities, &part.ids).await?;
            match call_person(authorities, &home, &op).await? {
                (_, Answer::Unlinked { .. }) => Err(too_deep()),
                (_, answer) => Ok(answer),
            }
        }
        (_, answer) => Ok(answer),
    }
}
