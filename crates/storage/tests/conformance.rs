//! The storage conformance suite, run on the in-memory backend, on redb and on the log files, for every
//! protocol's durable state.

#![allow(missing_docs, clippy::unwrap_used)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use synod_core::{DurableState, MemoryStorage, Schema, Snapshot, Storage};
use synod_messages::paxos::{Ballot, Value};
use synod_messages::raft::{Entry, EntryPayload};
use synod_messages::{Command, KvOp, RequestId};
use synod_paxos::{AcceptorOp, AcceptorState, LearnerOp, LearnerState};
use synod_raft::{HardState, RaftPersist, RaftState, SnapshotRecord};
use synod_storage::conformance::check_round_trip;
use synod_storage::{RedbBackend, WalBackend};

fn command(rng: &mut StdRng) -> Command {
    let len = rng.gen_range(0..12);
    Command {
        id: RequestId {
            client: rng.gen(),
            seq: rng.gen(),
        },
        op: KvOp::Put {
            key: format!("k{}", rng.gen::<u16>()),
            value: (0..len).map(|_| rng.gen()).collect(),
        },
    }
}

/// A random but valid Raft op history: votes, appends, truncations and snapshots (never of
/// or below what an earlier snapshot covers).
fn raft_batches(seed: u64) -> Vec<Vec<RaftPersist>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut base = 0u64;
    let mut last = 0u64;
    let mut term = 1;
    (0..30)
        .map(|_| {
            let mut batch = Vec::new();
            for _ in 0..rng.gen_range(1..4) {
                match rng.gen_range(0..10) {
                    0 => {
                        term += 1;
                        batch.push(RaftPersist::HardState(HardState {
                            term,
                            voted_for: Some(rng.gen_range(1..4)),
                        }));
                    }
                    1 if last > base => {
                        let from = rng.gen_range(base + 1..=last);
                        batch.push(RaftPersist::TruncateFrom(from));
                        last = from - 1;
                    }
                    2 if last > base => {
                        // A snapshot covering a prefix; sometimes one the log does not match.
                        let index = rng.gen_range(base + 1..=last);
                        base = index;
                        let retain_log = rng.gen_bool(0.7);
                        let data: Vec<u8> = (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect();
                        batch.push(RaftPersist::Snapshot {
                            snapshot: SnapshotRecord {
                                index,
                                term,
                                data: data.into(),
                            },
                            retain_log,
                        });
                        if !retain_log {
                            last = index;
                        }
                    }
                    _ => {
                        let n = rng.gen_range(1..20);
                        let entries = (1..=n)
                            .map(|i| Entry {
                                term,
                                index: last + i,
                                payload: if rng.gen_bool(0.1) {
                                    EntryPayload::Noop
                                } else {
                                    EntryPayload::Command(command(&mut rng))
                                },
                            })
                            .collect();
                        last += n;
                        batch.push(RaftPersist::Append(entries));
                    }
                }
            }
            batch
        })
        .collect()
}

fn acceptor_batches(seed: u64) -> Vec<Vec<AcceptorOp>> {
    let mut rng = StdRng::seed_from_u64(seed);
    // A valid history: an acceptor only ever persists ballots at or above its promise, and
    // compacts forward, never voting again on a compacted slot.
    let mut b = Ballot::new(1, 1);
    let mut compacted = 0;
    (0..30)
        .map(|_| {
            if rng.gen_bool(0.5) {
                b = Ballot::new(b.round + 1, rng.gen_range(1..4));
            }
            if rng.gen_bool(0.3) {
                vec![AcceptorOp::Promise(b)]
            } else {
                let entries = (0..rng.gen_range(1..10))
                    .map(|_| {
                        (
                            rng.gen_range(compacted + 1..compacted + 60),
                            if rng.gen_bool(0.1) {
                                Value::Noop
                            } else {
                                Value::Command(command(&mut rng))
                            },
                        )
                    })
                    .collect();
                let mut batch = vec![AcceptorOp::Accept(b, entries)];
                if rng.gen_bool(0.15) {
                    compacted += rng.gen_range(1..20);
                    batch.push(AcceptorOp::Compact(compacted));
                }
                batch
            }
        })
        .collect()
}

fn learner_batches(seed: u64) -> Vec<Vec<LearnerOp>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut next = 1;
    (0..30)
        .map(|_| {
            next += rng.gen_range(1..10);
            let data: Vec<u8> = (0..rng.gen_range(0..64)).map(|_| rng.gen()).collect();
            vec![LearnerOp::Snapshot(Snapshot {
                index: next,
                data: data.into(),
            })]
        })
        .collect()
}

fn on_memory<S: DurableState + PartialEq + std::fmt::Debug>(batches: &[Vec<S::Op>]) {
    let store = MemoryStorage::<S>::new();
    check_round_trip(
        &mut || Box::new(store.clone()) as Box<dyn Storage<S>>,
        batches,
    );
}

fn on_redb<S: Schema + PartialEq + std::fmt::Debug>(name: &str, batches: &[Vec<S::Op>]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    check_round_trip(
        &mut || {
            Box::new(RedbBackend::open(&path).unwrap().storage::<S>(name)) as Box<dyn Storage<S>>
        },
        batches,
    );
}

fn on_wal<S: Schema + PartialEq + std::fmt::Debug>(name: &str, batches: &[Vec<S::Op>]) {
    let dir = tempfile::tempdir().unwrap();
    check_round_trip(
        &mut || {
            Box::new(WalBackend::open(dir.path()).unwrap().storage::<S>(name))
                as Box<dyn Storage<S>>
        },
        batches,
    );
}

#[test]
fn raft_state_on_every_backend() {
    for seed in 0..3 {
        on_memory::<RaftState>(&raft_batches(seed));
        on_redb::<RaftState>("raft", &raft_batches(seed));
        on_wal::<RaftState>("raft", &raft_batches(seed));
    }
}

#[test]
fn acceptor_state_on_every_backend() {
    for seed in 0..3 {
        on_memory::<AcceptorState>(&acceptor_batches(seed));
        on_redb::<AcceptorState>("acceptor", &acceptor_batches(seed));
        on_wal::<AcceptorState>("acceptor", &acceptor_batches(seed));
    }
}

#[test]
fn learner_state_on_every_backend() {
    for seed in 0..3 {
        on_memory::<LearnerState>(&learner_batches(seed));
        on_redb::<LearnerState>("learner", &learner_batches(seed));
        on_wal::<LearnerState>("learner", &learner_batches(seed));
    }
}

#[test]
fn roles_of_one_node_share_a_file_without_mixing() {
    let dir = tempfile::tempdir().unwrap();
    let backend = RedbBackend::open(&dir.path().join("node.redb")).unwrap();
    let mut acceptor = backend.storage::<AcceptorState>("acceptor");
    let mut learner = backend.storage::<LearnerState>("learner");
    acceptor
        .persist(&[AcceptorOp::Accept(
            Ballot::new(1, 1),
            vec![(1, Value::Noop)],
        )])
        .unwrap();
    learner
        .persist(&[LearnerOp::Snapshot(Snapshot {
            index: 7,
            data: b"image".as_slice().into(),
        })])
        .unwrap();
    assert_eq!(
        acceptor.load().unwrap().accepted.keys().collect::<Vec<_>>(),
        vec![&1]
    );
    assert_eq!(learner.load().unwrap().snapshot.map(|s| s.index), Some(7));
}

#[test]
fn a_second_open_of_the_same_file_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.redb");
    let _first = RedbBackend::open(&path).unwrap();
    let err = RedbBackend::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("node.redb") && err.contains("already open"),
        "{err}"
    );
}
