//! Shared by the proposer tests: a leader made by hand.

#![allow(dead_code)] // each test file uses its own part

use synod_core::Core;
use synod_messages::paxos::{AcceptedValue, PaxosMessage, Slot};
use synod_messages::{ActorAddr, Command, KvOp, NodeId, RequestId};
use synod_paxos::{PaxosConfig, Proposer};

/// Proposer 1's configuration: every node 1-3 plays every role, with the default settings.
pub fn config() -> PaxosConfig {
    PaxosConfig::all_roles(1, vec![1, 2, 3])
}

/// Proposer 1 of acceptors 1-3 after a phase 1 that acceptors 1 and 2 answered, each
/// reporting `accepted`; its outputs so far (the recovery Accepts, the heartbeat) are not taken.
pub fn leader_recovering(accepted: Vec<AcceptedValue>) -> Proposer {
    leader_recovering_with(config(), accepted)
}

/// [`leader_recovering`] with configuration `cfg`.
pub fn leader_recovering_with(cfg: PaxosConfig, accepted: Vec<AcceptedValue>) -> Proposer {
    let mut p = Proposer::new(cfg);
    p.campaign();
    for a in [1, 2] {
        promise(&mut p, a, accepted.clone());
    }
    assert!(p.is_leader());
    p
}

/// A leader with nothing to recover, its outputs so far taken.
pub fn leader() -> Proposer {
    leader_with(config())
}

/// [`leader`] with configuration `cfg`.
pub fn leader_with(cfg: PaxosConfig) -> Proposer {
    let mut p = leader_recovering_with(cfg, Vec::new());
    p.take_ready();
    p
}

/// A leader that every acceptor (1, 2 and 3) promised, its outputs so far taken.
pub fn leader_of_three() -> Proposer {
    leader_of_three_with(config())
}

/// [`leader_of_three`] with configuration `cfg`.
pub fn leader_of_three_with(cfg: PaxosConfig) -> Proposer {
    let mut p = leader_with(cfg);
    promise(&mut p, 3, Vec::new());
    p.take_ready();
    p
}

/// Acceptor `from` promises `p`'s ballot, reporting `accepted`.
pub fn promise(p: &mut Proposer, from: u64, accepted: Vec<AcceptedValue>) {
    promise_compacted(p, from, accepted, 0);
}

/// Acceptor `from` promises `p`'s ballot, reporting `accepted` and that it forgot its votes
/// up to `compacted_through` (its learner's snapshot covers them).
pub fn promise_compacted(
    p: &mut Proposer,
    from: u64,
    accepted: Vec<AcceptedValue>,
    compacted_through: Slot,
) {
    promise_part(p, from, accepted, compacted_through, (0, 1));
}

/// Part `part` of `parts` of acceptor `from`'s promise of `p`'s ballot.
pub fn promise_part(
    p: &mut Proposer,
    from: u64,
    accepted: Vec<AcceptedValue>,
    compacted_through: Slot,
    (part, parts): (u32, u32),
) {
    let ballot = p.ballot();
    p.on_message(
        ActorAddr::new(from, synod_paxos::ACCEPTOR),
        PaxosMessage::Promise {
            ballot,
            accepted,
            compacted_through,
            part,
            parts,
        },
    );
}

/// Acceptor `from` answers `p`'s read barrier `seq`.
pub fn barrier_ack(p: &mut Proposer, from: NodeId, seq: u64) {
    let ballot = p.ballot();
    p.on_message(
        ActorAddr::new(from, synod_paxos::ACCEPTOR),
        PaxosMessage::ReadBarrierAck { ballot, seq },
    );
}

/// A client's put, numbered `seq`.
pub fn put(seq: u64) -> Command {
    Command {
        id: RequestId { client: 9, seq },
        op: KvOp::Put {
            key: format!("k{seq}"),
            value: b"v".to_vec(),
        },
    }
}

/// A client's put of a value large enough to be announced by its slot, numbered `seq`.
pub fn big(seq: u64) -> Command {
    Command {
        id: RequestId { client: 9, seq },
        op: KvOp::Put {
            key: format!("k{seq}"),
            value: vec![7; synod_paxos::config::BY_SLOT_BYTES],
        },
    }
}

/// Acceptor `from` accepted `slots` in `p`'s ballot.
pub fn accepted(p: &mut Proposer, from: u64, slots: Vec<Slot>) {
    let ballot = p.ballot();
    p.on_message(
        ActorAddr::new(from, synod_paxos::ACCEPTOR),
        PaxosMessage::Accepted { ballot, slots },
    );
}
