//! The envelope every message travels in, and the TCP handshake.

use crate::ids::{ActorAddr, NodeId};
use crate::opaque::{ForeignMessage, ProtocolMessage, WireMessage};
use crate::service::ServiceMessage;
use serde::{Deserialize, Serialize};

/// What an envelope carries: a protocol's message, whatever the protocol, or one of the KV
/// services' own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// A message of the protocol's roles (Raft RPCs, Paxos messages, ...).
    Protocol(ProtocolMessage),
    /// A message between KV services.
    Service(ServiceMessage),
}

impl Payload {
    /// A protocol's message.
    pub fn protocol<M: WireMessage>(msg: M) -> Self {
        Payload::Protocol(ProtocolMessage::new(msg))
    }

    /// The protocol message as the receiving role's type `M`; an error for a service message
    /// or a message of another type.
    pub fn into_protocol<M: WireMessage>(self) -> Result<M, ForeignMessage> {
        match self {
            Payload::Protocol(msg) => msg.take(),
            Payload::Service(_) => Err(ForeignMessage("a message between KV services".into())),
        }
    }
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
    /// The protocol the caller runs; a caller running another one is refused (protocol
    /// messages travel as opaque bytes, decoded by the receiving role).
    pub protocol: String,
    /// The caller's node id; an id not in the receiver's config is refused.
    pub node: NodeId,
    /// The largest frame the caller may send (its `network.max_frame_bytes`); a receiver whose
    /// own limit is smaller refuses the caller, which would otherwise be cut off at its first
    /// large batch, and again at every retry.
    pub max_frame: u64,
}

impl Handshake {
    /// The wire version this build speaks (2: Paxos's `Voted` and `ChosenSlots`, which an
    /// older node could not decode; 3: the handshake's `max_frame`; 4: roles as names,
    /// protocol messages as opaque bytes, so protocols plug in without a shared enum, and the
    /// handshake's `protocol`).
    pub const VERSION: u32 = 4;
}
