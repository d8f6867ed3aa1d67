//! A new leader's phase 1: slots it recovers and what happens when they are known chosen.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{barrier_ack, config, leader_recovering, promise_compacted, promise_part, put};
use synod_core::Core;
use synod_messages::paxos::{AcceptedValue, Ballot, PaxosMessage, Slot, Value};
use synod_messages::{ActorAddr, NodeId};
use synod_paxos::Proposer;

fn accepts(p: &mut Proposer) -> Vec<u64> {
    p.take_ready()
        .messages
        .into_iter()
        .filter_map(|(_, m)| match m {
            PaxosMessage::Accept { entries, .. } => Some(entries),
            _ => None,
        })
        .flatten()
        .map(|(slot, _)| slot)
        .collect()
}

/// A recovered slot whose Accepted never comes (the acceptors compacted it: their learners had
/// it from the previous leader) stops being re-sent once this node's learner delivered it.
#[test]
fn a_recovered_slot_the_learner_delivered_is_no_longer_proposed() {
    let mut p = leader_recovering(vec![AcceptedValue {
        slot: 1,
        ballot: Ballot::new(0, 2),
        value: Value::Noop,
    }]);
    assert!(accepts(&mut p).contains(&1), "slot 1 is recovered");
    for _ in 0..6 {
        p.on_tick();
    }
    assert!(accepts(&mut p).contains(&1), "and re-sent while not chosen");
    p.on_message(
        ActorAddr::new(1, synod_paxos::LEARNER),
        PaxosMessage::Progress { delivered_upto: 1 },
    );
    for _ in 0..12 {
        p.on_tick();
    }
    assert!(
        !accepts(&mut p).contains(&1),
        "a delivered slot is not proposed again"
    );
    assert_eq!(p.status().commit_index, 1);
}

/// The slots and values of the Accepts `p` sent acceptor `node` (its other outputs dropped).
fn accepted_by(p: &mut Proposer, node: NodeId) -> Vec<(Slot, Value)> {
    p.take_ready()
        .messages
        .into_iter()
        .filter_map(|(to, m)| match m {
            PaxosMessage::Accept { entries, .. } if to.node == node => Some(entries),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A vote for `value` in slot `slot`, cast in the ballot of round 1 led by node 1.
fn vote(slot: Slot, value: Value) -> AcceptedValue {
    AcceptedValue {
        slot,
        ballot: Ballot::new(1, 1),
        value,
    }
}

/// Proposer 1 after a whole-cluster restart: its learner lost everything; acceptor 2's
/// learner kept a snapshot of slots 1-10 (so acceptor 2 forgot its votes on them), and the
/// phase 1 quorum was acceptors 1 and 2. It leads after slot 10; outputs so far taken.
fn leader_after_a_snapshot_it_lacks() -> Proposer {
    let mut p = Proposer::new(config());
    p.campaign();
    promise_compacted(&mut p, 2, Vec::new(), 10);
    promise_compacted(&mut p, 1, vec![vote(5, Value::Command(put(5)))], 0);
    assert!(p.is_leader());
    p.take_ready();
    p
}

/// Ticks `p` for `ticks`, acceptors `answering` answering each read barrier; returns the
/// `from_slot` of every Prepare it sent.
fn run_with_barriers_answered_by(p: &mut Proposer, answering: &[NodeId], ticks: u32) -> Vec<Slot> {
    let mut prepares = Vec::new();
    for _ in 0..ticks {
        p.on_tick();
        for (to, msg) in p.take_ready().messages {
            match msg {
                PaxosMessage::ReadBarrier { seq, .. } if answering.contains(&to.node) => {
                    barrier_ack(p, to.node, seq);
                }
                PaxosMessage::Prepare { from_slot, .. } if to.node == 1 => prepares.push(from_slot),
                _ => {}
            }
        }
    }
    prepares
}

/// Lost-snapshot simulation, Paxos seeds 103, 480, 524 and more (`crates/sim/tests/regressions.rs`):
/// node 2 then died for good. Slots 1-10 were chosen, but the only learner that had them was
/// gone and no leader would propose them again: nothing more was ever applied. The leader now
/// runs phase 1 again once none of the skipped slots' holders answered for an election
/// timeout, and recovers them from the votes of acceptors 1 and 3.
#[test]
fn slots_only_a_lost_snapshot_held_are_recovered_from_the_other_acceptors() {
    let mut p = leader_after_a_snapshot_it_lacks();
    let first = p.ballot();
    let prepares = run_with_barriers_answered_by(&mut p, &[1, 3], 45);
    assert_eq!(
        prepares,
        vec![1],
        "phase 1 again, from the first slot it lacks"
    );
    assert!(p.ballot() > first);
    promise_compacted(&mut p, 1, vec![vote(5, Value::Command(put(5)))], 0);
    promise_compacted(&mut p, 3, vec![vote(10, Value::Command(put(10)))], 0);
    assert!(p.is_leader());
    let recovered = accepted_by(&mut p, 3);
    let slots: Vec<Slot> = recovered.iter().map(|(s, _)| *s).collect();
    assert_eq!(slots, (1..=10).collect::<Vec<_>>());
    assert_eq!(recovered[4].1, Value::Command(put(5)));
    assert_eq!(recovered[9].1, Value::Command(put(10)));
    assert!(recovered[0].1 == Value::Noop && recovered[8].1 == Value::Noop);
}

/// While a holder of the skipped slots answers, this node's learner can still fetch them from
/// it: the leader keeps leading.
#[test]
fn a_leader_keeps_leading_while_a_holder_of_what_it_skipped_answers() {
    let mut p = leader_after_a_snapshot_it_lacks();
    let prepares = run_with_barriers_answered_by(&mut p, &[1, 2], 100);
    assert!(prepares.is_empty(), "phase 1 again: {prepares:?}");
    assert!(p.is_leader());
}

/// Once this node's learner has the skipped slots, the holders are no longer needed.
#[test]
fn a_leader_whose_learner_caught_up_does_not_need_the_holders() {
    let mut p = leader_after_a_snapshot_it_lacks();
    p.on_message(
        ActorAddr::new(1, synod_paxos::LEARNER),
        PaxosMessage::Progress { delivered_upto: 10 },
    );
    let prepares = run_with_barriers_answered_by(&mut p, &[1, 3], 100);
    assert!(prepares.is_empty(), "phase 1 again: {prepares:?}");
    assert!(p.is_leader());
}

/// Review finding: an acceptor that compacted only part of the skipped slots (here 1-5 of
/// 1-10) counted as a holder, so once the one that had them all was gone the leader waited
/// for ever for slots 6-10.
#[test]
fn a_holder_of_only_part_of_the_skipped_slots_does_not_hold_back_the_rest() {
    let mut p = Proposer::new(config());
    p.campaign();
    promise_compacted(&mut p, 2, Vec::new(), 5);
    promise_compacted(&mut p, 3, Vec::new(), 10);
    assert!(p.is_leader());
    p.take_ready();
    p.on_message(
        ActorAddr::new(1, synod_paxos::LEARNER),
        PaxosMessage::Progress { delivered_upto: 5 },
    );
    let prepares = run_with_barriers_answered_by(&mut p, &[1, 2], 45);
    assert_eq!(
        prepares,
        vec![6],
        "phase 1 again, from the first slot it lacks"
    );
}

/// A promise in parts (large votes: see the acceptor) counts once every part arrived, in any
/// order, and the votes of every part are recovered.
#[test]
fn a_promise_in_parts_counts_once_every_part_arrived() {
    let mut p = Proposer::new(config());
    p.campaign();
    promise_compacted(&mut p, 1, Vec::new(), 0);
    promise_part(&mut p, 2, vec![vote(3, Value::Command(put(3)))], 0, (1, 2));
    promise_part(&mut p, 2, vec![vote(3, Value::Command(put(3)))], 0, (1, 2));
    assert!(!p.is_leader(), "acceptor 2's promise is not complete");
    promise_part(&mut p, 2, vec![vote(1, Value::Command(put(1)))], 0, (0, 2));
    assert!(p.is_leader());
    let recovered = accepted_by(&mut p, 2);
    assert_eq!(
        recovered,
        vec![
            (1, Value::Command(put(1))),
            (2, Value::Noop),
            (3, Value::Command(put(3)))
        ]
    );
}

/// Review finding: a promise of hundreds of MB in parts takes longer than an election timeout
/// to arrive; the proposer started over with a higher ballot, asked for it all again, and
/// never led. While parts keep coming, it waits for them.
#[test]
fn a_promise_whose_parts_keep_coming_is_waited_for() {
    let mut p = Proposer::new(config());
    p.campaign();
    let first = p.ballot();
    p.take_ready();
    promise_compacted(&mut p, 1, Vec::new(), 0);
    for part in 0..30 {
        for _ in 0..5 {
            p.on_tick();
        }
        promise_part(&mut p, 2, Vec::new(), 0, (part, 30));
    }
    assert_eq!(p.ballot(), first, "no second phase 1 meanwhile");
    assert!(p.is_leader());
}
