//! Dueling proposers under random message loss, duplication and reordering, on the pure cores:
//! at most one value is ever chosen per slot (checked from the acceptors' votes, the definition
//! of "chosen"), learners agree, and once the network heals one leader makes the log advance.

#![allow(missing_docs, clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use synod_core::{Core, Proposing};
use synod_messages::paxos::{Ballot, PaxosMessage, Slot, Value};
use synod_messages::{ActorAddr, Command, KvOp, NodeId, RequestId};
use synod_paxos::{
    Acceptor, AcceptorOp, AcceptorState, Learner, LearnerState, PaxosConfig, Proposer,
};

struct Node {
    proposer: Proposer,
    acceptor: Acceptor,
    learner: Learner,
}

struct Sim {
    rng: StdRng,
    nodes: BTreeMap<NodeId, Node>,
    queue: Vec<(ActorAddr, ActorAddr, PaxosMessage)>,
    /// (slot, ballot) -> acceptor -> value voted.
    votes: BTreeMap<(Slot, Ballot), BTreeMap<NodeId, Value>>,
    chosen: BTreeMap<Slot, Value>,
    learned: BTreeMap<NodeId, Vec<(u64, Option<Command>)>>,
    loss: f64,
    seed: u64,
    next_cmd: u64,
}

impl Sim {
    fn new(seed: u64, n: u64) -> Self {
        let ids: Vec<NodeId> = (1..=n).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut cfg = PaxosConfig::all_roles(id, ids.clone());
                cfg.seed = seed;
                // Short, close timeouts make proposers duel often.
                cfg.election_ticks = (4, 7);
                cfg.heartbeat_ticks = 1;
                cfg.resend_ticks = 3;
                let node = Node {
                    proposer: Proposer::new(cfg.clone()),
                    acceptor: Acceptor::new(id, AcceptorState::default()),
                    learner: Learner::new(cfg, LearnerState::default()),
                };
                (id, node)
            })
            .collect();
        Sim {
            rng: StdRng::seed_from_u64(seed),
            nodes,
            queue: Vec::new(),
            votes: BTreeMap::new(),
            chosen: BTreeMap::new(),
            learned: BTreeMap::new(),
            loss: 0.0,
            seed,
            next_cmd: 0,
        }
    }

    fn quorum(&self) -> usize {
        self.nodes.len() / 2 + 1
    }

    fn flush(&mut self, at: ActorAddr) {
        let quorum = self.quorum();
        let node = self.nodes.get_mut(&at.node).unwrap();
        let (messages, accepted) = match at.role {
            synod_paxos::PROPOSER => (node.proposer.take_ready().messages, Vec::new()),
            synod_paxos::ACCEPTOR => {
                let r = node.acceptor.take_ready();
                (r.messages, r.persist)
            }
            _ => {
                let r = node.learner.take_ready();
                let log = self.learned.entry(at.node).or_default();
                log.extend(r.applied.into_iter().map(|a| (a.index, a.command)));
                (r.messages, Vec::new())
            }
        };
        for op in accepted {
            if let AcceptorOp::Accept(b, entries) = op {
                for (slot, value) in entries {
                    let voters = self.votes.entry((slot, b)).or_default();
                    voters.insert(at.node, value.clone());
                    if voters.len() >= quorum {
                        match self.chosen.get(&slot) {
                            Some(v) => assert_eq!(
                                *v, value,
                                "seed {}: two values chosen for slot {slot}",
                                self.seed
                            ),
                            None => {
                                self.chosen.insert(slot, value);
                            }
                        }
                    }
                }
            }
        }
        for (to, msg) in messages {
            self.queue.push((at, to, msg));
        }
    }

    fn deliver_random(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let i = self.rng.gen_range(0..self.queue.len());
        let (from, to, msg) = self.queue.swap_remove(i);
        if self.rng.gen_bool(self.loss) {
            return;
        }
        if self.rng.gen_bool(0.05) {
            self.queue.push((from, to, msg.clone())); // duplicate
        }
        let node = self.nodes.get_mut(&to.node).unwrap();
        match to.role {
            synod_paxos::PROPOSER => node.proposer.on_message(from, msg),
            synod_paxos::ACCEPTOR => node.acceptor.on_message(from, msg),
            _ => node.learner.on_message(from, msg),
        }
        self.flush(to);
    }

    fn tick(&mut self, id: NodeId) {
        let node = self.nodes.get_mut(&id).unwrap();
        node.proposer.on_tick();
        node.learner.on_tick();
        self.flush(ActorAddr::new(id, synod_paxos::PROPOSER));
        self.flush(ActorAddr::new(id, synod_paxos::LEARNER));
    }

    fn propose_somewhere(&mut self) {
        self.next_cmd += 1;
        let cmd = Command {
            id: RequestId {
                client: 1,
                seq: self.next_cmd,
            },
            op: KvOp::Put {
                key: format!("k{}", self.next_cmd % 7),
                value: vec![1],
            },
        };
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            if self
                .nodes
                .get_mut(&id)
                .unwrap()
                .proposer
                .propose(vec![cmd.clone()])
                .is_ok()
            {
                self.flush(ActorAddr::new(id, synod_paxos::PROPOSER));
                return;
            }
        }
    }

    fn step(&mut self) {
        let r = self.rng.gen_range(0..100);
        if r < 70 {
            self.deliver_random();
        } else if r < 95 {
            let id = self.rng.gen_range(1..=self.nodes.len() as u64);
            self.tick(id);
        } else {
            self.propose_somewhere();
        }
    }

    fn check_learners_agree(&self) {
        for (node, log) in &self.learned {
            for (i, (slot, _)) in log.iter().enumerate() {
                assert_eq!(
                    *slot,
                    i as u64 + 1,
                    "seed {}: node {node} delivered out of order",
                    self.seed
                );
            }
            for (slot, command) in log {
                let chosen = match self.chosen.get(slot) {
                    Some(Value::Command(c)) => Some(c.clone()),
                    Some(Value::Noop) => None,
                    None => panic!(
                        "seed {}: node {node} delivered unchosen slot {slot}",
                        self.seed
                    ),
                };
                assert_eq!(
                    *command, chosen,
                    "seed {}: node {node} slot {slot}",
                    self.seed
                );
            }
        }
    }
}

#[test]
fn dueling_proposers_under_random_loss_never_choose_two_values_for_a_slot() {
    let mut slots = 0;
    for seed in 0..200 {
        let mut sim = Sim::new(seed, 3);
        sim.loss = 0.2 + 0.1 * (seed % 3) as f64;
        for _ in 0..3_000 {
            sim.step();
        }
        sim.check_learners_agree();
        slots += sim.chosen.len();
    }
    assert!(
        slots > 1_000,
        "the runs chose almost nothing ({slots} slots): the test would prove little"
    );
}

#[test]
fn once_the_network_heals_one_leader_makes_the_log_advance() {
    for seed in 0..50 {
        let mut sim = Sim::new(1_000 + seed, 5);
        sim.loss = 0.3;
        for _ in 0..2_000 {
            sim.step();
        }
        // Heal: no more loss. Tick everyone in turn and deliver everything.
        sim.loss = 0.0;
        let before = sim.chosen.len();
        let mut advanced = false;
        for round in 0..400 {
            for id in 1..=5 {
                sim.tick(id);
            }
            while !sim.queue.is_empty() {
                sim.deliver_random();
            }
            if round % 10 == 0 {
                sim.propose_somewhere();
            }
            let leaders: BTreeSet<NodeId> = sim
                .nodes
                .iter()
                .filter(|(_, n)| n.proposer.is_leader())
                .map(|(id, _)| *id)
                .collect();
            let all_learned =
                sim.learned.len() == 5 && sim.learned.values().all(|l| l.len() == sim.chosen.len());
            if leaders.len() == 1 && sim.chosen.len() > before && all_learned {
                advanced = true;
                break;
            }
        }
        assert!(advanced, "seed {}: no progress after healing", 1_000 + seed);
        sim.check_learners_agree();
    }
}

/// A leader elected by acceptors that compacted a prefix proposes only after it.
#[test]
fn a_new_leader_does_not_propose_in_slots_a_quorum_member_compacted() {
    let ids = vec![1, 2, 3];
    let mut p = Proposer::new(PaxosConfig::all_roles(1, ids));
    p.campaign();
    let ballot = p.ballot();
    p.take_ready();
    for (acceptor, compacted) in [(2, 0), (3, 7)] {
        p.on_message(
            ActorAddr::new(acceptor, synod_paxos::ACCEPTOR),
            PaxosMessage::Promise {
                ballot,
                accepted: Vec::new(),
                compacted_through: compacted,
                part: 0,
                parts: 1,
            },
        );
    }
    assert!(p.is_leader());
    assert_eq!(p.chosen_upto(), 7);
    p.propose(vec![Command {
        id: RequestId { client: 1, seq: 1 },
        op: KvOp::Delete { key: "k".into() },
    }])
    .unwrap();
    let slots: Vec<Slot> = p
        .take_ready()
        .messages
        .into_iter()
        .filter_map(|(_, m)| match m {
            PaxosMessage::Accept { entries, .. } => Some(entries.into_iter().map(|(s, _)| s)),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        !slots.is_empty() && slots.iter().all(|&s| s > 7),
        "{slots:?}"
    );
}
