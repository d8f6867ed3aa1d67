//! Phase 2 goes to a majority of the acceptors, the leader's own first, plus `spare_acceptors`
//! (default 1): on five nodes one acceptor is left out, and the learners of every node still
//! get every chosen value. When a slot waits a heartbeat round for a majority, a fed acceptor
//! that left an Accept unanswered as long is replaced by one that was left out.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{accepted, barrier_ack, big, promise, put};
use std::collections::BTreeSet;
use synod_core::{Core, Proposing};
use synod_messages::paxos::PaxosMessage;
use synod_messages::NodeId;
use synod_paxos::{PaxosConfig, Proposer};

/// Five nodes playing every role, seen by node 1, with `spares` spare acceptors.
fn five(spares: usize) -> PaxosConfig {
    let mut cfg = PaxosConfig::all_roles(1, vec![1, 2, 3, 4, 5]);
    cfg.spare_acceptors = spares;
    cfg
}

/// Proposer `cfg.id` of `cfg` after every acceptor promised; its outputs so far taken.
fn leader(cfg: PaxosConfig) -> Proposer {
    let mut p = Proposer::new(cfg);
    p.campaign();
    for a in 1..=5 {
        promise(&mut p, a, Vec::new());
    }
    assert!(p.is_leader());
    p.take_ready();
    p
}

/// What `p` sent since last asked.
#[derive(Debug, Default)]
struct Sent {
    /// Acceptors sent an Accept.
    accepts: BTreeSet<NodeId>,
    /// Learners sent chosen values (`Chosen`).
    values: BTreeSet<NodeId>,
    /// Learners sent chosen slots without their values (`ChosenSlots`).
    slots: BTreeSet<NodeId>,
}

fn sent(p: &mut Proposer) -> Sent {
    let mut s = Sent::default();
    for (to, m) in p.take_ready().messages {
        match m {
            PaxosMessage::Accept { .. } => s.accepts.insert(to.node),
            PaxosMessage::Chosen { .. } if to.role == synod_paxos::LEARNER => {
                s.values.insert(to.node)
            }
            PaxosMessage::ChosenSlots { .. } => s.slots.insert(to.node),
            _ => false,
        };
    }
    s
}

/// Ticks `p` until it sends acceptor `a` an Accept, at most `ticks` times; the tick it did.
fn ticks_until_fed(p: &mut Proposer, a: NodeId, ticks: u32) -> Option<u32> {
    (1..=ticks).find(|_| {
        p.on_tick();
        sent(p).accepts.contains(&a)
    })
}

/// Ticks `p` once; `answering` answer the read barriers it sent. Returns who was sent an
/// Accept.
fn tick_answering(p: &mut Proposer, answering: &[NodeId]) -> BTreeSet<NodeId> {
    p.on_tick();
    let mut accepts = BTreeSet::new();
    let mut barriers = Vec::new();
    for (to, m) in p.take_ready().messages {
        match m {
            PaxosMessage::Accept { .. } => {
                accepts.insert(to.node);
            }
            PaxosMessage::ReadBarrier { seq, .. } if answering.contains(&to.node) => {
                barriers.push((to.node, seq));
            }
            _ => {}
        }
    }
    for (a, seq) in barriers {
        barrier_ack(p, a, seq);
    }
    accepts.extend(sent(p).accepts);
    accepts
}

#[test]
fn five_acceptors_by_default_get_accepts_from_a_majority_and_one_spare() {
    let mut p = leader(five(1));
    p.propose(vec![put(1)]).unwrap();
    assert_eq!(sent(&mut p).accepts, BTreeSet::from([1, 2, 3, 4]));
    for a in [1, 2, 3] {
        accepted(&mut p, a, vec![1]);
    }
    assert_eq!(p.status().commit_index, 1);
    assert_eq!(sent(&mut p).values, BTreeSet::from([1, 2, 3, 4, 5]));
}

#[test]
fn a_large_value_goes_whole_to_the_learner_whose_acceptor_was_left_out() {
    let mut p = leader(five(1));
    p.propose(vec![big(1)]).unwrap();
    assert_eq!(sent(&mut p).accepts, BTreeSet::from([1, 2, 3, 4]));
    for a in [1, 2, 3] {
        accepted(&mut p, a, vec![1]);
    }
    let s = sent(&mut p);
    assert_eq!(
        s.slots,
        BTreeSet::from([2, 3, 4]),
        "their acceptors have it"
    );
    assert_eq!(
        s.values,
        BTreeSet::from([1, 5]),
        "its own, and the left-out one"
    );
}

#[test]
fn spares_enough_for_every_acceptor_feed_them_all_and_none_make_it_thrifty() {
    let mut all = leader(five(2));
    all.propose(vec![put(1)]).unwrap();
    assert_eq!(sent(&mut all).accepts, BTreeSet::from([1, 2, 3, 4, 5]));
    let mut thrifty = leader(five(0));
    thrifty.propose(vec![put(1)]).unwrap();
    assert_eq!(sent(&mut thrifty).accepts, BTreeSet::from([1, 2, 3]));
}

#[test]
fn a_fed_acceptor_silent_for_a_heartbeat_round_is_replaced_before_the_resend() {
    let cfg = five(0);
    let (heartbeat, resend) = (cfg.heartbeat_ticks, cfg.resend_ticks);
    assert!(heartbeat < resend);
    let mut p = leader(cfg);
    p.propose(vec![put(1)]).unwrap();
    assert_eq!(sent(&mut p).accepts, BTreeSet::from([1, 2, 3]));
    // Acceptor 3 never answers: a majority needs one more.
    for a in [1, 2] {
        accepted(&mut p, a, vec![1]);
    }
    assert_eq!(p.status().commit_index, 0);
    assert_eq!(
        ticks_until_fed(&mut p, 4, resend),
        Some(heartbeat),
        "acceptor 4 takes silent acceptor 3's place after a heartbeat round"
    );
    accepted(&mut p, 4, vec![1]);
    assert_eq!(p.status().commit_index, 1);
    // From then on acceptor 3 is left out, even once its Accept expired.
    for _ in 0..resend {
        p.on_tick();
    }
    sent(&mut p);
    p.propose(vec![put(2)]).unwrap();
    assert_eq!(sent(&mut p).accepts, BTreeSet::from([1, 2, 4]));
}

#[test]
fn the_leaders_own_acceptor_goes_first_and_is_replaced_too_when_it_is_silent() {
    let mut cfg = five(0);
    cfg.id = 5;
    let mut p = leader(cfg);
    p.propose(vec![put(1)]).unwrap();
    assert_eq!(sent(&mut p).accepts, BTreeSet::from([5, 1, 2]));
    // Its own acceptor (a paused disk, say) never answers.
    for a in [1, 2] {
        accepted(&mut p, a, vec![1]);
    }
    let heartbeat = PaxosConfig::all_roles(1, vec![]).heartbeat_ticks;
    assert_eq!(ticks_until_fed(&mut p, 3, heartbeat), Some(heartbeat));
    accepted(&mut p, 3, vec![1]);
    assert_eq!(p.status().commit_index, 1);
    p.propose(vec![put(2)]).unwrap();
    assert_eq!(
        sent(&mut p).accepts,
        BTreeSet::from([1, 2, 3]),
        "its own acceptor is sent nothing more"
    );
}

#[test]
fn a_silent_acceptor_the_spare_covers_for_is_not_replaced() {
    let cfg = five(1);
    let resend = cfg.resend_ticks;
    let mut p = leader(cfg);
    p.propose(vec![put(1)]).unwrap();
    sent(&mut p);
    // Acceptor 4 never answers, but 1, 2 and 3 make a majority: nothing waits.
    for a in [1, 2, 3] {
        accepted(&mut p, a, vec![1]);
    }
    for tick in 1..resend {
        p.propose(vec![put(u64::from(tick) + 1)]).unwrap();
        let fed = tick_answering(&mut p, &[1, 2, 3, 4, 5]);
        assert!(!fed.contains(&5), "tick {tick}: acceptor 5 fed: {fed:?}");
        for a in [1, 2, 3] {
            accepted(&mut p, a, vec![u64::from(tick) + 1]);
        }
    }
}

#[test]
fn only_acceptors_silent_as_long_as_the_slot_waited_are_replaced() {
    let mut p = leader(five(0));
    p.propose(vec![put(1)]).unwrap();
    sent(&mut p);
    // Acceptor 3 never answers; 2 answers, then is sent slot 2 a tick later.
    for a in [1, 2] {
        accepted(&mut p, a, vec![1]);
    }
    p.on_tick();
    sent(&mut p);
    p.propose(vec![put(2)]).unwrap();
    assert!(sent(&mut p).accepts.contains(&2));
    p.on_tick();
    assert_eq!(
        sent(&mut p).accepts,
        BTreeSet::from([4]),
        "slot 1 waited two ticks: 3 is replaced, 2 (one tick) is not"
    );
    for a in [1, 2, 4] {
        accepted(&mut p, a, vec![1, 2]);
    }
    assert_eq!(p.status().commit_index, 2);
    p.propose(vec![put(3)]).unwrap();
    assert_eq!(sent(&mut p).accepts, BTreeSet::from([1, 2, 4]));
}

#[test]
fn an_acceptor_left_out_is_fed_in_a_silent_ones_place_only_once_it_answers() {
    let cfg = five(1);
    assert_eq!((cfg.heartbeat_ticks, cfg.resend_ticks), (2, 6));
    let mut p = leader(cfg);
    // Acceptor 5 (left out) answers nothing for six ticks; the others answer the barriers
    // (one every heartbeat, on even ticks).
    for _ in 0..6 {
        tick_answering(&mut p, &[1, 2, 3, 4]);
    }
    p.propose(vec![put(1)]).unwrap();
    assert_eq!(sent(&mut p).accepts, BTreeSet::from([1, 2, 3, 4]));
    // Acceptors 3 and 4 go silent: slot 1 waits for a majority, from tick 8 on long enough
    // for a replacement, but acceptor 5 was not heard from for two heartbeat rounds.
    for a in [1, 2] {
        accepted(&mut p, a, vec![1]);
    }
    for tick in 7..=9 {
        let fed = tick_answering(&mut p, &[1, 2]);
        assert!(!fed.contains(&5), "tick {tick}: {fed:?}");
    }
    // Tick 10: acceptor 5 answers the barrier; tick 11 (before the resend at 12) it is fed.
    assert!(!tick_answering(&mut p, &[1, 2, 5]).contains(&5));
    assert!(tick_answering(&mut p, &[1, 2, 5]).contains(&5));
    accepted(&mut p, 5, vec![1]);
    assert_eq!(p.status().commit_index, 1);
}

#[test]
fn a_silent_acceptor_is_replaced_even_when_heartbeats_are_as_slow_as_resends() {
    let mut cfg = five(0);
    cfg.heartbeat_ticks = 6;
    cfg.resend_ticks = 4;
    let mut p = leader(cfg);
    p.propose(vec![put(1)]).unwrap();
    sent(&mut p);
    for a in [1, 2] {
        accepted(&mut p, a, vec![1]);
    }
    // The resend after 4 ticks goes to every acceptor; acceptor 4 is then fed on its own.
    for _ in 0..4 {
        p.on_tick();
    }
    accepted(&mut p, 4, vec![1]);
    assert_eq!(p.status().commit_index, 1);
    sent(&mut p);
    p.propose(vec![put(2)]).unwrap();
    assert_eq!(
        sent(&mut p).accepts,
        BTreeSet::from([1, 2, 4]),
        "acceptor 3 was replaced by the time its Accept was resent"
    );
}
