//! What the KV services of two nodes tell each other.
//!
//! A node that is not the leader forwards its clients' commands to the leader's service. It does
//! not wait for a reply carrying the result: it answers its client when it applies the command's
//! entry itself, so the answer reflects its own state. The leader answers a forward only to say
//! "taken" (its protocol has the commands, so the follower need not send them again while that
//! term lasts) or "not me". Linearizable reads ask the leader for a read point.

use crate::ids::NodeId;
use crate::kv::{Command, RequestId};
use serde::{Deserialize, Serialize};

/// Service-to-service messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceMessage {
    /// Please propose these commands (sent to the node believed to lead).
    Forward {
        /// The commands, each with its request id.
        commands: Vec<Command>,
    },
    /// Please confirm a linearizable read point for these reads (sent to the leader).
    ReadIndex {
        /// The sender's read ids.
        ids: Vec<u64>,
    },
    /// The leader's answer: per read, the log position to apply before serving it, or
    /// `None` if it could not confirm it leads.
    ReadIndexReply {
        /// (read id, read point).
        reads: Vec<(u64, Option<u64>)>,
    },
    /// These commands were not proposed here: the receiver is not the leader. A definite
    /// answer: they were not executed through this node.
    Redirect {
        /// The ids of the refused commands.
        ids: Vec<RequestId>,
        /// Who the refusing node believes leads, if it knows.
        leader: Option<NodeId>,
    },
    /// The leader's protocol took these forwarded commands (or holds them already) in `term`
    /// (Raft's term, Paxos's ballot round): it does not lose them while it leads in that term,
    /// so sending them again before the term changes only costs the network their bytes.
    Taken {
        /// The ids of the commands taken.
        ids: Vec<RequestId>,
        /// The term the leader's service saw when it handed them over (never later than the
        /// term its protocol took them in).
        term: u64,
    },
}
