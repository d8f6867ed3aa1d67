//! Shared by the proposer tests: a leader made by hand.

#![allow(dead_code)] // each test file uses its own part

use synod_core::Core;
use synod_messages::paxos::{AcceptedValue, PaxosMessage};
use synod_messages::{ActorAddr, Role};
use synod_paxos::{PaxosConfig, Proposer};

/// Proposer 1 of acceptors 1-3 after a phase 1 that acceptors 1 and 2 answered, each
/// reporting `accepted`; its outputs so far (the recovery Accepts, the heartbeat) are not taken.
pub fn leader_recovering(accepted: Vec<AcceptedValue>) -> Proposer {
    let mut p = Proposer::new(PaxosConfig::all_roles(1, vec![1, 2, 3]));
    p.campaign();
    let ballot = p.ballot();
    for a in [1, 2] {
        p.on_message(
            ActorAddr::new(a, Role::Acceptor),
            PaxosMessage::Promise {
                ballot,
                accepted: accepted.clone(),
                compacted_through: 0,
            },
        );
    }
    assert!(p.is_leader());
    p
}

/// A leader with nothing to recover, its outputs so far taken.
pub fn leader() -> Proposer {
    let mut p = leader_recovering(Vec::new());
    p.take_ready();
    p
}
