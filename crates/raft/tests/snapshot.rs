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

/// Delivers messages until the leader got node 3's confirmation of a chunk, then holds back
/// what is still queued (the next chunk, on its way) and returns it.
fn first_chunk_confirmed(net: &mut Net) -> Vec<(u64, u64, RaftMessage)> {
    net.tick(1);
    net.tick(1);
    while let Some((from, to, msg)) = net.queue.pop_front() {
        let confirmed = matches!(msg, RaftMessage::InstallSnapshotResponse { .. });
        net.queue.push_front((from, to, msg));
        net.deliver_one();
        if confirmed && from == 3 {
            return net.drain();
        }
    }
    panic!("no chunk was confirmed");
}

/// Commits commands 1001..=1000+n through the leader and node 2 (node 3's traffic held).
fn commit_without_3(net: &mut Net, n: u64) {
    for seq in 1001..=1000 + n {
        net.propose(1, vec![cmd(seq)]);
    }
    for _ in 0..3 {
        net.deliver_all();
        net.tick(1);
        net.queue.retain(|(_, to, _)| *to != 3);
    }
}

/// Review finding: a leader that took a newer snapshot in the middle of a transfer started it
/// again from the new image, so under a steady write rate a large image might never arrive.
/// The newer snapshot now waits until the follower has the one it was getting, and the
/// follower then goes on from the leader's log.
#[test]
fn s7_a_newer_snapshot_waits_for_the_transfer_under_way() {
    let mut net = lagging_follower(1000);
    let in_flight = first_chunk_confirmed(&mut net);
    commit_without_3(&mut net, 10);
    assert_eq!(net.node(1).commit_index(), 41);
    net.compact(1, 41, &image(3000));
    assert_eq!(
        net.node(1).log().snapshot_index(),
        31,
        "the log is kept while node 3 takes the chunks"
    );
    net.queue.extend(in_flight);
    for _ in 0..6 {
        net.deliver_all();
        net.tick(1);
    }
    let installed: Vec<u64> = net.installed[&3].iter().map(|s| s.index).collect();
    assert_eq!(installed, vec![31], "the transfer ran to its end");
    assert_eq!(
        net.applied_commands(3),
        (1001..=1010).map(cmd).collect::<Vec<_>>(),
        "and the follower went on from the leader's log"
    );
    assert_eq!(
        net.node(1).log().snapshot_index(),
        41,
        "the leader compacts once the transfer is over"
    );
}

/// A follower that stops taking chunks holds nothing back for long, and neither does one
/// that takes them forever: the fourth snapshot in a row compacts.
#[test]
fn s7_a_transfer_holds_back_compaction_only_while_it_moves_and_not_forever() {
    let mut net = lagging_follower(1000);
    first_chunk_confirmed(&mut net);
    commit_without_3(&mut net, 10);
    net.compact(1, 41, &image(3000));
    assert_eq!(net.node(1).log().snapshot_index(), 31);
    net.isolate(3);
    for _ in 0..20 {
        net.tick(1);
        net.deliver_all();
    }
    assert_eq!(net.node(1).log().snapshot_index(), 41, "node 3 went quiet");

    let mut net = lagging_follower(100);
    let mut in_flight = first_chunk_confirmed(&mut net);
    commit_without_3(&mut net, 4);
    for (n, index) in (32..=35).enumerate() {
        net.compact(1, index, &image(3000));
        net.queue.extend(in_flight.drain(..));
        // One more chunk confirmed, the next held.
        while let Some((from, to, msg)) = net.queue.pop_front() {
            let confirmed = matches!(msg, RaftMessage::InstallSnapshotResponse { .. });
            net.queue.push_front((from, to, msg));
            net.deliver_one();
            if confirmed && from == 3 {
                break;
            }
        }
        in_flight = net.drain();
        let expected = if n < 3 { 31 } else { 35 };
        assert_eq!(
            net.node(1).log().snapshot_index(),
            expected,
            "snapshot {index}"
        );
    }
}

/// Review finding: an InstallSnapshot whose offset is near `u64::MAX` overflowed the end of
/// the chunk (a panic in a debug build). It is now refused like any chunk out of place.
#[test]
fn s7_a_chunk_at_an_absurd_offset_is_refused_not_a_panic() {
    let mut net = lagging_follower(1000);
    first_chunk_confirmed(&mut net); // node 3 holds the first 1000 bytes
    let term = net.node(1).term();
    net.queue.push_back((
        1,
        3,
        RaftMessage::InstallSnapshot {
            term,
            leader_id: 1,
            last_included_index: 31,
            last_included_term: term,
            offset: u64::MAX - 1,
            data: vec![0; 10],
            done: true,
        },
    ));
    net.deliver_all();
    assert_eq!(net.node(3).log().snapshot_index(), 0, "nothing installed");
}
