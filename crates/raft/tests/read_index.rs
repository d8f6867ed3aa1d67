//! Linearizable reads without log writes: ReadIndex (Raft dissertation §6.4).

#![allow(missing_docs, clippy::unwrap_used)]

mod harness;

use harness::{cmd, Net};
use synod_core::Proposing;
use synod_messages::raft::RaftMessage;

fn read(net: &mut Net, node: u64, id: u64) {
    net.nodes.get_mut(&node).unwrap().read_index(id).unwrap();
    net.flush(node);
}

#[test]
fn s6_4_a_read_is_released_once_a_majority_confirms_the_leader() {
    let mut net = Net::new(3);
    net.elect(1);
    net.propose(1, vec![cmd(1)]);
    net.deliver_all();
    assert_eq!(net.node(1).commit_index(), 2);
    read(&mut net, 1, 7);
    assert!(
        net.reads.get(&1).is_none_or(|r| r.is_empty()),
        "not before confirmation"
    );
    // Only follower 2 answers: with the leader that is a majority of three.
    net.cut.insert((3, 1));
    net.deliver_all();
    assert_eq!(
        net.reads[&1],
        vec![(7, Some(2))],
        "read point = commit index"
    );
}

#[test]
fn s6_4_reads_of_one_step_share_one_round_and_nothing_is_written() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    let persisted_before = net.persisted[&1].len();
    for id in 0..10 {
        net.nodes.get_mut(&1).unwrap().read_index(id).unwrap();
    }
    net.flush(1);
    let rounds = net
        .queue
        .iter()
        .filter(|(_, _, m)| matches!(m, RaftMessage::ReadIndexHeartbeat { .. }))
        .count();
    assert_eq!(rounds, 2, "one heartbeat per follower for ten reads");
    net.deliver_all();
    assert_eq!(net.reads[&1].len(), 10);
    assert_eq!(
        net.persisted[&1].len(),
        persisted_before,
        "a read writes nothing to the log"
    );
}

#[test]
fn s6_4_a_new_leaders_read_point_includes_its_noop() {
    let mut net = Net::new(3);
    net.timeout(1);
    // Deliver votes but not the no-op's replication yet: commit index is still 0.
    while !net.node(1).is_leader() {
        net.deliver_one();
    }
    assert_eq!(net.node(1).commit_index(), 0);
    read(&mut net, 1, 1);
    net.deliver_all();
    assert_eq!(
        net.reads[&1],
        vec![(1, Some(1))],
        "served only after the no-op at index 1"
    );
}

#[test]
fn s6_4_a_deposed_leader_cannot_confirm_and_fails_its_reads() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    net.isolate(1);
    read(&mut net, 1, 5);
    net.deliver_all();
    assert!(
        net.reads.get(&1).is_none_or(|r| r.is_empty()),
        "no majority, no read"
    );
    // Check-quorum deposes it; the read is answered "not confirmed".
    for _ in 0..40 {
        net.tick(1);
        net.deliver_all();
    }
    assert!(!net.node(1).is_leader());
    assert_eq!(net.reads[&1], vec![(5, None)]);
    // Followers refuse to take reads.
    assert!(net.nodes.get_mut(&2).unwrap().read_index(6).is_err());
}

#[test]
fn s6_4_a_follower_of_a_newer_term_makes_the_old_leader_step_down() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    net.isolate(1);
    net.elect(2);
    net.deliver_all();
    net.heal();
    read(&mut net, 1, 9);
    net.deliver_all();
    assert!(!net.node(1).is_leader());
    assert_eq!(net.reads[&1], vec![(9, None)]);
}

#[test]
fn s6_4_an_answer_to_a_heartbeat_of_an_earlier_life_confirms_no_round() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    // The old life runs five read rounds; the heartbeat of the fifth to node 3 is held back.
    for id in 0..5 {
        read(&mut net, 1, id);
        if id < 4 {
            net.deliver_all();
        }
    }
    let stale = net
        .drain()
        .into_iter()
        .find(|(_, to, m)| *to == 3 && matches!(m, RaftMessage::ReadIndexHeartbeat { seq: 5, .. }))
        .unwrap();
    // Restarted, it leads a newer term; its read rounds count from 1 again.
    net.restart(1);
    net.elect(1);
    net.deliver_all();
    net.cut.insert((1, 2));
    net.cut.insert((2, 1));
    read(&mut net, 1, 100);
    net.queue
        .retain(|(_, to, m)| !(*to == 3 && matches!(m, RaftMessage::ReadIndexHeartbeat { .. })));
    // Only the old heartbeat reaches node 3 (in the new term), and its answer comes back.
    net.queue.push_back(stale);
    net.deliver_all();
    assert!(
        !net.reads[&1].iter().any(|(id, _)| *id == 100),
        "released by an answer to the previous life: {:?}",
        net.reads[&1]
    );
}
