//! The envelope every message travels in, and the TCP handshake.

use crate::ids::{ActorAddr, NodeId};
use crate::paxos::PaxosMessage;
use crate::raft::RaftMessage;
use crate::service::ServiceMessage;
use serde::{Deserialize, Serialize};

/// What an envelope carries: one variant per protocol or service vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// A Raft RPC.
    Raft(RaftMessage),
    /// A Multi-Paxos message.
    Paxos(PaxosMessage),
    /// A message between KV services.
    Service(ServiceMessage),
}

/// A message from one actor to another, wherever they live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending actor.
    pub from: ActorAddr,
    /// The receiving actor.
    pub to: ActorAddr,
    /// The message.
    pub payload: Payload,
}

/// The first frame on every peer connection: who is calling, and for which cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// Wire protocol version; a peer with another version is refused.
    pub version: u32,
    /// The cluster the caller belongs to; a caller of another cluster is refused.
    pub cluster_id: String,
    /// The caller's node id; an id not in the receiver's config is refused.
    pub node: NodeId,
    /// The largest frame the caller may send (its `network.max_frame_bytes`); a receiver whose
    /// own limit is smaller refuses the caller, which would otherwise be cut off at its first
    /// large batch, and again at every retry.
    pub max_frame: u64,
}

impl Handshake {
    /// The wire version this build speaks (2: Paxos's `Voted` and `ChosenSlots`, which an
    /// older node could not decode; 3: the handshake's `max_frame`).
    pub const VERSION: u32 = 3;
}

impl From<RaftMessage> for Payload {
    fn from(msg: RaftMessage) -> Self {
        Payload::Raft(msg)
    }
}

impl TryFrom<Payload> for RaftMessage {
    type Error = Payload;
    fn try_from(payload: Payload) -> Result<Self, Payload> {
        match payload {
            Payload::Raft(msg) => Ok(msg),
            other => Err(other),
        }
    }
}

impl From<ServiceMessage> for Payload {
    fn from(msg: ServiceMessage) -> Self {
        Payload::Service(msg)
    }
}

impl From<PaxosMessage> for Payload {
    fn from(msg: PaxosMessage) -> Self {
        Payload::Paxos(msg)
    }
}

impl TryFrom<Payload> for PaxosMessage {
    type Error = Payload;
    fn try_from(payload: Payload) -> Result<Self, Payload> {
        match payload {
            Payload::Paxos(msg) => Ok(msg),
            other => Err(other),
        }
    }
}
