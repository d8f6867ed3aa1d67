//! A tiny deterministic network of pure Raft cores for the paper tests: messages sit in a queue
//! until a test delivers them, so every interleaving is chosen by the test.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use synod_core::driver::{self, Effects};
use synod_core::{Applied, Core, MemoryStorage, Proposing, Snapshot, Storage, StorageError};
use synod_messages::raft::RaftMessage;
use synod_messages::{ActorAddr, Command, KvOp, NodeId, RequestId};
use synod_raft::{Raft, RaftConfig, RaftPersist, RaftState};

pub struct Net {
    pub nodes: BTreeMap<NodeId, Raft>,
    pub stores: BTreeMap<NodeId, MemoryStorage<RaftState>>,
    pub queue: VecDeque<(NodeId, NodeId, RaftMessage)>,
    pub applied: BTreeMap<NodeId, Vec<Applied>>,
    pub persisted: BTreeMap<NodeId, Vec<RaftPersist>>,
    /// Directed links whose messages are dropped.
    pub cut: BTreeSet<(NodeId, NodeId)>,
    /// State machine images each node was told to install.
    pub installed: BTreeMap<NodeId, Vec<Snapshot>>,
    /// ReadIndex answers per node.
    pub reads: BTreeMap<NodeId, Vec<(u64, Option<u64>)>>,
}

/// The paper's Raft: elections without PreVote (`tests/pre_vote.rs` turns it on).
pub fn config(id: NodeId, n: u64) -> RaftConfig {
    let mut cfg = RaftConfig::new(id, (1..=n).collect());
    cfg.seed = 7;
    cfg.pre_vote = false;
    cfg
}

pub fn cmd(seq: u64) -> Command {
    Command {
        id: RequestId { client: 1, seq },
        op: KvOp::Put {
            key: format!("k{seq}"),
            value: vec![seq as u8],
        },
    }
}

impl Net {
    pub fn new(n: u64) -> Self {
        Self::with_states(
            (1..=n)
                .map(|id| (config(id, n), RaftState::default()))
                .collect(),
        )
    }

    pub fn with_states(nodes: Vec<(RaftConfig, RaftState)>) -> Self {
        let mut net = Net {
            nodes: BTreeMap::new(),
            stores: BTreeMap::new(),
            queue: VecDeque::new(),
            applied: BTreeMap::new(),
            persisted: BTreeMap::new(),
            cut: BTreeSet::new(),
            installed: BTreeMap::new(),
            reads: BTreeMap::new(),
        };
        for (cfg, state) in nodes {
            let id = cfg.id;
            let mut store = MemoryStorage::new();
            let mut ops = vec![RaftPersist::HardState(state.hard_state)];
            if let Some(snapshot) = state.snapshot.clone() {
                ops.push(RaftPersist::Snapshot {
                    snapshot,
                    retain_log: false,
                });
            }
            ops.push(RaftPersist::Append(state.entries.clone()));
            store.persist(&ops).unwrap();
            net.nodes.insert(id, Raft::new(cfg, state));
            net.stores.insert(id, store);
        }
        net
    }

    pub fn node(&self, id: NodeId) -> &Raft {
        &self.nodes[&id]
    }

    /// Carries out a node's Readys through the driver until it has nothing more to do:
    /// eager messages, persist, then the other messages, then record applied entries.
    pub fn flush(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).unwrap();
        let mut fx = NodeEffects {
            id,
            store: self.stores.get_mut(&id).unwrap(),
            queue: &mut self.queue,
            persisted: self.persisted.entry(id).or_default(),
            applied: self.applied.entry(id).or_default(),
            installed: self.installed.entry(id).or_default(),
            reads: self.reads.entry(id).or_default(),
        };
        driver::drive(node, &mut fx).unwrap();
    }

    pub fn tick(&mut self, id: NodeId) {
        self.nodes.get_mut(&id).unwrap().on_tick();
        self.flush(id);
    }

    /// Ticks `id` until it starts an election.
    pub fn timeout(&mut self, id: NodeId) {
        let term = self.node(id).term();
        while self.node(id).term() == term {
            self.tick(id);
        }
    }

    pub fn propose(&mut self, id: NodeId, cmds: Vec<Command>) {
        self.nodes.get_mut(&id).unwrap().propose(cmds).unwrap();
        self.flush(id);
    }

    /// Delivers one queued message (honouring cut links). Returns false when the queue is empty.
    pub fn deliver_one(&mut self) -> bool {
        let Some((from, to, msg)) = self.queue.pop_front() else {
            return false;
        };
        if self.cut.contains(&(from, to)) {
            return true;
        }
        if let Some(node) = self.nodes.get_mut(&to) {
            node.on_message(ActorAddr::new(from, synod_raft::RAFT), msg);
            self.flush(to);
        }
        true
    }

    pub fn deliver_all(&mut self) {
        let mut budget = 100_000;
        while self.deliver_one() {
            budget -= 1;
            assert!(budget > 0, "message storm");
        }
    }

    /// Takes the queued messages without delivering them.
    pub fn drain(&mut self) -> Vec<(NodeId, NodeId, RaftMessage)> {
        self.queue.drain(..).collect()
    }

    /// Makes `id` leader: it times out and the election runs to completion.
    pub fn elect(&mut self, id: NodeId) {
        self.timeout(id);
        self.deliver_all();
        assert!(self.node(id).is_leader(), "node {id} failed to win");
    }

    pub fn isolate(&mut self, id: NodeId) {
        for &other in self.nodes.keys() {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn applied_commands(&self, id: NodeId) -> Vec<Command> {
        self.applied
            .get(&id)
            .map(|a| a.iter().filter_map(|a| a.command.clone()).collect())
            .unwrap_or_default()
    }

    /// The state machine of `id` was snapshotted at `index` with image `data`.
    pub fn compact(&mut self, id: NodeId, index: u64, data: &[u8]) {
        let snapshot = Snapshot {
            index,
            data: bytes::Bytes::copy_from_slice(data),
        };
        self.nodes.get_mut(&id).unwrap().compact(snapshot);
        self.flush(id);
    }

    /// Crash and restart from persisted state only.
    pub fn restart(&mut self, id: NodeId) {
        let state = self.stores.get_mut(&id).unwrap().load().unwrap();
        let n = self.nodes.len() as u64;
        self.nodes.insert(id, Raft::new(config(id, n), state));
        self.applied.remove(&id);
        self.flush(id);
        self.queue.retain(|(_, to, _)| *to != id);
    }
}

/// One node's side of the driver: its store, the shared queue, and what it recorded.
struct NodeEffects<'a> {
    id: NodeId,
    store: &'a mut MemoryStorage<RaftState>,
    queue: &'a mut VecDeque<(NodeId, NodeId, RaftMessage)>,
    persisted: &'a mut Vec<RaftPersist>,
    applied: &'a mut Vec<Applied>,
    installed: &'a mut Vec<Snapshot>,
    reads: &'a mut Vec<(u64, Option<u64>)>,
}

impl Effects<RaftMessage, RaftPersist> for NodeEffects<'_> {
    fn send(&mut self, to: ActorAddr, msg: RaftMessage) {
        assert_eq!(to.role, synod_raft::RAFT);
        self.queue.push_back((self.id, to.node, msg));
    }

    fn persist(&mut self, ops: &[RaftPersist]) -> Result<(), StorageError> {
        self.store.persist(ops)?;
        self.persisted.extend_from_slice(ops);
        Ok(())
    }

    fn deliver(
        &mut self,
        snapshot: Option<Snapshot>,
        applied: Vec<Applied>,
        reads: Vec<(u64, Option<u64>)>,
    ) {
        self.reads.extend(reads);
        self.installed.extend(snapshot);
        self.applied.extend(applied);
    }
}
