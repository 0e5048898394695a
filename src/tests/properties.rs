//! Properties of the deciding core over generated inputs (proptest): the consent ledger, the
//! window, the pacing bucket, signature headers, keywords and identity merges. Each runs a fixed
//! number of cases from a fixed seed in `cargo test`; `npm run fuzz` runs many more. A failure
//! proptest finds is shrunk to its smallest form and kept below as a plain regression test.

use crate::policy::keywords::{normalise, Intent, Keywords, OPT_OUT_KEYWORDS};
use crate::policy::window::{is_open, SERVICE_WINDOW, WINDOW_SAFETY_MARGIN};
use crate::store::consent::{ConsentChange, ConsentRecord, ConsentStatus, Scope, Source};
use crate::store::contact_state::ContactState;
use crate::time::UnixTime;
use crate::webhook::signature::{sign, verify, SignatureError};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The cases each property runs in `cargo test`, from one seed so a run is repeatable; the
/// environment's `PROPTEST_CASES` (as `npm run fuzz` sets it) runs more.
pub fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0x7761_6564_6765);
    Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    }
}

fn status() -> impl Strategy<Value = ConsentStatus> {
    prop_oneof![Just(ConsentStatus::OptedOut), Just(ConsentStatus::OptedIn)]
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![Just(Scope::All), Just(Scope::Marketing)]
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        Just(Source::Keyword),
        Just(Source::Button),
        Just(Source::UserPreferences),
        Just(Source::Admin)
    ]
}

/// Consent changes at distinct times (a tie is decided by arrival, so only distinct times can
/// be order-free), each with its own message id.
fn changes(max: usize) -> impl Strategy<Value = Vec<ConsentChange>> {
    proptest::collection::btree_set(0u64..10_000, 1..max).prop_flat_map(|times| {
        let n = times.len();
        let times: Vec<u64> = times.into_iter().collect();
        proptest::collection::vec((status(), scope(), source()), n).prop_map(move |kinds| {
            times
                .iter()
                .zip(kinds)
                .enumerate()
                .map(|(i, (at, (status, scope, source)))| change(status, scope, *at, source, i))
                .collect()
        })
    })
}

fn change(status: ConsentStatus, scope: Scope, at: u64, source: Source, i: usize) -> ConsentChange {
    ConsentChange {
        status,
        scope,
        at: UnixTime(1_700_000_000 + at),
        source,
        message_id: Some(crate::ids::MessageId::new(format!("wamid.P{i}"))),
        keyword: None,
        evidence: None,
        applied: false,
    }
}

fn ledger_of(changes: &[ConsentChange]) -> ConsentRecord {
    let mut record = ConsentRecord::default();
    for c in changes {
        record.apply(c.clone());
    }
    record
}

/// How strict a state in force is: an opt-out of everything, of marketing, or none.
fn strictness(r: &ConsentRecord) -> u8 {
    match (r.status, r.scope) {
        (ConsentStatus::OptedOut, Some(Scope::All)) => 2,
        (ConsentStatus::OptedOut, _) => 1,
        _ => 0,
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_order_of_the_same_consent_events_ends_in_the_same_state(
        (events, order) in changes(12).prop_flat_map(|c| {
            let n = c.len();
            (Just(c), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        })
    ) {
        let in_order = ledger_of(&events);
        let shuffled: Vec<ConsentChange> = order.iter().map(|i| events[*i].clone()).collect();
        let arrived = ledger_of(&shuffled);
        prop_assert_eq!(
            (arrived.status, arrived.scope, arrived.updated_at),
            (in_order.status, in_order.scope, in_order.updated_at)
        );
        prop_assert_eq!(arrived.history.len(), in_order.history.len());
    }

    #[test]
    fn a_redelivered_consent_event_changes_nothing(events in changes(12), again in 0usize..12) {
        let record = ledger_of(&events);
        let mut twice = record.clone();
        let copy = events[again % events.len()].clone();
        prop_assert_eq!(twice.apply(copy), crate::policy::ledger::Applied::Duplicate);
        prop_assert_eq!(twice, record);
    }

    #[test]
    fn linking_two_people_never_loosens_an_opt_out(a in changes(8), b in changes(8)) {
        let left = ledger_of(&a);
        // The other id's events carry their own message ids.
        let b: Vec<ConsentChange> = b
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                c.message_id = Some(crate::ids::MessageId::new(format!("wamid.Q{i}")));
                c
            })
            .collect();
        let right = ledger_of(&b);
        let mut merged = left.clone();
        merged.merge(&right);
        prop_assert!(strictness(&merged) >= strictness(&left).max(strictness(&right)));
        let mut other_way = right.clone();
        other_way.merge(&left);
        prop_assert_eq!(strictness(&merged), strictness(&other_way));
    }

    #[test]
    fn the_window_is_open_exactly_until_24_hours_less_the_margin(
        last in 0u64..4_000_000_000,
        age in 0u64..200_000,
    ) {
        let open = is_open(UnixTime(last), UnixTime(last + age));
        prop_assert_eq!(open, age < SERVICE_WINDOW - WINDOW_SAFETY_MARGIN);
    }

    #[test]
    fn the_pacing_bucket_never_lets_more_than_the_burst_and_one_per_6_s_through(
        burst in 1u64..=45,
        gaps in proptest::collection::vec(0u64..20, 1..200),
    ) {
        let mut state = ContactState::default();
        let mut now = 1_700_000_000u64;
        let mut taken = Vec::new();
        for gap in gaps {
            now += gap;
            if state.pace_wait(UnixTime(now), burst) == 0 {
                state.pace_take(UnixTime(now));
                taken.push(now);
            }
        }
        for (i, start) in taken.iter().enumerate() {
            for (j, end) in taken.iter().enumerate().skip(i) {
                let sends = (j - i + 1) as u64;
                prop_assert!(
                    sends <= burst + (end - start) / crate::policy::pacing::PAIR_INTERVAL + 1,
                    "{} sends in {} s with a burst of {}", sends, end - start, burst
                );
            }
        }
    }

    #[test]
    fn a_signature_header_is_accepted_only_when_it_is_the_bodys_mac(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        header in "\\PC{0,80}",
        flip in 0usize..64,
    ) {
        let secret = b"app-secret";
        // Anything at all: an answer, never a panic, and never a match by chance.
        let answer = verify(&body, Some(&header), secret, None);
        prop_assert!(answer.is_err() || header == sign(secret, &body));
        let good = sign(secret, &body);
        prop_assert!(verify(&body, Some(&good), secret, None).is_ok());
        // Meta sends lowercase hex: an uppercase copy is a mangled header, refused as such.
        let upper = good.to_uppercase().replacen("SHA256", "sha256", 1);
        prop_assert_eq!(verify(&body, Some(&upper), secret, None).err(), Some(SignatureError::Malformed));
        // One hex digit changed: refused as a mismatch, not as malformed.
        let mut bad: Vec<char> = good.chars().collect();
        let at = "sha256=".len() + flip;
        bad[at] = if bad[at] == '0' { '1' } else { '0' };
        let bad: String = bad.into_iter().collect();
        prop_assert_eq!(verify(&body, Some(&bad), secret, None).err(), Some(SignatureError::Mismatch));
    }

    #[test]
    fn every_listed_opt_out_in_any_case_and_punctuation_is_a_stop(
        which in 0usize..OPT_OUT_KEYWORDS.len(),
        upper in proptest::collection::vec(any::<bool>(), 64),
        before in "[ \\t\\n.!¡¿*]{0,3}",
        after in "[ \\t\\n.!?*]{0,3}",
    ) {
        let keyword = OPT_OUT_KEYWORDS[which];
        let cased: String = keyword
            .chars()
            .zip(upper.iter().cycle())
            .map(|(c, u)| if *u { c.to_uppercase().next().unwrap_or(c) } else { c })
            .collect();
        let text = format!("{before}{cased}{after}");
        let keywords = Keywords::new(&[], &[], &[]);
        prop_assert_eq!(
            keywords.classify_text(&text).map(|(intent, _)| intent),
            Some(Intent::OptOut),
            "{:?}", text
        );
    }

    #[test]
    fn no_near_miss_of_an_opt_out_is_a_stop(
        which in 0usize..OPT_OUT_KEYWORDS.len(),
        at in 0usize..32,
        letter in "[a-z]",
        how in 0u8..3,
    ) {
        let keyword: Vec<char> = OPT_OUT_KEYWORDS[which].chars().collect();
        let at = at % (keyword.len() + 1);
        let letter = letter.chars().next().unwrap_or('x');
        let mut near = keyword.clone();
        match how {
            0 => near.insert(at, letter),
            1 if at < near.len() => near[at] = letter,
            _ if at < near.len() => {
                near.remove(at);
            }
            _ => near.push(letter),
        }
        let near: String = near.into_iter().collect();
        let keywords = Keywords::new(&[], &[], &[]);
        let listed = |t: &str| OPT_OUT_KEYWORDS.contains(&normalise(t).as_str());
        let intent = keywords.classify_text(&near).map(|(intent, _)| intent);
        // A change that lands on another listed form (or a keyword and a polite word) is a STOP;
        // anything else is not.
        let led = normalise(&near)
            .split_once(' ')
            .is_some_and(|(first, _)| OPT_OUT_KEYWORDS.contains(&first));
        prop_assert!(
            intent != Some(Intent::OptOut) || listed(&near) || led,
            "{:?} became a STOP", near
        );
    }
}

/// Found by `any_order_of_the_same_consent_events_ends_in_the_same_state`: a STOP that arrived
/// after a newer "Stop promotions" was kept as evidence only, so the person stayed opted out of
/// marketing alone, while the same two events in order end opted out of everything.
#[test]
fn a_stop_that_arrives_after_a_newer_marketing_opt_out_still_opts_out_of_everything() {
    let stop = change(ConsentStatus::OptedOut, Scope::All, 10, Source::Keyword, 0);
    let promotions = change(
        ConsentStatus::OptedOut,
        Scope::Marketing,
        20,
        Source::Button,
        1,
    );
    let in_order = ledger_of(&[stop.clone(), promotions.clone()]);
    let late = ledger_of(&[promotions, stop]);
    assert_eq!(in_order.scope, Some(Scope::All));
    assert_eq!((late.status, late.scope), (in_order.status, in_order.scope));
}

/// The ids a message can carry: a phone number, a BSUID and a parent BSUID, in any company.
const ID_SETS: [(bool, bool, bool); 5] = [
    (true, true, false),
    (false, true, true),
    (true, false, false),
    (false, true, false),
    (true, true, true),
];

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn any_order_of_links_ends_in_one_person_whose_stop_holds_under_every_id(
        // The two links that join all three ids and up to four other messages, in any order.
        messages in proptest::collection::vec(0usize..ID_SETS.len(), 0..4).prop_flat_map(|extra| {
            let mut all = vec![0, 1];
            all.extend(extra);
            Just(all).prop_shuffle()
        }),
        stop_by in 0usize..ID_SETS.len(),
    ) {
        use crate::testing::payloads::{identity_text, Ids};
        const PHONE: &str = "16505551234";
        const BSUID: &str = "US.13491208655302741918";
        const PARENT: &str = "US.ENT.11815799212886844830";
        let ids = |(p, b, n): (bool, bool, bool)| Ids {
            phone: p.then_some(PHONE),
            bsuid: b.then_some(BSUID),
            parent: n.then_some(PARENT),
        };
        let w = crate::testing::World::new(&[("MARK_AS_READ", "false"), ("DEFAULT_REPLY", "")]);
        let t0 = 1_732_000_000u64;
        for (i, set) in messages.iter().enumerate() {
            let at = t0 + 10 * i as u64;
            let body = identity_text("PNID", ids(ID_SETS[*set]), &format!("wamid.L{i}"), at, "hello");
            prop_assert_eq!(w.deliver_at(&body, at + 1).0.status, 200);
            w.send_until(at + 1, at + 2);
        }
        let at = t0 + 1_000;
        let stop = identity_text("PNID", ids(ID_SETS[stop_by]), "wamid.STOP", at, "STOP");
        let (reply, outbox) = w.deliver_at(&stop, at + 1);
        prop_assert_eq!(reply.status, 200);
        let confirmations = outbox
            .iter()
            .filter(|o| o.purpose == crate::send::Purpose::OptOutConfirmation)
            .count();
        prop_assert_eq!(confirmations, 1, "{:?}", messages);
        for id in [PHONE, BSUID, PARENT] {
            let (status, record) = w.admin("GET", &format!("/v1/contacts/{id}/consent"), "", at + 5);
            prop_assert_eq!(status, 200, "{}", record);
            prop_assert_eq!(&record["status"], "opted_out", "{} after {:?}: {}", id, messages, record);
        }
    }
}
