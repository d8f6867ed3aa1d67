//! The messages the [`Router`](crate::Router) understands and the one it delivers.
//!
//! `Send` is deliberately named like the marker trait: refer to it as `synod_network::Send` (or
//! import it under another name) rather than importing it bare.

use actix::Message;
use std::net::SocketAddr;
use synod_messages::{Envelope, Role};

/// Delivered to a local actor: the recipient registered for `envelope.to.role` on this node.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Deliver(pub Envelope);

/// Sent to the router by local actors: route this envelope, through the fault filter, to a local
/// actor, another in-process router or a TCP peer. The filter judges the link
/// `envelope.from.node -> envelope.to.node`, so `from.node` should be this router's node (a TCP
/// peer drops envelopes whose sender is not the node that connected).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Send(pub Envelope);

/// Registers a local actor for a role on this node (replacing any earlier one for that role).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Register {
    /// The role the actor plays.
    pub role: Role,
    /// Where envelopes addressed to `(this node, role)` go.
    pub recipient: actix::Recipient<Deliver>,
}

/// Removes the local actor of a role; envelopes to it are then dropped.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct Unregister {
    /// The role to forget.
    pub role: Role,
}

/// Asks for the address the peer listener is bound to (`None` without a listener). Useful when
/// the config asked for port 0.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Option<SocketAddr>")]
pub struct GetLocalAddr;

/// Asks for the router's counters.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "crate::NetworkStats")]
pub struct GetStats;

/// Asks for the bytes queued for each TCP peer, not yet written to its connection.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Vec<(synod_messages::NodeId, usize)>")]
pub struct GetQueued;

/// Stops the router: closes its listener, its inbound and outbound connections, and removes it
/// from its [`LocalHub`](crate::LocalHub).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// An envelope that already passed the sender's fault filter (from a router in the same process
/// or from a TCP peer): delivered locally without filtering again.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Inbound(pub(crate) Envelope);

/// Counters of what a router did with envelopes, since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Envelopes handed to a local actor.
    pub delivered_local: u64,
    /// Envelopes handed to another router of the same process.
    pub sent_hub: u64,
    /// Envelopes queued for a TCP peer.
    pub queued_tcp: u64,
    /// Envelopes received from other routers (in-process or TCP).
    pub received: u64,
    /// Envelopes the fault filter dropped.
    pub dropped_by_faults: u64,
    /// Envelopes for a role no local actor is registered for.
    pub dropped_unknown_role: u64,
    /// Envelopes for a node that is neither local, in the hub nor a configured peer.
    pub dropped_unknown_node: u64,
    /// Envelopes dropped because the peer's outbound queue was full.
    pub dropped_queue_full: u64,
    /// Envelopes dropped because they could not be framed (larger than the largest frame).
    pub dropped_unframed: u64,
}
