//! The contract between a pure protocol core and the actor shell that drives it.
//!
//! ```text
//!   inputs                      ┌────────────┐        outputs (Ready, in this order)
//!   message(from, msg) ───────► │            │ ──► 0. eager messages (network, need no sync)
//!   tick()             ───────► │    Core    │ ──► 1. persist ops    (storage, one sync)
//!   propose(commands)* ───────► │  (no IO)   │     └► persisted()    (back to the core)
//!   read_index(id)*    ───────► │            │ ──► 2. messages       (network)
//!   compact(snapshot)  ───────► │            │ ──► 3. snapshot, applied, reads (KV service)
//!                               └────────────┘
//!   * Proposing roles only (they take client commands); every role is a Core.
//! ```
//!
//! [`driver`] carries the outputs out, for the actor shell, the simulator and the tests alike.
//!
//! A core never touches a socket, a clock, a thread or a global RNG: time is a tick, randomness a
//! seeded generator, and everything it wants done is returned as data. The shell carries the
//! outputs out in the order above, so nothing leaves the node before the state it depends on is
//! durable — except the eager messages, which the core marks as depending on nothing the persist
//! writes (a Raft leader's AppendEntries, sent while it writes the same entries: dissertation
//! §10.2.1).

pub mod deferred;
pub mod driver;
pub mod invariants;
pub mod protocol;
pub mod read_rounds;
pub mod storage;

use synod_messages::{ActorAddr, Command, NodeId};

pub use deferred::DeferredCompaction;
pub use invariants::{Invariants, StepView};
pub use protocol::{Guarantee, Host, Member, Protocol, RoleSpec, Scenario, Setup, Visitor};
pub use read_rounds::ReadRounds;
pub use storage::{
    decode_row, encode_row, DurableState, MemoryStorage, Row, Rows, Schema, Stateless, Storage,
    StorageError,
};

/// The blob key under which a core's state stores its snapshot (see
/// [`Storage::take_stored_blob`]).
pub const SNAPSHOT_BLOB: &str = "snapshot";

/// A committed log position delivered to the state machine, in order, exactly once per core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The position in the protocol's log (Raft index, Paxos slot).
    pub index: u64,
    /// The command there (`None` for a no-op).
    pub command: Option<Command>,
}

/// A state machine image: everything applied up to and including log position `index`.
#[derive(Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last position the image includes.
    pub index: u64,
    /// The state machine's bytes.
    pub data: bytes::Bytes,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Snapshot {{ index: {}, {} bytes }}",
            self.index,
            self.data.len()
        )
    }
}

/// Everything a core asks the shell to do after some inputs.
#[derive(Debug)]
pub struct Ready<M, P> {
    /// Send these before (or while) persisting: nothing in them depends on `persist`.
    pub eager: Vec<(ActorAddr, M)>,
    /// Make these durable (in order; one sync for all of them), then call [`Core::persisted`].
    pub persist: Vec<P>,
    /// Then send these.
    pub messages: Vec<(ActorAddr, M)>,
    /// Then replace the state machine by this image (a snapshot received or restored)...
    pub snapshot: Option<Snapshot>,
    /// ...and apply these, in order.
    pub applied: Vec<Applied>,
    /// Read requests answered: serve read `id` once the state machine applied `index`;
    /// `None` means the core could not confirm it leads (retry elsewhere).
    pub reads: Vec<(u64, Option<u64>)>,
}

impl<M, P> Default for Ready<M, P> {
    fn default() -> Self {
        Self {
            eager: Vec::new(),
            persist: Vec::new(),
            messages: Vec::new(),
            snapshot: None,
            applied: Vec::new(),
            reads: Vec::new(),
        }
    }
}

impl<M, P> Ready<M, P> {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.eager.is_empty()
            && self.persist.is_empty()
            && self.messages.is_empty()
            && self.snapshot.is_none()
            && self.applied.is_empty()
            && self.reads.is_empty()
    }
}

/// The proposal was refused because this core does not lead; nothing was executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not the leader (leader hint: {leader:?})")]
pub struct NotLeader {
    /// Who this core believes leads, if anyone.
    pub leader: Option<NodeId>,
}

/// Where a role stands in its protocol now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// It leads: it takes client commands (Raft leader, Paxos distinguished proposer).
    Leader,
    /// It asks for votes to lead (Raft candidate, Paxos proposer in phase 1).
    Candidate,
    /// It asks for pre-votes before standing (Raft's pre-vote).
    PreCandidate,
    /// It follows a leader, or waits for one.
    Follower,
    /// A role that never leads: it votes (a Paxos acceptor).
    Acceptor,
    /// A role that never leads: it learns what was decided (a Paxos learner).
    Learner,
}

impl Standing {
    /// The word `/v1/status` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Leader => "leader",
            Standing::Candidate => "candidate",
            Standing::PreCandidate => "pre-candidate",
            Standing::Follower => "follower",
            Standing::Acceptor => "acceptor",
            Standing::Learner => "learner",
        }
    }
}

/// A role's view of itself, for `/v1/status` and for routing client requests.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// The protocol's name ("raft", "paxos").
    pub protocol: &'static str,
    /// Where the role stands now.
    pub standing: Standing,
    /// The number of the current leadership attempt: Raft's term, the round of a Paxos
    /// ballot. It only grows; a change means another leadership.
    pub epoch: u64,
    /// Who leads, as far as this role knows.
    pub leader: Option<NodeId>,
    /// The highest log position known to be committed (chosen).
    pub commit_index: u64,
    /// The last position of the local log.
    pub last_index: u64,
    /// The ballot `(round, node)` this role works in (Paxos only).
    pub ballot: Option<(u64, NodeId)>,
    /// A leader: the nodes it writes the log to, each with the highest log position it knows
    /// that node holds ([`Proposing::writes_to`]); filled in for `/v1/status` only, empty
    /// otherwise.
    pub writes_to: Vec<(NodeId, u64)>,
    /// The role's storage failed: it is paused until it has recovered from its durable state
    /// (set by the shell that drives it, never by a core).
    pub storage_failed: bool,
}

impl Status {
    /// The word `/v1/status` shows: where it stands, or `failed` while its storage fails.
    pub fn role_word(&self) -> &'static str {
        if self.storage_failed {
            "failed"
        } else {
            self.standing.as_str()
        }
    }
}

/// A pure, deterministic protocol role: inputs in, [`Ready`] out.
pub trait Core: Send + 'static {
    /// The wire messages this core exchanges.
    type Message: Clone + std::fmt::Debug + Send + 'static;
    /// What it asks the storage to make durable.
    type Persist: std::fmt::Debug + Send + 'static;

    /// A message from another actor.
    fn on_message(&mut self, from: ActorAddr, msg: Self::Message);
    /// One logical tick of time.
    fn on_tick(&mut self);
    /// The state machine was snapshotted at `snapshot.index`: the core may drop what it holds
    /// up to there (log compaction). Cores without a log ignore it.
    fn compact(&mut self, snapshot: Snapshot) {
        let _ = snapshot;
    }
    /// Takes the outputs accumulated since the last call.
    fn take_ready(&mut self) -> Ready<Self::Message, Self::Persist>;
    /// The `persist` of the last [`Ready`] taken is durable. Drivers call it after every
    /// successful persist of a non-empty `persist`, before taking the next `Ready`.
    fn persisted(&mut self) {}
    /// The snapshot at `index` this core just persisted (one it received: [`Ready::snapshot`])
    /// is now `data`, the same bytes read-only from the storage's file: keep those, not the
    /// copy in memory. Cores without snapshots ignore it.
    fn snapshot_stored(&mut self, index: u64, data: bytes::Bytes) {
        let _ = (index, data);
    }
    /// The core's current view of itself.
    fn status(&self) -> Status;
}

/// A role that takes client commands: it replicates them while it leads, and otherwise says
/// who leads (Raft's replica, the Paxos proposer). Roles that never take commands (an
/// acceptor, a learner) do not implement it.
pub trait Proposing: Core {
    /// Client commands to replicate. Only a leading core accepts them.
    fn propose(&mut self, commands: Vec<Command>) -> Result<(), NotLeader>;
    /// A linearizable read point for read `id`: the core answers in [`Ready::reads`] once it
    /// has confirmed that it still leads, with the log position the state machine must have
    /// applied before the read is served (ReadIndex, read barrier).
    fn read_index(&mut self, id: u64) -> Result<(), NotLeader>;
    /// A leader: the nodes it writes the log to (Raft: every voter, itself among them; Paxos:
    /// the acceptors it sends Accepts to), each with the highest log position it knows that
    /// node holds (Raft: the match index, its own durable index; Paxos: the highest slot the
    /// acceptor accepted in this leadership). Empty when it does not lead.
    fn writes_to(&self) -> Vec<(NodeId, u64)>;
}
