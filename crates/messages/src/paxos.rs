//! Multi-Paxos messages, named as in the seed and in Lamport's "Paxos Made Simple":
//! Prepare/Promise (phase 1), Accept/Accepted (phase 2), and Rejected, which carries the higher
//! ballot the acceptor holds.

use crate::ids::NodeId;
use crate::kv::Command;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A position in the replicated log, from 1.
pub type Slot = u64;

/// A proposal number: unique per proposer (the node id breaks ties) and totally ordered,
/// first by round, then by node.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Ballot {
    /// Increases with every new attempt to lead.
    pub round: u64,
    /// The proposer that owns the ballot.
    pub node: NodeId,
}

impl Ballot {
    /// The ballot `(round, node)`.
    pub const fn new(round: u64, node: NodeId) -> Self {
        Self { round, node }
    }
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.round, self.node)
    }
}

/// What a slot holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    /// Fills a hole a new leader found in the log.
    Noop,
    /// A client command.
    Command(Command),
}

impl Value {
    /// About the bytes it takes encoded with its slot (see [`Command::approx_bytes`]).
    pub fn approx_bytes(&self) -> usize {
        match self {
            Value::Noop => 16,
            Value::Command(c) => c.approx_bytes() + 16,
        }
    }
}

/// A value an acceptor accepted, with the ballot it accepted it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedValue {
    /// The slot.
    pub slot: Slot,
    /// The ballot of the Accept.
    pub ballot: Ballot,
    /// The value.
    pub value: Value,
}

/// The Multi-Paxos messages between proposers, acceptors and learners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaxosMessage {
    /// Phase 1a, proposer → acceptors: promise me `ballot` for every slot from `from_slot` on.
    Prepare {
        /// The proposal number.
        ballot: Ballot,
        /// The first slot the proposer does not know to be chosen.
        from_slot: Slot,
    },
    /// Phase 1b, acceptor → proposer: promised, with everything I accepted from `from_slot` on,
    /// in `parts` messages (so none outgrows a frame); the promise counts once all arrived.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// What this acceptor accepted, for the slots asked about (this part of it).
        accepted: Vec<AcceptedValue>,
        /// Every slot up to this one is chosen and was compacted away here: do not propose
        /// for them (0: nothing compacted).
        compacted_through: Slot,
        /// Which part this is, from 0.
        part: u32,
        /// How many parts the promise has (at least 1).
        parts: u32,
    },
    /// Phase 2a, proposer → acceptors: accept these values in `ballot`.
    Accept {
        /// The proposal number.
        ballot: Ballot,
        /// Slots and values.
        entries: Vec<(Slot, Value)>,
    },
    /// Phase 2b, acceptor → proposer: accepted these slots in `ballot`.
    Accepted {
        /// The proposal number.
        ballot: Ballot,
        /// The slots accepted.
        slots: Vec<Slot>,
    },
    /// Acceptor → proposer: refused `ballot`, because I promised the higher `promised`.
    Rejected {
        /// The refused ballot.
        ballot: Ballot,
        /// The ballot this acceptor holds.
        promised: Ballot,
    },
    /// Leader → learners (and learner → learner when catching up): these slots are chosen.
    Chosen {
        /// Slots and their chosen values.
        entries: Vec<(Slot, Value)>,
    },
    /// Leader → proposers and learners: I lead in `ballot`; every slot up to `chosen_upto` is
    /// chosen.
    Heartbeat {
        /// The leader's ballot.
        ballot: Ballot,
        /// Every slot up to this one is chosen.
        chosen_upto: Slot,
    },
    /// Leader → acceptors: do you still hold no promise above my ballot? One round confirms
    /// every read registered before it (a read barrier, as Raft's ReadIndex).
    ReadBarrier {
        /// The leader's ballot.
        ballot: Ballot,
        /// The leader's read round.
        seq: u64,
    },
    /// Acceptor → leader: yes, for this round (a higher promise is answered `Rejected`).
    ReadBarrierAck {
        /// The ballot confirmed.
        ballot: Ballot,
        /// The round answered.
        seq: u64,
    },
    /// Learner → learners: send me the chosen values from `from_slot` on (or, if you
    /// compacted them, your snapshot from byte `snapshot_offset`).
    CatchUp {
        /// The first slot the learner lacks.
        from_slot: Slot,
        /// Bytes of the answering learner's snapshot already received.
        snapshot_offset: u64,
    },
    /// Learner → learner: a chunk of a snapshot covering every slot up to `slot`.
    SnapshotChunk {
        /// The last slot the snapshot covers.
        slot: Slot,
        /// Byte offset of this chunk.
        offset: u64,
        /// The bytes.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        /// True for the last chunk.
        done: bool,
    },
    /// Learner → the proposer of its node: I delivered every slot up to `delivered_upto`.
    Progress {
        /// The learner's contiguous prefix.
        delivered_upto: Slot,
    },
    /// Learner → the acceptor of its node: my snapshot through `slot` is durable, so the votes
    /// of those slots may be forgotten (they are chosen, and the snapshot holds them).
    Snapshotted {
        /// The last slot the snapshot covers.
        slot: Slot,
    },
    /// Acceptor → the learner of its node, once the votes are durable: I accepted these values
    /// in `ballot`. (Paxos Made Simple has acceptors tell the learners what they accept; here
    /// the message stays on its node, so that a value crosses the network once, in the Accept.)
    Voted {
        /// The ballot of the votes.
        ballot: Ballot,
        /// Slots and values accepted.
        entries: Vec<(Slot, Value)>,
    },
    /// Leader → a learner whose node's acceptor was sent these slots: the values proposed in
    /// `ballot` for them are chosen. The learner takes each value from its acceptor's `Voted`
    /// (one value per slot and ballot), or, should that vote never come, from the others.
    ChosenSlots {
        /// The ballot the values were proposed in.
        ballot: Ballot,
        /// The slots chosen.
        slots: Vec<Slot>,
    },
}
