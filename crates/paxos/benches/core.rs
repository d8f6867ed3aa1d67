//! Commands per second through the pure Multi-Paxos roles: a leader's proposer, three
//! acceptors and three learners answering at once, no IO, no actors.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::collections::VecDeque;
use synod_core::{Core, Proposing};
use synod_messages::paxos::PaxosMessage;
use synod_messages::{ActorAddr, Command, KvOp, RequestId};
use synod_paxos::{Acceptor, AcceptorState, Learner, LearnerState, PaxosConfig, Proposer};

struct Cluster {
    proposer: Proposer,
    acceptors: Vec<Acceptor>,
    learners: Vec<Learner>,
    queue: VecDeque<(ActorAddr, ActorAddr, PaxosMessage)>,
    delivered: u64,
}

impl Cluster {
    fn new() -> Self {
        let cfg = PaxosConfig::all_roles(1, vec![1, 2, 3]);
        let mut c = Cluster {
            proposer: Proposer::new(cfg.clone()),
            acceptors: (1..=3)
                .map(|id| Acceptor::new(id, AcceptorState::default()))
                .collect(),
            learners: (1..=3)
                .map(|id| Learner::new(PaxosConfig { id, ..cfg.clone() }, LearnerState::default()))
                .collect(),
            queue: VecDeque::new(),
            delivered: 0,
        };
        c.proposer.campaign();
        c.flush_proposer();
        c.run();
        assert!(c.proposer.is_leader());
        c
    }

    fn flush_proposer(&mut self) {
        let from = ActorAddr::new(1, synod_paxos::PROPOSER);
        for (to, msg) in self.proposer.take_ready().messages {
            self.queue.push_back((from, to, msg));
        }
    }

    fn run(&mut self) {
        while let Some((from, to, msg)) = self.queue.pop_front() {
            let i = (to.node - 1) as usize;
            match to.role {
                synod_paxos::PROPOSER => {
                    self.proposer.on_message(from, msg);
                    self.flush_proposer();
                }
                synod_paxos::ACCEPTOR => {
                    self.acceptors[i].on_message(from, msg);
                    for (back, reply) in self.acceptors[i].take_ready().messages {
                        self.queue.push_back((to, back, reply));
                    }
                }
                _ => {
                    self.learners[i].on_message(from, msg);
                    let ready = self.learners[i].take_ready();
                    if i == 0 {
                        self.delivered += ready.applied.len() as u64;
                    }
                }
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    for batch in [1u64, 64] {
        let mut group = c.benchmark_group(format!("paxos_core_batch_{batch}"));
        group.throughput(Throughput::Elements(batch));
        let mut cluster = Cluster::new();
        let mut seq = 0;
        group.bench_function("propose_accept_choose_learn", |b| {
            b.iter_batched(
                || {
                    (0..batch)
                        .map(|_| {
                            seq += 1;
                            Command {
                                id: RequestId { client: 1, seq },
                                op: KvOp::Put {
                                    key: format!("k{seq}"),
                                    value: vec![0; 256],
                                },
                            }
                        })
                        .collect::<Vec<_>>()
                },
                |commands| {
                    let target = cluster.delivered + batch;
                    cluster.proposer.propose(commands).unwrap();
                    cluster.flush_proposer();
                    cluster.run();
                    assert!(cluster.delivered >= target);
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
