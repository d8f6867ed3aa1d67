//! One simulated node's protocol: the pure cores of Raft or of the three Paxos roles, with
//! the memory storage that survives its crashes.

use synod_core::{Applied, Core, MemoryStorage, NotLeader, Snapshot, Storage};
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

impl Output {
    /// Queues messages of the actor at `from`.
    fn send<M: Into<Payload>>(&mut self, from: ActorAddr, messages: Vec<(ActorAddr, M)>) {
        self.messages
            .extend(messages.into_iter().map(|(to, m)| (from, to, m.into())));
    }
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

    /// Takes the outputs of the cores, persisting what they asked for on `disk` first.
    /// With `crash_in_persist`, the process dies during the persist: only what may be sent
    /// before it (Raft's eager messages) leaves, nothing is written, and this returns true.
    pub fn drain(
        &mut self,
        id: NodeId,
        disk: &Disk,
        out: &mut Output,
        crash_in_persist: bool,
    ) -> bool {
        match (self, disk) {
            (Replica::Raft(raft), Disk::Raft(store)) => {
                let from = ActorAddr::new(id, Role::Raft);
                // `persisted` may commit (a leader counting itself): drain until quiet.
                loop {
                    let ready = raft.take_ready();
                    if ready.is_empty() {
                        break;
                    }
                    out.send(from, ready.eager);
                    if crash_in_persist {
                        return true;
                    }
                    persist(store, &ready.persist);
                    if !ready.persist.is_empty() {
                        raft.persisted();
                    }
                    out.raft_ops.extend(ready.persist);
                    out.send(from, ready.messages);
                    out.snapshot = ready.snapshot.or(out.snapshot.take());
                    out.applied.extend(ready.applied);
                    out.reads.extend(ready.reads);
                }
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
                if crash_in_persist {
                    // The Paxos roles send nothing eagerly: the crash loses this whole step.
                    return true;
                }
                let ready = proposer.take_ready();
                out.reads.extend(ready.reads);
                let from = ActorAddr::new(id, Role::Proposer);
                out.send(from, ready.messages);
                let ready = acceptor.take_ready();
                persist(acceptor_disk, &ready.persist);
                out.acceptor_ops.extend(ready.persist);
                let from = ActorAddr::new(id, Role::Acceptor);
                out.send(from, ready.messages);
                let ready = learner.take_ready();
                persist(learner_disk, &ready.persist);
                let from = ActorAddr::new(id, Role::Learner);
                out.send(from, ready.messages);
                out.snapshot = ready.snapshot.or(out.snapshot.take());
                out.applied.extend(ready.applied);
            }
            _ => {}
        }
        false
    }
}

fn persist<S: synod_core::DurableState>(store: &MemoryStorage<S>, ops: &[S::Op]) {
    let mut store = store.clone();
    // The memory backend cannot fail.
    let _ = store.persist(ops);
}

/// A snapshot of `bytes`.
pub fn snapshot(index: u64, bytes: Vec<u8>) -> Snapshot {
    Snapshot {
        index,
        data: bytes::Bytes::from(bytes),
    }
}
