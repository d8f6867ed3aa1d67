//! PreVote (dissertation §9.6): a server asks whether it would win before it raises its term.

#![allow(missing_docs, clippy::unwrap_used)]

mod harness;

use harness::{cmd, config, Net};
use synod_core::Core;
use synod_messages::raft::RaftMessage;
use synod_messages::ActorAddr;
use synod_raft::RaftState;

fn net(pre_vote: bool) -> Net {
    Net::with_states(
        (1..=3)
            .map(|id| {
                let mut cfg = config(id, 3);
                cfg.pre_vote = pre_vote;
                (cfg, RaftState::default())
            })
            .collect(),
    )
}

/// Ticks `id` (delivering everything after each tick) until it leads.
fn elect(net: &mut Net, id: u64) {
    for _ in 0..200 {
        net.tick(id);
        net.deliver_all();
        if net.node(id).is_leader() {
            return;
        }
    }
    panic!("node {id} never won");
}

/// Every node ticks `n` times, messages delivered after each round.
fn run(net: &mut Net, n: usize) {
    for _ in 0..n {
        for id in 1..=3 {
            net.tick(id);
        }
        net.deliver_all();
    }
}

/// Node 3 is cut off for 100 ticks, then comes back. Returns (the leader's term before, the
/// term of the cluster after, whether node 1 still leads).
fn cut_off_and_back(pre_vote: bool) -> (u64, u64, bool) {
    let mut net = net(pre_vote);
    elect(&mut net, 1);
    let before = net.node(1).term();
    net.isolate(3);
    run(&mut net, 100);
    net.heal();
    run(&mut net, 30);
    (before, net.node(1).term(), net.node(1).is_leader())
}

#[test]
fn s9_6_a_server_cut_off_alone_comes_back_without_deposing_the_leader() {
    let (before, after, leads) = cut_off_and_back(true);
    assert_eq!(
        (after, leads),
        (before, true),
        "the leader kept its term and its place"
    );
    // Without PreVote the same run ends with a new term: the check means something.
    let (before, after, _) = cut_off_and_back(false);
    assert!(
        after > before,
        "plain Raft: the returning server raised the term"
    );
}

#[test]
fn s9_6_a_pre_vote_changes_nothing_at_the_receiver() {
    let mut net = net(true);
    let term = net.node(2).term();
    let persisted = net.persisted.get(&2).map_or(0, Vec::len);
    net.nodes.get_mut(&2).unwrap().on_message(
        ActorAddr::new(3, synod_raft::RAFT),
        RaftMessage::PreVote {
            term: term + 5,
            candidate_id: 3,
            last_log_index: 0,
            last_log_term: 0,
        },
    );
    net.flush(2);
    assert_eq!(net.node(2).term(), term);
    assert_eq!(net.node(2).voted_for(), None);
    assert_eq!(net.persisted.get(&2).map_or(0, Vec::len), persisted);
    let granted = net.drain().into_iter().any(|(_, to, m)| {
        to == 3 && matches!(m, RaftMessage::PreVoteResponse { granted: true, .. })
    });
    assert!(
        granted,
        "no leader heard from, the log is as long: it would vote"
    );
}

#[test]
fn s9_6_pre_votes_are_refused_under_a_live_leader_and_to_a_stale_log() {
    let mut net = net(true);
    elect(&mut net, 1);
    net.propose(1, vec![cmd(1)]);
    net.deliver_all();
    let term = net.node(2).term();
    let ask = |net: &mut Net, to: u64, last_log_index| {
        net.nodes.get_mut(&to).unwrap().on_message(
            ActorAddr::new(3, synod_raft::RAFT),
            RaftMessage::PreVote {
                term: term + 1,
                candidate_id: 3,
                last_log_index,
                last_log_term: term,
            },
        );
        net.flush(to);
        net.drain().into_iter().find_map(|(_, _, m)| match m {
            RaftMessage::PreVoteResponse { granted, .. } => Some(granted),
            _ => None,
        })
    };
    // Node 2 heard from leader 1 a moment ago; the leader itself is alive.
    assert_eq!(ask(&mut net, 2, 2), Some(false));
    assert_eq!(ask(&mut net, 1, 2), Some(false));
    // Once node 2 has not heard from a leader for an election timeout, an up-to-date
    // candidate gets its pre-vote, a stale one does not.
    net.isolate(2);
    run(&mut net, 25);
    net.heal();
    assert_eq!(ask(&mut net, 2, 1), Some(false), "a stale log");
    assert_eq!(ask(&mut net, 2, 2), Some(true));
}

#[test]
fn s9_6_when_the_leader_is_gone_a_majority_of_pre_votes_elects_a_new_one() {
    let mut net = net(true);
    elect(&mut net, 1);
    let term = net.node(1).term();
    net.isolate(1);
    run(&mut net, 60);
    let leaders: Vec<u64> = [2, 3]
        .into_iter()
        .filter(|&id| net.node(id).is_leader())
        .collect();
    assert_eq!(leaders.len(), 1, "one new leader among 2 and 3");
    assert!(net.node(leaders[0]).term() > term);
}
