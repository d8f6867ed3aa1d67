//! Commands per second through the pure Raft core: a leader and two followers that
//! acknowledge at once, no IO, no actors — the ceiling the protocol logic itself sets.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::collections::VecDeque;
use synod_core::{Core, Proposing};
use synod_messages::{ActorAddr, Command, KvOp, RequestId};
use synod_raft::{Raft, RaftConfig, RaftMessage, RaftState};

struct Cluster {
    nodes: Vec<Raft>,
    queue: VecDeque<(u64, u64, RaftMessage)>,
}

impl Cluster {
    fn new() -> Self {
        let mut c = Cluster {
            nodes: (1..=3)
                .map(|id| Raft::new(RaftConfig::new(id, vec![1, 2, 3]), RaftState::default()))
                .collect(),
            queue: VecDeque::new(),
        };
        while !c.nodes[0].is_leader() {
            c.nodes[0].on_tick();
            c.flush(1);
            c.run();
        }
        c
    }

    fn flush(&mut self, id: u64) {
        let node = &mut self.nodes[(id - 1) as usize];
        loop {
            let ready = node.take_ready();
            if ready.is_empty() {
                return;
            }
            if !ready.persist.is_empty() {
                node.persisted();
            }
            for (to, msg) in ready.eager.into_iter().chain(ready.messages) {
                self.queue.push_back((id, to.node, msg));
            }
        }
    }

    fn run(&mut self) {
        while let Some((from, to, msg)) = self.queue.pop_front() {
            self.nodes[(to - 1) as usize].on_message(ActorAddr::new(from, synod_raft::RAFT), msg);
            self.flush(to);
        }
    }
}

fn bench(c: &mut Criterion) {
    for batch in [1u64, 64] {
        let mut group = c.benchmark_group(format!("raft_core_batch_{batch}"));
        group.throughput(Throughput::Elements(batch));
        let mut cluster = Cluster::new();
        let mut seq = 0;
        group.bench_function("propose_replicate_commit", |b| {
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
                    let target = cluster.nodes[0].commit_index() + batch;
                    cluster.nodes[0].propose(commands).unwrap();
                    cluster.flush(1);
                    cluster.run();
                    assert!(cluster.nodes[0].commit_index() >= target);
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
