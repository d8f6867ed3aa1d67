//! Who plays which role, and the timing of the protocol in ticks.

use synod_messages::paxos::Value;
use synod_messages::NodeId;

/// A chosen value at least this large (by [`Value::approx_bytes`]) is announced to a learner
/// whose node's acceptor was sent it by its slot only (`ChosenSlots`); that acceptor tells
/// its learner the value (`Voted`), so the value crosses the network once. A smaller value
/// costs less to send again than the extra message on the node, and goes in `Chosen`
/// (measured at 64 clients on 3 nodes: by slot, 256-byte values ran ~3% slower; 16 KiB ones
/// ~11% faster, 64 KiB ones ~23%, 1 MB ones ~70%).
pub const BY_SLOT_BYTES: usize = 1024;

/// Whether `value` is announced by its slot (see [`BY_SLOT_BYTES`]).
pub(crate) fn by_slot(value: &Value) -> bool {
    value.approx_bytes() >= BY_SLOT_BYTES
}

/// The cluster as the Paxos roles see it.
#[derive(Debug, Clone)]
pub struct PaxosConfig {
    /// This node.
    pub id: NodeId,
    /// Nodes hosting a proposer.
    pub proposers: Vec<NodeId>,
    /// Nodes hosting an acceptor (the voters).
    pub acceptors: Vec<NodeId>,
    /// Nodes hosting a learner.
    pub learners: Vec<NodeId>,
    /// A follower proposer starts phase 1 after `[min, max)` ticks without a heartbeat.
    pub election_ticks: (u32, u32),
    /// The leader sends heartbeats every this many ticks; an acceptor fed Accepts that leaves
    /// one unanswered this long (or `resend_ticks`, if shorter; at least 2 ticks) while a slot
    /// waits as long for a majority is replaced by one left out that answered within two
    /// heartbeat rounds (see [`crate::fanout`]).
    pub heartbeat_ticks: u32,
    /// An Accept not answered by a majority is resent to every acceptor after this many ticks.
    pub resend_ticks: u32,
    /// Most slots in one Accept or Chosen message.
    pub max_batch: usize,
    /// Most bytes of values in one Accept or Chosen message (by
    /// [`synod_messages::paxos::Value::approx_bytes`]; one value goes alone whatever its size),
    /// so no message outgrows a frame.
    pub max_batch_bytes: usize,
    /// Most unanswered Accept messages per acceptor (as Raft's `max_inflight`): slots proposed
    /// meanwhile go to it together in its next Accept (one sync there for all of them), and
    /// slots chosen meanwhile by the others are not sent to it.
    pub max_inflight: usize,
    /// Acceptors a leader sends its Accepts to beyond a majority (its own first); the others
    /// are left out of phase 2 until one of those fed holds up a slot (see [`crate::fanout`]).
    /// 0 is thrifty Paxos; the acceptors beyond a majority (2 of 5) or more sends to every
    /// acceptor.
    pub spare_acceptors: usize,
    /// Seed of the timeout RNG (mixed with `id`).
    pub seed: u64,
    /// Bytes per snapshot chunk sent to a lagging learner.
    pub snapshot_chunk: usize,
}

impl PaxosConfig {
    /// Every node plays every role; defaults suited to a 50 ms tick.
    pub fn all_roles(id: NodeId, nodes: Vec<NodeId>) -> Self {
        Self {
            id,
            proposers: nodes.clone(),
            acceptors: nodes.clone(),
            learners: nodes,
            election_ticks: (10, 20),
            heartbeat_ticks: 2,
            resend_ticks: 6,
            max_batch: 512,
            max_batch_bytes: 8 << 20,
            max_inflight: 1,
            spare_acceptors: 1,
            seed: 0,
            snapshot_chunk: 1 << 20,
        }
    }

    /// How many acceptors make a majority.
    pub fn quorum(&self) -> usize {
        self.acceptors.len() / 2 + 1
    }

    /// How many acceptors a leader sends its Accepts to (see [`crate::fanout`]).
    pub fn accept_fanout(&self) -> usize {
        self.quorum() + self.spare_acceptors
    }
}
