//! The vocabulary every Synod crate speaks.
//!
//! ```text
//!   Envelope { from: ActorAddr(node, role), to: ActorAddr(node, role), payload }
//!                                                                      │
//!                    ┌─────────────────────────────────────────────────┘
//!      Payload::Protocol(any protocol's message)        Payload::Service
//!   e.g. RequestVote/AppendEntries, Prepare/Promise/…   Forward/Redirect/ReadIndex(Reply)
//! ```
//!
//! Roles are names (`Role::named("acceptor")`) and a protocol's messages travel opaque
//! ([`opaque::ProtocolMessage`]), so a protocol plugs in without editing this crate; the Raft
//! and Paxos message types live here as the vocabulary their crates share with the tests.
//!
//! * [`ids`]: node ids, roles and actor addresses.
//! * [`opaque`]: a protocol's message in an envelope, typed in-process, bytes on the wire.
//! * [`kv`]: client commands (put/get/delete/cas), their request ids and results.
//! * [`raft`]: the Raft RPCs with the paper's names and fields.
//! * [`paxos`]: the Multi-Paxos messages (Prepare/Promise, Accept/Accepted, Rejected, ...).
//! * [`service`]: what one node's KV service tells another (forwarding to the leader, asking it
//!   for a read point).
//! * [`codec`]: the one place that knows the wire format (bincode 2 over serde, length-prefixed).
//! * [`batch`]: batches bounded by count and bytes, so no message outgrows a frame.

pub mod batch;
pub mod codec;
pub mod envelope;
pub mod ids;
pub mod kv;
pub mod opaque;
pub mod paxos;
pub mod raft;
pub mod service;

pub use envelope::{Envelope, Handshake, Payload};
pub use ids::{ActorAddr, NodeId, Role};
pub use kv::{Command, KvOp, KvResult, RequestId};
pub use opaque::{ForeignMessage, ProtocolMessage, WireMessage};
