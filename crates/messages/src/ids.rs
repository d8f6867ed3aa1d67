//! Node ids, roles and the `(node, role)` actor address.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node of the cluster, as numbered in the config file.
pub type NodeId = u64;

/// The roles an actor can play on a node. A message is addressed to `(node, role)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// The Raft replica (leader, candidate or follower).
    Raft,
    /// The Paxos proposer.
    Proposer,
    /// The Paxos acceptor.
    Acceptor,
    /// The Paxos learner.
    Learner,
    /// The client-facing KV service of a node.
    Service,
}

impl Role {
    /// The lower-case name used in configs and logs.
    pub fn name(self) -> &'static str {
        match self {
            Role::Raft => "raft",
            Role::Proposer => "proposer",
            Role::Acceptor => "acceptor",
            Role::Learner => "learner",
            Role::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The address of one actor: a role on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ActorAddr {
    /// The node that hosts the actor.
    pub node: NodeId,
    /// The role the actor plays there.
    pub role: Role,
}

impl ActorAddr {
    /// The address of `role` on `node`.
    pub const fn new(node: NodeId, role: Role) -> Self {
        Self { node, role }
    }
}

impl fmt::Display for ActorAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.node, self.role)
    }
}
