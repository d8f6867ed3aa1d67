//! A new leader's phase 1: slots it recovers and what happens when they are known chosen.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::leader_recovering;
use synod_core::Core;
use synod_messages::paxos::{AcceptedValue, Ballot, PaxosMessage, Value};
use synod_messages::{ActorAddr, Role};
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
        ActorAddr::new(1, Role::Learner),
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
