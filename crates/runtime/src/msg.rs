//! The actix messages between the HTTP layer, the service and the protocol shells.

use actix::Message;
use serde::Serialize;
use synod_core::{Applied, NotLeader, Snapshot, Status};
use synod_messages::{KvOp, KvResult, NodeId, RequestId, Role};

/// Service → protocol: replicate these commands.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), NotLeader>")]
pub struct Propose(pub Vec<synod_messages::Command>);

/// Protocol → service: replace the state machine by `snapshot` (if any), then apply these
/// committed log positions, in order; and these reads were confirmed (or not).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ApplyBatch {
    /// An image to install first (received from the leader, or restored at start).
    pub snapshot: Option<Snapshot>,
    /// Committed positions.
    pub entries: Vec<Applied>,
    /// (read id, read point or `None`).
    pub reads: Vec<(u64, Option<u64>)>,
}

/// Service → protocol: confirm read points for these reads (ReadIndex).
#[derive(Debug, Message)]
#[rtype(result = "Result<(), NotLeader>")]
pub struct Read(pub Vec<u64>);

/// Service → protocol: the state machine was snapshotted; drop what it covers.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Compact(pub Snapshot);

/// Protocol → service: who leads changed (or the term did).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct RoleChanged(pub Status);

/// Anyone → protocol: its status.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Status")]
pub struct GetStatus;

/// How a read is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Through the protocol: reflects every write acknowledged before it started.
    #[default]
    Linearizable,
    /// The local copy, possibly behind.
    Stale,
}

/// HTTP → service: one client operation.
#[derive(Debug, Message)]
#[rtype(result = "Result<KvResult, ClientError>")]
pub struct ClientRequest {
    /// The operation.
    pub op: KvOp,
    /// The client's own id for it (for retries), if it gave one.
    pub id: Option<RequestId>,
    /// For reads.
    pub consistency: Consistency,
    /// The request body's share of the node's budget: held until the command is answered or
    /// expires, even if the client went away meanwhile.
    pub held: Option<crate::admission::Reservation>,
}

/// Why a client request got no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No leader could be reached; the command was definitely not executed.
    #[error("no leader is available")]
    NoLeader {
        /// Who this node last believed led.
        leader: Option<NodeId>,
    },
    /// The command was sent but no outcome arrived in time: it may or may not have happened.
    #[error("timed out; the outcome is unknown")]
    Timeout,
    /// The node cannot serve (it is shutting down, an actor is gone); the request never
    /// reached the service, so it was not executed.
    #[error("node unavailable: {0}")]
    Unavailable(String),
    /// The node stopped (or its service went away) while the command was in its hands: it may
    /// or may not have been executed.
    #[error("interrupted: {0}; the outcome is unknown")]
    Interrupted(String),
    /// This node's storage failed (full disk, I/O error) while the command was in its hands;
    /// the command may or may not have been executed.
    #[error("storage failed on this node (full disk or I/O error); the outcome is unknown")]
    Storage,
}

/// HTTP → service: the node's status.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Option<NodeStatus>")]
pub struct GetNodeStatus;

/// A ballot in `/v1/status`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct BallotView {
    /// The round.
    pub round: u64,
    /// The proposer owning it.
    pub node: NodeId,
}

/// `/v1/status`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeStatus {
    /// This node.
    pub node_id: NodeId,
    /// "raft" or "paxos".
    pub protocol: &'static str,
    /// The role the node's protocol core plays now (Raft: leader/candidate/follower; Paxos:
    /// the proposer's leader/candidate/follower, or "learner" on an observer).
    pub role: &'static str,
    /// The actors the node hosts.
    pub roles: Vec<Role>,
    /// Paxos: the ballot `{round, node}` the node works in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ballot: Option<BallotView>,
    /// Term (Raft) or ballot round (Paxos).
    pub term: u64,
    /// The leader as far as this node knows.
    pub leader_id: Option<NodeId>,
    /// Highest log position known committed (chosen) here; never below `applied_index`.
    pub commit_index: u64,
    /// Last position of the local log (or, without one, the highest position this node
    /// knows of); never below `applied_index`.
    pub last_log_index: u64,
    /// Highest log position applied to the KV store here.
    pub applied_index: u64,
    /// Log position of the last snapshot taken or installed here.
    pub snapshot_index: u64,
    /// Number of keys in the local store.
    pub keys: usize,
    /// A leader: the nodes it writes the log to (Raft: every voter; Paxos: the acceptors it
    /// sends Accepts to, a majority and `paxos.spare_acceptors` spares).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub writes_to: Vec<NodeId>,
    /// A leader: for each node it writes to, the highest log position it knows that node
    /// holds (Raft: the match index; Paxos: the highest slot the acceptor accepted in this
    /// leadership). `last_log_index` minus it is how far that node is behind.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub replicated: std::collections::BTreeMap<NodeId, u64>,
}

/// Stops an actor (a clean in-process shutdown of a node).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Stop;
