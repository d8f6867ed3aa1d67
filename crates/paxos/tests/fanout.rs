//! Phase 2 goes to this node's acceptor and just enough others for a majority, plus
//! `spare_acceptors` (default 1): on five nodes one acceptor is left out, and the learners of
//! every node still get every chosen value. A fed acceptor that leaves an Accept unanswered
//! for a heartbeat round is replaced by one that was left out.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{accepted, promise, put};
use std::collections::BTreeSet;
use synod_core::Core;
use synod_messages::paxos::{PaxosMessage, Slot};
use synod_messages::{NodeId, Role};
use synod_paxos::{PaxosConfig, Proposer};

/// Proposer 1 of five nodes playing every role, with `spares` spare acceptors, after every
/// acceptor promised; its outputs so far taken.
fn leader_of_five(spares: usize) -> Proposer {
    let mut cfg = PaxosConfig::all_roles(1, vec![1, 2, 3, 4, 5]);
    cfg.spare_acceptors = spares;
    let mut p = Proposer::new(cfg);
    p.campaign();
    for a in 1..=5 {
        promise(&mut p, a, Vec::new());
    }
    assert!(p.is_leader());
    p.take_ready();
    p
}

/// What `p` sent: the acceptors sent an Accept, and the learners told of chosen slots (with
/// the slots).
fn sent(p: &mut Proposer) -> (BTreeSet<NodeId>, Vec<(NodeId, Vec<Slot>)>) {
    let (mut accepts, mut chosen) = (BTreeSet::new(), Vec::new());
    for (to, m) in p.take_ready().messages {
        match m {
            PaxosMessage::Accept { .. } => {
                accepts.insert(to.node);
            }
            PaxosMessage::Chosen { entries } if to.role == Role::Learner => {
                chosen.push((to.node, entries.into_iter().map(|(s, _)| s).collect()));
            }
            _ => {}
        }
    }
    (accepts, chosen)
}

#[test]
fn five_acceptors_by_default_get_accepts_from_a_majority_and_one_spare() {
    let mut p = leader_of_five(1);
    p.propose(vec![put(1)]).unwrap();
    let (accepts, _) = sent(&mut p);
    assert_eq!(accepts, BTreeSet::from([1, 2, 3, 4]), "acceptor 5 left out");
    for a in [1, 2, 3] {
        accepted(&mut p, a, vec![1]);
    }
    assert_eq!(p.status().commit_index, 1);
    let (_, chosen) = sent(&mut p);
    let told: BTreeSet<NodeId> = chosen
        .iter()
        .filter(|(_, slots)| slots == &vec![1])
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        told,
        BTreeSet::from([1, 2, 3, 4, 5]),
        "every learner gets the value, the left-out acceptor's too"
    );
}

#[test]
fn spares_enough_for_every_acceptor_feed_them_all_and_none_make_it_thrifty() {
    let mut all = leader_of_five(2);
    all.propose(vec![put(1)]).unwrap();
    assert_eq!(sent(&mut all).0, BTreeSet::from([1, 2, 3, 4, 5]));
    let mut thrifty = leader_of_five(0);
    thrifty.propose(vec![put(1)]).unwrap();
    assert_eq!(sent(&mut thrifty).0, BTreeSet::from([1, 2, 3]));
}

#[test]
fn a_fed_acceptor_silent_for_a_heartbeat_round_is_replaced_before_the_resend() {
    let mut p = leader_of_five(0);
    let cfg = PaxosConfig::all_roles(1, vec![1, 2, 3, 4, 5]);
    assert!(cfg.heartbeat_ticks < cfg.resend_ticks);
    p.propose(vec![put(1)]).unwrap();
    assert_eq!(sent(&mut p).0, BTreeSet::from([1, 2, 3]));
    // Acceptor 3 never answers: a majority needs one more.
    for a in [1, 2] {
        accepted(&mut p, a, vec![1]);
    }
    assert_eq!(p.status().commit_index, 0);
    let mut replaced_at = None;
    for tick in 1..=cfg.heartbeat_ticks {
        p.on_tick();
        if sent(&mut p).0.contains(&4) {
            replaced_at = Some(tick);
            break;
        }
    }
    assert_eq!(
        replaced_at,
        Some(cfg.heartbeat_ticks),
        "acceptor 4 takes silent acceptor 3's place after a heartbeat round"
    );
    accepted(&mut p, 4, vec![1]);
    assert_eq!(p.status().commit_index, 1);
    // From then on acceptor 3 is left out, even once its Accept expired.
    for _ in 0..cfg.resend_ticks {
        p.on_tick();
    }
    sent(&mut p);
    p.propose(vec![put(2)]).unwrap();
    assert_eq!(sent(&mut p).0, BTreeSet::from([1, 2, 4]));
}
