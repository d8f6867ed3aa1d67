//! Pure Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm").
//!
//! ```text
//!            times out,            receives votes
//!            starts election       from majority
//!  Follower ───────────────► Candidate ───────────────► Leader
//!     ▲  ▲                      │  │                      │
//!     │  └──── discovers leader ┘  └─ times out: new term │
//!     └──────────────── discovers higher term ────────────┘
//! ```
//! With PreVote (the default, dissertation §9.6) a timeout first makes a PreCandidate that
//! keeps its term and asks whether a majority would vote for it; only then does it stand.
//!
//! [`Raft`] is a deterministic state machine implementing [`synod_core::Core`]: RequestVote with
//! the up-to-date check (§5.4.1), AppendEntries with the consistency check, conflict truncation and
//! a fast back-off hint (§5.3), commitment only by counting entries of the current term (§5.4.2,
//! Figure 8), a no-op entry on election (§8), heartbeats, randomized election timeouts in logical
//! ticks from a seeded RNG, batched replication, pipelined up to `max_inflight` batches per
//! follower (1 by default; the leader writes its own entries as they leave, §10.2.1, holding
//! those no follower can take yet), check-quorum (a leader that has not heard from a majority
//! for an election timeout steps down), PreVote, ReadIndex reads (§6.4) and snapshots with
//! InstallSnapshot (§7).
//!
//! Files: `raft` the core and its configuration, [`log`] the in-memory log, [`state`] the
//! durable state and its ops, [`progress`] the leader's view of each follower, `election` and
//! `replication` the two halves of the protocol, `read` ReadIndex, `snapshot` InstallSnapshot
//! and compaction.

mod election;
pub mod invariants;
pub mod log;
pub mod progress;
pub mod protocol;
mod raft;
mod read;
mod replication;
pub mod scenario;
mod snapshot;
pub mod state;

pub use protocol::{RaftProtocol, RaftSection};

/// The role of a Raft replica: one per node.
pub const RAFT: synod_messages::Role = synod_messages::Role::named("raft");
pub use raft::{Raft, RaftConfig};
pub use state::{HardState, RaftPersist, RaftState, SnapshotRecord};
pub use synod_messages::raft::{ConflictHint, Entry, EntryPayload, Index, RaftMessage, Term};
