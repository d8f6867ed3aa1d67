//! The two worked Paxos examples ("Example 1" and "Example 2", retold in docs/concepts.md), replayed on
//! the real cores; every numbered step of the seed is one assertion.

#![allow(missing_docs, clippy::unwrap_used)]

use synod_messages::paxos::{Ballot, PaxosMessage};
use synod_messages::ActorAddr;
use synod_paxos::scenario::{example_1, example_2, time_of, Step, World};

const N1: Ballot = Ballot::new(1, 1);
const N2: Ballot = Ballot::new(1, 2);
const N3: Ballot = Ballot::new(2, 1);

fn officer(k: u64) -> ActorAddr {
    ActorAddr::new(k, synod_paxos::PROPOSER)
}

/// The messages on the road from `from`, as (receiving general, message).
fn sent(w: &World, from: ActorAddr) -> Vec<(u64, PaxosMessage)> {
    w.sent_by(from)
        .iter()
        .map(|m| (m.to.node, m.msg.clone()))
        .collect()
}

/// The Accepts officer `k` sent, by general (the order they left in is not part of the seed).
fn accepts_to(w: &World, k: u64) -> Vec<(u64, Ballot, Option<u64>)> {
    let mut accepts: Vec<_> = sent(w, officer(k))
        .into_iter()
        .filter_map(|(g, m)| match m {
            PaxosMessage::Accept { ballot, entries } => Some((g, ballot, time_of(&entries[0].1))),
            _ => None,
        })
        .collect();
    accepts.sort();
    accepts
}

fn prepares_to(w: &World, k: u64) -> Vec<(u64, Ballot)> {
    sent(w, officer(k))
        .into_iter()
        .filter_map(|(g, m)| match m {
            PaxosMessage::Prepare { ballot, .. } => Some((g, ballot)),
            _ => None,
        })
        .collect()
}

/// Replies on the road from general `g` to officer `k`.
fn replies(w: &World, g: u64, k: u64) -> Vec<PaxosMessage> {
    w.in_flight
        .iter()
        .filter(|m| m.from == ActorAddr::new(g, synod_paxos::ACCEPTOR) && m.to == officer(k))
        .map(|m| m.msg.clone())
        .collect()
}

/// A promise as (number promised, [(number accepted, attack time)]).
type PromiseView = (Ballot, Vec<(Ballot, Option<u64>)>);

fn promised_with(msg: &PaxosMessage) -> Option<PromiseView> {
    match msg {
        PaxosMessage::Promise {
            ballot, accepted, ..
        } => Some((
            *ballot,
            accepted
                .iter()
                .map(|a| (a.ballot, time_of(&a.value)))
                .collect(),
        )),
        _ => None,
    }
}

#[test]
fn seed_example_1_officer_2_adopts_attack_time_1() {
    let mut seen = Vec::new();
    let mut check = |s: &Step, w: &mut World| {
        seen.push(s.id);
        match s.id {
            "1" => assert_eq!(prepares_to(w, 1), vec![(1, N1), (2, N1), (3, N1)], "step 1"),
            "2" => {
                for g in 1..=3 {
                    assert_eq!(
                        w.general(g),
                        (N1, None),
                        "step 2: general {g} stores number 1"
                    );
                    assert_eq!(
                        promised_with(&replies(w, g, 1)[0]),
                        Some((N1, vec![])),
                        "step 2: ok"
                    );
                }
            }
            "3" => assert_eq!(
                accepts_to(w, 1),
                vec![(1, N1, Some(1)), (2, N1, Some(1)), (3, N1, Some(1))],
                "step 3"
            ),
            "4" => {
                for g in 1..=3 {
                    assert_eq!(
                        w.general(g),
                        (N1, Some((N1, Some(1)))),
                        "step 4: general {g}"
                    );
                    assert!(matches!(
                        replies(w, g, 1)[0],
                        PaxosMessage::Accepted { ballot: N1, .. }
                    ));
                }
            }
            "5" => {
                assert_eq!(w.officers[&1].chosen_upto(), 1, "step 5: chosen");
                assert!(
                    (1..=3).all(|k| w.learned(k) == Some(1)),
                    "step 5: attack time 1 is learned"
                );
            }
            "6" => assert_eq!(prepares_to(w, 2), vec![(1, N2), (2, N2), (3, N2)], "step 6"),
            "7" => {
                for g in 1..=3 {
                    assert_eq!(w.general(g).0, N2, "step 7: general {g} stores number 2");
                    assert_eq!(
                        promised_with(&replies(w, g, 2)[0]),
                        Some((N2, vec![(N1, Some(1))])),
                        "step 7: general {g} replies with (number 1, attack time 1)"
                    );
                }
            }
            "8" => {
                let accepts = accepts_to(w, 2);
                assert!(!accepts.is_empty());
                assert!(
                    accepts.iter().all(|&(_, b, t)| b == N2 && t == Some(1)),
                    "step 8: officer 2 proposes no new time, it adopts attack time 1: {accepts:?}"
                );
            }
            "9" => {
                for g in 1..=3 {
                    assert_eq!(
                        w.general(g),
                        (N2, Some((N2, Some(1)))),
                        "step 9: general {g} accepts (number 2, attack time 1)"
                    );
                }
                assert_eq!(
                    w.officers[&2].chosen_upto(),
                    1,
                    "step 9: officer 2 knows it chosen"
                );
                assert!(
                    (1..=3).all(|k| w.learned(k) == Some(1)),
                    "step 9: the scribes still hold attack time 1"
                );
            }
            other => panic!("unexpected step {other}"),
        }
    };
    example_1(&mut check).unwrap();
    assert_eq!(seen, ["1", "2", "3", "4", "5", "6", "7", "8", "9"]);
}

#[test]
fn seed_example_2_captured_messengers_and_dueling_officers_confirm_attack_time_2() {
    let mut seen = Vec::new();
    let mut check = |s: &Step, w: &mut World| {
        seen.push(s.id);
        match s.id {
            "1" => assert_eq!(prepares_to(w, 1), vec![(1, N1), (2, N1), (3, N1)], "step 1"),
            "2a" => {
                assert_eq!((w.general(1).0, w.general(2).0), (N1, N1), "step 2a");
                assert_eq!(promised_with(&replies(w, 1, 1)[0]), Some((N1, vec![])));
                assert_eq!(promised_with(&replies(w, 2, 1)[0]), Some((N1, vec![])));
            }
            "2b" => assert_eq!(
                w.general(3),
                (Ballot::default(), None),
                "step 2b: general 3 received nothing"
            ),
            "3" => assert_eq!(prepares_to(w, 2), vec![(1, N2), (2, N2), (3, N2)], "step 3"),
            "4a" => {
                assert_eq!((w.general(2).0, w.general(3).0), (N2, N2), "step 4a");
                assert_eq!(promised_with(&replies(w, 3, 2)[0]), Some((N2, vec![])));
            }
            "4b" => assert_eq!(
                w.general(1).0,
                N1,
                "step 4b: general 1 still holds number 1"
            ),
            "5" => assert_eq!(
                accepts_to(w, 1),
                vec![(1, N1, Some(1)), (2, N1, Some(1))],
                "step 5: only to the 2 generals that answered"
            ),
            "6a" => {
                assert_eq!(w.general(1), (N1, Some((N1, Some(1)))), "step 6a");
                assert!(matches!(
                    replies(w, 1, 1)[0],
                    PaxosMessage::Accepted { ballot: N1, .. }
                ));
            }
            "6b" => {
                assert_eq!(
                    w.general(2),
                    (N2, None),
                    "step 6b: general 2 did not store it"
                );
                assert_eq!(
                    replies(w, 2, 1),
                    vec![PaxosMessage::Rejected {
                        ballot: N1,
                        promised: N2
                    }],
                    "step 6b: (Rejected, number 2)"
                );
            }
            "7" => assert_eq!(
                accepts_to(w, 2),
                vec![(2, N2, Some(2)), (3, N2, Some(2))],
                "step 7"
            ),
            "8" => {
                for g in [2, 3] {
                    assert_eq!(
                        w.general(g),
                        (N2, Some((N2, Some(2)))),
                        "step 8: general {g}"
                    );
                }
            }
            "9" => {
                assert_eq!(
                    w.officers[&2].chosen_upto(),
                    1,
                    "step 9: chosen by a majority"
                );
                assert!(
                    (1..=3).all(|k| w.learned(k) == Some(2)),
                    "step 9: attack time 2 is learned"
                );
            }
            "10" => {
                assert!(!w.officers[&1].is_leader() || w.officers[&1].ballot() == N3);
                assert_eq!(
                    prepares_to(w, 1),
                    vec![(1, N3), (2, N3), (3, N3)],
                    "step 10: number 3"
                );
            }
            "11a" => {
                assert_eq!(w.general(1).0, N3);
                assert_eq!(
                    promised_with(&replies(w, 1, 1)[0]),
                    Some((N3, vec![(N1, Some(1))])),
                    "step 11a: (number 1, attack time 1)"
                );
            }
            "11b" => {
                assert_eq!(w.general(2).0, N3);
                assert_eq!(
                    promised_with(&replies(w, 2, 1)[0]),
                    Some((N3, vec![(N2, Some(2))])),
                    "step 11b: (number 2, attack time 2)"
                );
            }
            "11c" => assert_eq!(
                w.general(3).0,
                N2,
                "step 11c: general 3 never heard number 3"
            ),
            "12" => assert_eq!(
                accepts_to(w, 1),
                vec![(1, N3, Some(2)), (2, N3, Some(2))],
                "step 12: the highest-numbered value, attack time 2"
            ),
            "13" => {
                for g in [1, 2] {
                    assert_eq!(
                        w.general(g),
                        (N3, Some((N3, Some(2)))),
                        "step 13: general {g}"
                    );
                }
            }
            "14" => {
                assert_eq!(w.officers[&1].chosen_upto(), 1, "step 14: confirmed");
                assert!(
                    (1..=3).all(|k| w.learned(k) == Some(2)),
                    "step 14: still attack time 2 everywhere"
                );
            }
            other => panic!("unexpected step {other}"),
        }
    };
    example_2(&mut check).unwrap();
    assert_eq!(
        seen,
        [
            "1", "2a", "2b", "3", "4a", "4b", "5", "6a", "6b", "7", "8", "9", "10", "11a", "11b",
            "11c", "12", "13", "14"
        ]
    );
}
