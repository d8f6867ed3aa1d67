//! What one durable persist costs on this machine's disk: a record of the log-file backend and
//! a redb transaction with `Durability::Immediate`, each holding 1 or 64 Raft log entries of
//! 256-byte values, next to a bare write + fdatasync of as many bytes to a plain file. The 1-client latency of a write is
//! bounded below by two of these (leader, then follower). Also: streaming a snapshot into its
//! file.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Write;
use synod_core::Storage;
use synod_messages::raft::{Entry, EntryPayload};
use synod_messages::{Command, KvOp, RequestId};
use synod_raft::{RaftPersist, RaftState};
use synod_storage::{RedbBackend, WalBackend};

fn entries(from: u64, n: u64) -> Vec<Entry> {
    (from..from + n)
        .map(|index| Entry {
            term: 1,
            index,
            payload: EntryPayload::Command(Command {
                id: RequestId {
                    client: 1,
                    seq: index,
                },
                op: KvOp::Put {
                    key: format!("key-{index:08}"),
                    value: vec![7; 256],
                },
            }),
        })
        .collect()
}

/// Benchmarks persisting `n` new entries at a time into `store`.
fn append(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    store: &mut dyn Storage<RaftState>,
    n: u64,
) {
    let mut next = 1;
    group.bench_function(name, |b| {
        b.iter(|| {
            store
                .persist(&[RaftPersist::Append(entries(next, n))])
                .unwrap();
            next += n;
        })
    });
}

fn commit(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let backend = RedbBackend::open(&dir.path().join("bench.redb")).unwrap();
    let wal = WalBackend::open(&dir.path().join("wal")).unwrap();
    let mut group = c.benchmark_group("durable persist");
    group.sample_size(30);
    for n in [1u64, 64] {
        group.throughput(Throughput::Elements(n));
        let mut log_file = wal.storage::<RaftState>(&format!("raft-{n}"));
        log_file.load().unwrap();
        append(
            &mut group,
            &format!("log file, {n} entries"),
            &mut log_file,
            n,
        );
        let mut store = backend.storage::<RaftState>("raft");
        append(&mut group, &format!("redb, {n} entries"), &mut store, n);
        // Start the next size from an empty log.
        store.persist(&[RaftPersist::TruncateFrom(1)]).unwrap();
        let bytes = vec![7u8; (n as usize) * 300];
        let mut file = std::fs::File::create(dir.path().join(format!("plain-{n}"))).unwrap();
        group.bench_function(format!("file append + fdatasync, {n} entries"), |b| {
            b.iter(|| {
                file.write_all(&bytes).unwrap();
                file.sync_data().unwrap();
            })
        });
    }
    group.finish();
}

/// What streaming a snapshot of a 100,000-key store (256-byte values) into its file costs:
/// the encoding, the checksum and the writes, without the final sync.
fn snapshot(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let wal = WalBackend::open(&dir.path().join("wal")).unwrap();
    let writer = wal.blob_writer("raft", "snapshot");
    let mut kv = synod_kv::KvStore::new();
    for (index, entry) in entries(1, 100_000).into_iter().enumerate() {
        if let EntryPayload::Command(command) = entry.payload {
            kv.apply(index as u64 + 1, &command);
        }
    }
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10);
    group.throughput(Throughput::Elements(kv.len() as u64));
    group.bench_function("stage 100,000 keys", |b| {
        b.iter(|| writer.stage(|mut out| kv.write_snapshot(&mut out)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, commit, snapshot);
criterion_main!(benches);
