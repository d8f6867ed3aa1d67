//! One simulated node's protocol: the pure cores of Raft or of the three Paxos roles, with
//! the memory storage that survives its crashes.

use synod_core::driver::{self, Effects};
use synod_core::{
    Applied, Core, DurableState, MemoryStorage, NotLeader, Snapshot, Stateless, Storage,
    StorageError,
};
use synod_messages::{ActorAddr, Command, NodeId, Payload, Role};
use synod_paxos::{
    Acceptor, AcceptorOp, AcceptorState, Learner, LearnerState, PaxosConfig, Proposer,
};
use synod_raft::{Raft, RaftConfig, RaftPersist, RaftState};

/// Which protocol the simulated cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Protocol {
    /// Raft.
    Raft,
    /// Multi-Paxos.
    Paxos,
}

/// What a node persisted: survives a crash; everything else is lost.
#[derive(Clone)]
pub enum Disk {
    /// Raft's term, vote, log, snapshot.
    Raft(MemoryStorage<RaftState>),
    /// The acceptor's and the learner's state (the proposer keeps none).
    Paxos {
        /// Promise and accepted values.
        acceptor: MemoryStorage<AcceptorState>,
        /// Chosen values and snapshot.
        learner: MemoryStorage<LearnerState>,
    },
}

impl Disk {
    /// An empty disk for `protocol`.
    pub fn new(protocol: Protocol) -> Self {
        match protocol {
            Protocol::Raft => Disk::Raft(MemoryStorage::new()),
            Protocol::Paxos => Disk::Paxos {
                acceptor: MemoryStorage::new(),
                learner: MemoryStorage::new(),
            },
        }
    }

    /// The position its snapshot covers (0 without one).
    pub fn snapshot_index(&self) -> u64 {
        match self {
            Disk::Raft(store) => store.snapshot().snapshot.map_or(0, |s| s.index),
            Disk::Paxos { learner, .. } => learner.snapshot().snapshot.map_or(0, |s| s.index),
        }
    }
}

/// Everything a replica did in one step, as the invariants and the network see it.
#[derive(Default)]
pub struct Output {
    /// Messages to send: (from, to, payload).
    pub messages: Vec<(ActorAddr, ActorAddr, Payload)>,
    /// Raft's persisted ops.
    pub raft_ops: Vec<RaftPersist>,
    /// The Paxos acceptor's persisted ops.
    pub acceptor_ops: Vec<AcceptorOp>,
    /// A state machine image to install first.
    pub snapshot: Option<Snapshot>,
    /// Committed positions to apply.
    pub applied: Vec<Applied>,
    /// Read points confirmed (or refused) by Raft's ReadIndex.
    pub reads: Vec<(u64, Option<u64>)>,
}

/// The protocol cores of one live node.
pub enum Replica {
    /// One Raft core.
    Raft(Box<Raft>),
    /// The three Paxos roles.
    Paxos {
        /// The proposer.
        proposer: Box<Proposer>,
        /// The acceptor.
        acceptor: Box<Acceptor>,
        /// The learner.
        learner: Box<Learner>,
    },
}

/// The leader's window per follower or acceptor, 1 (the default) to 4 by seed: every node
/// of a run has the same, and runs of many seeds try each.
fn window(seed: u64) -> usize {
    1 + (seed % 4) as usize
}

/// Paxos acceptors fed Accepts beyond a majority: none (thrifty), one, or two (every one of
/// five).
fn spare_acceptors(seed: u64) -> usize {
    ((seed / 7) % 3) as usize
}

/// The bytes of commands per message: a third of the seeds cut batches (and Paxos promises)
/// after a few commands, as large values do in a real cluster.
fn batch_bytes(seed: u64) -> usize {
    if seed.is_multiple_of(3) {
        256
    } else {
        8 << 20
    }
}

/// Bytes per snapshot chunk: small, so that transfers take many chunks; with values padded to
/// `value_bytes` (see [`crate::SimConfig::value_bytes`]) as many chunks as with short values,
/// not a hundred times more.
fn snapshot_chunk(value_bytes: usize) -> usize {
    256 + 4 * value_bytes
}

/// Timing shared by every node, in ticks.
pub fn raft_config(id: NodeId, nodes: &[NodeId], seed: u64, value_bytes: usize) -> RaftConfig {
    let mut cfg = RaftConfig::new(id, nodes.to_vec());
    cfg.seed = seed;
    cfg.max_batch = 16;
    cfg.max_batch_bytes = batch_bytes(seed);
    cfg.max_inflight = window(seed);
    cfg.snapshot_chunk = snapshot_chunk(value_bytes);
    cfg
}

/// Timing shared by every node, in ticks.
pub fn paxos_config(id: NodeId, nodes: &[NodeId], seed: u64, value_bytes: usize) -> PaxosConfig {
    let mut cfg = PaxosConfig::all_roles(id, nodes.to_vec());
    cfg.seed = seed;
    cfg.max_batch = 16;
    cfg.max_batch_bytes = batch_bytes(seed);
    cfg.max_inflight = window(seed);
    cfg.spare_acceptors = spare_acceptors(seed);
    cfg.snapshot_chunk = snapshot_chunk(value_bytes);
    cfg
}

fn load<S: synod_core::DurableState>(disk: &MemoryStorage<S>) -> S {
    disk.snapshot()
}

impl Replica {
    /// A node starting from what `disk` holds (a restart after a crash), for values of about
    /// `value_bytes` (0: short ones).
    pub fn start(id: NodeId, nodes: &[NodeId], seed: u64, value_bytes: usize, disk: &Disk) -> Self {
        match disk {
            Disk::Raft(store) => Replica::Raft(Box::new(Raft::new(
                raft_config(id, nodes, seed, value_bytes),
                load(store),
            ))),
            Disk::Paxos { acceptor, learner } => {
                let cfg = paxos_config(id, nodes, seed, value_bytes);
                Replica::Paxos {
                    proposer: Box::new(Proposer::new(cfg.clone())),
                    acceptor: Box::new(
                        Acceptor::new(id, load(acceptor)).with_max_batch_bytes(cfg.max_batch_bytes),
                    ),
                    learner: Box::new(Learner::new(cfg, load(learner))),
                }
            }
        }
    }

    /// A message for one of its roles.
    pub fn deliver(&mut self, from: ActorAddr, to: Role, payload: Payload) {
        match (self, to, payload) {
            (Replica::Raft(raft), Role::Raft, Payload::Raft(msg)) => raft.on_message(from, msg),
            (Replica::Paxos { proposer, .. }, Role::Proposer, Payload::Paxos(msg)) => {
                proposer.on_message(from, msg)
            }
            (Replica::Paxos { acceptor, .. }, Role::Acceptor, Payload::Paxos(msg)) => {
                acceptor.on_message(from, msg)
            }
            (Replica::Paxos { learner, .. }, Role::Learner, Payload::Paxos(msg)) => {
                learner.on_message(from, msg)
            }
            _ => {}
        }
    }

    /// One tick of its clock.
    pub fn tick(&mut self) {
        match self {
            Replica::Raft(raft) => raft.on_tick(),
            Replica::Paxos {
                proposer, learner, ..
            } => {
                proposer.on_tick();
                learner.on_tick();
            }
        }
    }

    /// A client command, to the role that proposes.
    pub fn propose(&mut self, command: Command) -> Result<(), NotLeader> {
        match self {
            Replica::Raft(raft) => raft.propose(vec![command]),
            Replica::Paxos { proposer, .. } => proposer.propose(vec![command]),
        }
    }

    /// A linearizable read point: Raft's ReadIndex, the Paxos leader's read barrier.
    pub fn read(&mut self, id: u64) -> Result<(), NotLeader> {
        match self {
            Replica::Raft(raft) => raft.read_index(id),
            Replica::Paxos { proposer, .. } => proposer.read_index(id),
        }
    }

    /// The state machine was snapshotted.
    pub fn compact(&mut self, snapshot: Snapshot) {
        match self {
            Replica::Raft(raft) => raft.compact(snapshot),
            // The acceptor compacts when its learner says the snapshot is durable.
            Replica::Paxos { learner, .. } => learner.compact(snapshot),
        }
    }

    /// The proposing core's status (Raft, or the Paxos proposer with the learner's
    /// delivered prefix as `commit_index`).
    pub fn status(&self) -> synod_core::Status {
        match self {
            Replica::Raft(raft) => raft.status(),
            Replica::Paxos {
                proposer, learner, ..
            } => synod_core::Status {
                commit_index: learner.delivered(),
                ..proposer.status()
            },
        }
    }

    /// Who leads, as far as it knows.
    pub fn leader(&self) -> Option<NodeId> {
        match self {
            Replica::Raft(raft) => raft.status().leader,
            Replica::Paxos { proposer, .. } => proposer.status().leader,
        }
    }

    /// Takes the outputs of the cores through the driver, persisting what they asked for on
    /// `disk` first. With `crash_in_persist`, the process dies in its next persist: only what
    /// may be sent before it (Raft's eager messages) leaves, nothing is written, the other
    /// roles' outputs are lost with it, and this returns true.
    pub fn drain(
        &mut self,
        id: NodeId,
        disk: &Disk,
        out: &mut Output,
        crash_in_persist: bool,
    ) -> bool {
        match (self, disk) {
            (Replica::Raft(raft), Disk::Raft(store)) => {
                let mut fx = SimEffects::new(ActorAddr::new(id, Role::Raft), store, out);
                fx.record = |out, ops| out.raft_ops.extend_from_slice(ops);
                drain_one(raft.as_mut(), &mut fx, crash_in_persist)
            }
            (
                Replica::Paxos {
                    proposer,
                    acceptor,
                    learner,
                },
                Disk::Paxos {
                    acceptor: acceptor_disk,
                    learner: learner_disk,
                },
            ) => {
                let none = MemoryStorage::<Stateless>::new();
                let mut fx = SimEffects::new(ActorAddr::new(id, Role::Proposer), &none, out);
                if drain_one(proposer.as_mut(), &mut fx, crash_in_persist) {
                    return true;
                }
                let mut fx =
                    SimEffects::new(ActorAddr::new(id, Role::Acceptor), acceptor_disk, out);
                fx.record = |out, ops| out.acceptor_ops.extend_from_slice(ops);
                if drain_one(acceptor.as_mut(), &mut fx, crash_in_persist) {
                    return true;
                }
                let mut fx = SimEffects::new(ActorAddr::new(id, Role::Learner), learner_disk, out);
                drain_one(learner.as_mut(), &mut fx, crash_in_persist)
            }
            _ => false,
        }
    }
}

/// Drives one core until quiet; true if it crashed in a persist.
fn drain_one<C: Core, S: DurableState<Op = C::Persist>>(
    core: &mut C,
    fx: &mut SimEffects<'_, S>,
    crash_in_persist: bool,
) -> bool
where
    C::Message: Into<Payload>,
{
    while let Some(step) = driver::begin(core, fx) {
        if crash_in_persist && step.persists() {
            return true;
        }
        // The memory backend cannot fail.
        let _ = driver::finish(core, fx, step);
    }
    false
}

/// The simulator's side of the driver: sends go to [`Output::messages`], persists to the
/// node's memory disk (recorded for the invariants), applied entries to the output.
struct SimEffects<'a, S: DurableState> {
    from: ActorAddr,
    disk: &'a MemoryStorage<S>,
    out: &'a mut Output,
    /// Records what was persisted, for the invariants.
    record: fn(&mut Output, &[S::Op]),
}

impl<'a, S: DurableState> SimEffects<'a, S> {
    fn new(from: ActorAddr, disk: &'a MemoryStorage<S>, out: &'a mut Output) -> Self {
        Self {
            from,
            disk,
            out,
            record: |_, _| {},
        }
    }
}

impl<M: Into<Payload>, S: DurableState> Effects<M, S::Op> for SimEffects<'_, S> {
    fn send(&mut self, to: ActorAddr, msg: M) {
        self.out.messages.push((self.from, to, msg.into()));
    }

    fn persist(&mut self, ops: &[S::Op]) -> Result<(), StorageError> {
        let mut disk = self.disk.clone();
        disk.persist(ops)?;
        (self.record)(self.out, ops);
        Ok(())
    }

    fn deliver(
        &mut self,
        snapshot: Option<Snapshot>,
        applied: Vec<Applied>,
        reads: Vec<(u64, Option<u64>)>,
    ) {
        self.out.snapshot = snapshot.or(self.out.snapshot.take());
        self.out.applied.extend(applied);
        self.out.reads.extend(reads);
    }
}

/// A snapshot of `bytes`.
pub fn snapshot(index: u64, bytes: Vec<u8>) -> Snapshot {
    Snapshot {
        index,
        data: bytes::Bytes::from(bytes),
    }
}
