//! Encoding and decoding the two hottest frames: a Raft AppendEntries and a Paxos Accept, each
//! carrying 64 commands with 256-byte values.

#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use synod_messages::codec::{decode, encode_frame, split_frame};
use synod_messages::paxos::{Ballot, PaxosMessage, Value};
use synod_messages::raft::{Entry, EntryPayload, RaftMessage};
use synod_messages::{ActorAddr, Command, Envelope, KvOp, Payload, RequestId, Role};

const BATCH: u64 = 64;

fn command(i: u64) -> Command {
    Command {
        id: RequestId { client: 7, seq: i },
        op: KvOp::Put {
            key: format!("key-{i:06}"),
            value: vec![b'v'; 256],
        },
    }
}

fn append_entries() -> Envelope {
    Envelope {
        from: ActorAddr::new(1, Role::named("raft")),
        to: ActorAddr::new(2, Role::named("raft")),
        payload: Payload::protocol(RaftMessage::AppendEntries {
            term: 3,
            leader_id: 1,
            prev_log_index: 1000,
            prev_log_term: 3,
            entries: (0..BATCH)
                .map(|i| Entry {
                    term: 3,
                    index: 1001 + i,
                    payload: EntryPayload::Command(command(i)),
                })
                .collect(),
            leader_commit: 1000,
        }),
    }
}

fn accept() -> Envelope {
    Envelope {
        from: ActorAddr::new(1, Role::named("proposer")),
        to: ActorAddr::new(2, Role::named("acceptor")),
        payload: Payload::protocol(PaxosMessage::Accept {
            ballot: Ballot::new(3, 1),
            entries: (0..BATCH)
                .map(|i| (1001 + i, Value::Command(command(i))))
                .collect(),
        }),
    }
}

fn bench(c: &mut Criterion) {
    for (name, envelope) in [
        ("append_entries_64", append_entries()),
        ("accept_64", accept()),
    ] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(BATCH));
        let frame = encode_frame(&envelope, 64 << 20).unwrap();
        group.bench_function("encode", |b| {
            b.iter(|| encode_frame(black_box(&envelope), 64 << 20).unwrap())
        });
        group.bench_function("decode", |b| {
            b.iter(|| {
                let (body, _) = split_frame(black_box(&frame), 64 << 20).unwrap().unwrap();
                decode::<Envelope>(body).unwrap()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
