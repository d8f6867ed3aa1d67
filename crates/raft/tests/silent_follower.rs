//! A follower that stops answering (a stopped process, a cut link) costs the leader little: it
//! is probed with empty AppendEntries instead of being sent its batch every heartbeat round,
//! and an unanswered snapshot chunk goes again less and less often. Found with a follower
//! stopped by SIGSTOP under 64 KiB writes: the leader queued a batch for it every round and
//! grew by ~11 MB/s until the node ran out of memory.

#![allow(missing_docs, clippy::unwrap_used)]

mod harness;

use harness::{cmd, config, Net};
use synod_messages::raft::RaftMessage;
use synod_raft::RaftState;

/// Ticks the leader for `rounds` heartbeat rounds, delivering everything after each tick, and
/// returns every message it sent node 3 meanwhile (delivered or not).
fn run_rounds(net: &mut Net, rounds: u32) -> Vec<RaftMessage> {
    let mut to_3 = Vec::new();
    for _ in 0..rounds * config(1, 3).heartbeat_ticks {
        net.tick(1);
        while let Some((from, to, msg)) = net.queue.front() {
            if (*from, *to) == (1, 3) {
                to_3.push(msg.clone());
            }
            net.deliver_one();
        }
    }
    to_3
}

/// 3 nodes with 1000-byte snapshot chunks; node 3, cut off, missed 10 commands that nodes 1
/// (the leader) and 2 then compacted into a 2500-byte snapshot.
fn cut_off_behind_a_snapshot() -> Net {
    let mut net = Net::with_states(
        (1..=3)
            .map(|id| {
                let mut cfg = config(id, 3);
                cfg.snapshot_chunk = 1000;
                (cfg, RaftState::default())
            })
            .collect(),
    );
    net.elect(1);
    net.deliver_all();
    net.isolate(3);
    for seq in 1..=10 {
        net.propose(1, vec![cmd(seq)]);
    }
    net.deliver_all();
    for id in [1, 2] {
        net.compact(id, 11, &[7; 2500]);
    }
    net
}

fn carries_entries(m: &RaftMessage) -> bool {
    matches!(m, RaftMessage::AppendEntries { entries, .. } if !entries.is_empty())
}

#[test]
fn a_silent_follower_is_probed_with_empty_append_entries_not_sent_its_batch_every_round() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    net.isolate(3);
    net.propose(1, (1..=5).map(cmd).collect());
    net.deliver_all();
    assert_eq!(net.node(1).commit_index(), 6, "nodes 1 and 2 commit");

    let sent = run_rounds(&mut net, 40);
    let batches = sent.iter().filter(|m| carries_entries(m)).count();
    let probes = sent
        .iter()
        .filter(|m| matches!(m, RaftMessage::AppendEntries { entries, .. } if entries.is_empty()))
        .count();
    assert!(
        batches <= 1,
        "the batch went {batches} times to a follower that never answered"
    );
    assert!(probes >= 30, "heartbeats keep going: {probes}");

    // Back: its answer to a probe brings the batch, and it catches up.
    net.heal();
    let sent = run_rounds(&mut net, 3);
    assert!(sent.iter().any(carries_entries));
    assert_eq!(
        net.node(3).log().last_index(),
        net.node(1).log().last_index()
    );
    assert_eq!(net.applied_commands(3).len(), 5);
}

#[test]
fn an_unanswered_snapshot_chunk_goes_again_less_and_less_often_and_the_transfer_resumes() {
    let mut net = cut_off_behind_a_snapshot();

    let sent = run_rounds(&mut net, 100);
    let (chunks, keepalives) = sent.iter().fold((0, 0), |(c, k), m| match m {
        RaftMessage::InstallSnapshot { data, .. } if data.is_empty() => (c, k + 1),
        RaftMessage::InstallSnapshot { .. } => (c + 1, k),
        _ => (c, k),
    });
    // Rounds 1, 2, 4, 8, 16, 32, 48, 64, 80, 96, plus the first chunk: not one per round.
    assert!(
        (3..=12).contains(&chunks),
        "{chunks} chunks in 100 rounds to a follower that never answered"
    );
    // An empty chunk in the other rounds: the follower's heartbeat.
    assert!(keepalives >= 80, "{keepalives} empty chunks");

    net.heal();
    run_rounds(&mut net, 20);
    assert_eq!(net.node(3).log().snapshot_index(), 11);
    assert_eq!(net.installed[&3].len(), 1);
}

/// Review finding: with the chunk resends backed off, a follower in a snapshot transfer heard
/// nothing for up to 16 heartbeat rounds, longer than an election timeout. One that was
/// frozen (SIGSTOP) and then resumed stood for election against a healthy leader and deposed
/// it. An empty chunk now goes in the rounds between resends.
#[test]
fn a_follower_resumed_mid_transfer_hears_the_leader_every_round_and_stays_a_follower() {
    let mut net = cut_off_behind_a_snapshot();
    // Node 3 is frozen (no ticks, nothing delivered) for 40 rounds of the leader.
    run_rounds(&mut net, 40);
    net.heal();
    let term = net.node(1).term();
    for _ in 0..30 * config(1, 3).heartbeat_ticks {
        for id in 1..=3 {
            net.tick(id);
        }
        net.deliver_all();
    }
    assert!(net.node(1).is_leader(), "the leader was deposed");
    assert_eq!(net.node(3).term(), term, "node 3 stood for election");
    assert_eq!(net.node(3).log().snapshot_index(), 11);
}
