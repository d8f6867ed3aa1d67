//! Log compaction and InstallSnapshot (Raft paper §7), on the pure core.

#![allow(missing_docs, clippy::unwrap_used)]

mod harness;

use harness::{cmd, config, Net};
use synod_messages::raft::RaftMessage;
use synod_raft::{Raft, RaftPersist, RaftState};

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// A 3-node cluster where node 3 missed 30 commands that the others then compacted away.
fn lagging_follower(chunk: usize) -> Net {
    let mut net = Net::with_states(
        (1..=3)
            .map(|id| {
                let mut cfg = config(id, 3);
                cfg.snapshot_chunk = chunk;
                (cfg, RaftState::default())
            })
            .collect(),
    );
    net.elect(1);
    net.deliver_all();
    net.isolate(3);
    for seq in 1..=30 {
        net.propose(1, vec![cmd(seq)]);
    }
    net.deliver_all();
    net.tick(1);
    net.tick(1);
    net.deliver_all();
    assert_eq!(net.node(1).commit_index(), 31);
    for id in [1, 2] {
        net.compact(id, 31, &image(2500));
        assert_eq!(net.node(id).log().snapshot_index(), 31);
    }
    net.heal();
    net
}

#[test]
fn s7_compaction_drops_the_prefix_and_persists_the_snapshot() {
    let mut net = lagging_follower(1 << 20);
    let persisted = net.stores[&1].snapshot();
    assert_eq!(persisted.snapshot.as_ref().map(|s| s.index), Some(31));
    assert!(
        persisted.entries.is_empty(),
        "the compacted entries are gone from storage"
    );
    // Compacting beyond what was applied, or backwards, is ignored.
    net.compact(1, 99, b"x");
    net.compact(1, 10, b"x");
    assert_eq!(net.node(1).log().snapshot_index(), 31);
    // The log goes on after the snapshot.
    net.propose(1, vec![cmd(31)]);
    net.deliver_all();
    assert_eq!(net.node(1).log().last_index(), 32);
}

#[test]
fn s7_a_follower_behind_the_compacted_prefix_gets_the_snapshot_in_chunks() {
    let mut net = lagging_follower(1000);
    let mut chunks = Vec::new();
    for _ in 0..10 {
        net.tick(1);
        while let Some((f, t, m)) = net.queue.pop_front() {
            if let RaftMessage::InstallSnapshot {
                offset, data, done, ..
            } = &m
            {
                chunks.push((*offset, data.len(), *done));
            }
            net.queue.push_front((f, t, m));
            net.deliver_one();
        }
    }
    assert_eq!(
        chunks,
        vec![(0, 1000, false), (1000, 1000, false), (2000, 500, true)]
    );
    let installed = &net.installed[&3];
    assert_eq!(installed.len(), 1);
    assert_eq!(
        (installed[0].index, installed[0].data.to_vec()),
        (31, image(2500))
    );
    assert_eq!(net.node(3).log().snapshot_index(), 31);
    // Replication continues from the snapshot.
    net.propose(1, vec![cmd(99)]);
    net.deliver_all();
    net.tick(1);
    net.tick(1);
    net.deliver_all();
    assert_eq!(net.node(3).log().last_index(), 32);
    assert_eq!(
        net.applied_commands(3),
        vec![cmd(99)],
        "only what follows the snapshot is applied"
    );
    // Storage holds the snapshot and nothing before it.
    let persisted = net.stores[&3].snapshot();
    assert_eq!(persisted.snapshot.map(|s| s.index), Some(31));
    assert_eq!(persisted.entries.first().map(|e| e.index), Some(32));
}

#[test]
fn s7_a_lost_chunk_is_sent_again() {
    let mut net = lagging_follower(1000);
    net.tick(1);
    net.tick(1);
    // Lose the first InstallSnapshot chunk.
    let before = net.queue.len();
    net.queue
        .retain(|(_, to, m)| !(*to == 3 && matches!(m, RaftMessage::InstallSnapshot { .. })));
    assert_eq!(net.queue.len(), before - 1);
    for _ in 0..12 {
        net.tick(1);
        net.deliver_all();
    }
    assert_eq!(net.node(3).log().snapshot_index(), 31);
    assert_eq!(net.installed[&3].len(), 1);
}

#[test]
fn s7_restart_starts_from_the_snapshot() {
    let mut net = lagging_follower(1 << 20);
    net.restart(1);
    let restarted: &Raft = net.node(1);
    assert_eq!(restarted.commit_index(), 31);
    assert_eq!(restarted.log().snapshot_index(), 31);
    let installed = &net.installed[&1];
    assert_eq!(
        installed.last().map(|s| (s.index, s.data.len())),
        Some((31, 2500))
    );
    // A snapshot whose entries the follower already holds keeps the log after it.
    assert!(!net.persisted[&2].iter().any(|p| matches!(
        p,
        RaftPersist::Snapshot {
            retain_log: false,
            ..
        }
    )));
}
