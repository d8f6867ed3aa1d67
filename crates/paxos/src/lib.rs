//! Pure Multi-Paxos with the three classic roles, each a deterministic [`synod_core::Core`].
//!
//! ```text
//!   Proposer ──Prepare(b, from)──► Acceptor      phase 1: once per leadership
//!   Proposer ◄──Promise(b, acc)─── Acceptor               (or Rejected(b, promised))
//!   Proposer ──Accept(b, slots)──► Acceptor      phase 2: per batch of slots
//!   Proposer ◄──Accepted(b, …)──── Acceptor
//!   Acceptor ──Voted(b, values)──► Learner (same node): what it accepted
//!   Proposer ──ChosenSlots(b, s)─► Learner ──Applied (slot order)──► KV service
//!             (or Chosen(values), to a learner whose node's acceptor lacks them)
//!   Proposer ──Heartbeat(b, k)───► Proposers, Learners
//!   Proposer ──ReadBarrier(b, n)─► Acceptor ──ReadBarrierAck(b, n)──► Proposer
//!             (one numbered barrier per heartbeat or burst of reads: check-quorum, reads)
//!   Learner ──Snapshotted(s)─────► Acceptor (same node): forget votes up to s
//!   Learner ──Progress(s)────────► Proposer (same node): what it delivered
//!   Learner ──CatchUp / SnapshotChunk──► Learner: a lagging learner pulls what it missed
//! ```
//!
//! * [`Acceptor`] votes: it promises not to accept lower ballots and persists its promise and
//!   every accepted value before answering.
//! * [`Proposer`]: one of them is the distinguished proposer (the leader). It runs phase 1 once
//!   for every slot not known to be chosen, re-proposes the highest-ballot value found for each
//!   slot and fills holes with no-ops, then runs only phase 2 while it leads, pipelining many
//!   slots (one command per slot, many slots per Accept) through a small window per acceptor
//!   (`window`), to a majority of the acceptors and a spare (`fanout`). Followers detect a
//!   silent leader with randomized timeouts in logical ticks; a proposer that sees a higher
//!   ballot steps down, and so does a leader no majority answers (check-quorum) or that gets
//!   nothing chosen for an election timeout.
//! * [`Learner`] collects chosen values and delivers them in slot order; a lagging learner asks
//!   the others for what it missed. It persists only snapshots (chosen values stay recoverable
//!   from the acceptors until a snapshot covering them is durable).
//!
//! [`scenario`] replays the two worked examples of docs/concepts.md through a scripted network.

pub mod acceptor;
pub mod config;
mod fanout;
pub mod invariants;
pub mod learner;
pub mod proposer;
pub mod protocol;
mod read;
pub mod scenario;
mod window;

pub use acceptor::{Acceptor, AcceptorOp, AcceptorState};
pub use config::PaxosConfig;
pub use learner::{Learner, LearnerOp, LearnerState};
pub use proposer::Proposer;
pub use protocol::{PaxosProtocol, PaxosSection};

use synod_messages::Role;

/// The proposer's role: proposes values; one proposer at a time leads.
pub const PROPOSER: Role = Role::named("proposer");
/// The acceptor's role: votes on proposals .
pub const ACCEPTOR: Role = Role::named("acceptor");
/// The learner's role: learns chosen values and applies them to the node's store.
pub const LEARNER: Role = Role::named("learner");
pub use synod_messages::paxos::{AcceptedValue, Ballot, PaxosMessage, Slot, Value};
