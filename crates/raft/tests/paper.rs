//! Tests of the pure Raft core, each named after the section of the Raft paper it checks
//! ("In Search of an Understandable Consensus Algorithm", extended version).

#![allow(missing_docs, clippy::unwrap_used)]
mod harness;

use harness::{cmd, config, Net};
use synod_core::{Core, Proposing, Standing};
use synod_messages::raft::{ConflictHint, Entry, EntryPayload, RaftMessage};
use synod_messages::{ActorAddr, NodeId};
use synod_raft::{HardState, Raft, RaftPersist, RaftState};

fn entries(terms: &[u64]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(i, &term)| Entry {
            term,
            index: i as u64 + 1,
            payload: EntryPayload::Noop,
        })
        .collect()
}

fn state(term: u64, log_terms: &[u64]) -> RaftState {
    RaftState {
        hard_state: HardState {
            term,
            voted_for: None,
        },
        snapshot: None,
        entries: entries(log_terms),
    }
}

fn from(node: u64) -> ActorAddr {
    ActorAddr::new(node, synod_raft::RAFT)
}

// ---------------------------------------------------------------- §5.1 / §5.2 leader election

#[test]
fn s5_2_follower_times_out_becomes_candidate_and_requests_votes() {
    let mut net = Net::new(3);
    net.timeout(1);
    let s = net.node(1).status();
    assert_eq!((s.standing, s.epoch), (Standing::Candidate, 1));
    assert_eq!(net.node(1).voted_for(), Some(1));
    // The vote for itself is persisted before the RequestVotes leave (same Ready, persist first).
    assert!(
        net.persisted[&1].contains(&RaftPersist::HardState(HardState {
            term: 1,
            voted_for: Some(1)
        }))
    );
    let sent = net.drain();
    assert_eq!(sent.len(), 2);
    for (f, _, msg) in sent {
        assert_eq!(f, 1);
        assert_eq!(
            msg,
            RaftMessage::RequestVote {
                term: 1,
                candidate_id: 1,
                last_log_index: 0,
                last_log_term: 0
            }
        );
    }
}

#[test]
fn s5_2_election_timeouts_are_randomized_within_bounds() {
    let mut timeouts = Vec::new();
    for id in 1..=20 {
        let mut raft = Raft::new(config(id, 20), RaftState::default());
        let mut ticks = 0;
        while raft.term() == 0 {
            raft.on_tick();
            ticks += 1;
        }
        assert!(
            (10..20).contains(&ticks),
            "timeout {ticks} outside [10, 20)"
        );
        timeouts.push(ticks);
    }
    timeouts.sort();
    timeouts.dedup();
    assert!(
        timeouts.len() > 3,
        "timeouts are not randomized: {timeouts:?}"
    );
}

#[test]
fn s5_2_majority_of_votes_makes_a_leader_that_sends_heartbeats() {
    let mut net = Net::new(3);
    net.elect(1);
    assert_eq!(net.node(2).status().leader, Some(1));
    assert_eq!(net.node(3).status().leader, Some(1));
    net.drain();
    for _ in 0..2 {
        net.tick(1);
    }
    let beats: Vec<_> = net.drain();
    assert_eq!(beats.len(), 2, "one heartbeat per follower");
    assert!(beats
        .iter()
        .all(|(_, _, m)| matches!(m, RaftMessage::AppendEntries { term: 1, .. })));
}

#[test]
fn s5_2_at_most_one_vote_per_term() {
    let mut net = Net::new(3);
    let vote = |c| RaftMessage::RequestVote {
        term: 1,
        candidate_id: c,
        last_log_index: 0,
        last_log_term: 0,
    };
    let n3 = net.nodes.get_mut(&3).unwrap();
    n3.on_message(from(1), vote(1));
    n3.on_message(from(2), vote(2));
    n3.on_message(from(1), vote(1)); // a duplicate from the same candidate is granted again
    let replies: Vec<bool> = n3
        .take_ready()
        .messages
        .into_iter()
        .map(|(_, m)| match m {
            RaftMessage::RequestVoteResponse { vote_granted, .. } => vote_granted,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(replies, vec![true, false, true]);
}

#[test]
fn s5_2_candidate_steps_down_when_a_leader_of_its_term_appears() {
    let mut net = Net::new(3);
    net.timeout(2);
    net.drain();
    let n2 = net.nodes.get_mut(&2).unwrap();
    n2.on_message(
        from(1),
        RaftMessage::AppendEntries {
            term: 1,
            leader_id: 1,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![],
            leader_commit: 0,
        },
    );
    let s = n2.status();
    assert_eq!((s.standing, s.leader), (Standing::Follower, Some(1)));
}

#[test]
fn s5_1_higher_term_turns_a_leader_into_a_follower_and_stale_terms_are_refused() {
    let mut net = Net::new(3);
    net.elect(1);
    net.drain();
    let n1 = net.nodes.get_mut(&1).unwrap();
    // Stale term: refused, and the answer carries our term.
    n1.on_message(
        from(2),
        RaftMessage::AppendEntries {
            term: 0,
            leader_id: 2,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![],
            leader_commit: 0,
        },
    );
    let out = n1.take_ready().messages;
    assert!(matches!(
        out[0].1,
        RaftMessage::AppendEntriesResponse {
            term: 1,
            success: false,
            ..
        }
    ));
    assert!(n1.is_leader());
    // Higher term: step down.
    n1.on_message(
        from(3),
        RaftMessage::RequestVoteResponse {
            term: 5,
            vote_granted: false,
        },
    );
    assert!(!n1.is_leader());
    assert_eq!(n1.term(), 5);
}

#[test]
fn s5_2_split_votes_resolve_to_exactly_one_leader() {
    let mut net = Net::new(5);
    // Everyone ticks in lock-step; randomized timeouts break the symmetry.
    for _ in 0..400 {
        for id in 1..=5 {
            net.tick(id);
        }
        net.deliver_all();
        let leaders: Vec<_> = net.nodes.values().filter(|n| n.is_leader()).collect();
        assert!(leaders.len() <= 1);
        if leaders.len() == 1 {
            return;
        }
    }
    panic!("no leader after 400 ticks");
}

// ---------------------------------------------------------------- §5.3 log replication

#[test]
fn s5_3_leader_replicates_and_commits_once_a_majority_stores_the_entry() {
    let mut net = Net::new(3);
    net.elect(1);
    net.propose(1, vec![cmd(1), cmd(2)]);
    net.deliver_all();
    assert_eq!(net.node(1).commit_index(), 3, "no-op + 2 commands");
    // Followers learn the commit index with the next AppendEntries.
    net.tick(1);
    net.tick(1);
    net.deliver_all();
    for id in 1..=3 {
        assert_eq!(net.applied_commands(id), vec![cmd(1), cmd(2)], "node {id}");
        let idx: Vec<u64> = net.applied[&id].iter().map(|a| a.index).collect();
        assert_eq!(idx, vec![1, 2, 3], "in order, once");
    }
}

#[test]
fn s5_3_commits_with_one_follower_down_but_not_with_two() {
    let mut net = Net::new(3);
    net.elect(1);
    net.isolate(3);
    net.propose(1, vec![cmd(1)]);
    net.deliver_all();
    assert_eq!(net.node(1).commit_index(), 2);
    net.isolate(2);
    net.propose(1, vec![cmd(2)]);
    net.deliver_all();
    assert_eq!(net.node(1).commit_index(), 2, "no majority: no commit");
}

#[test]
fn s5_3_follower_refuses_a_mismatched_prev_entry_with_a_conflict_hint() {
    let mut f = Raft::new(config(2, 3), state(3, &[1, 1, 2, 2, 2]));
    let ae = |prev_log_index, prev_log_term| RaftMessage::AppendEntries {
        term: 3,
        leader_id: 1,
        prev_log_index,
        prev_log_term,
        entries: vec![],
        leader_commit: 0,
    };
    f.on_message(from(1), ae(9, 3));
    f.on_message(from(1), ae(5, 3));
    let hints: Vec<_> = f
        .take_ready()
        .messages
        .into_iter()
        .map(|(_, m)| match m {
            RaftMessage::AppendEntriesResponse {
                success: false,
                conflict,
                ..
            } => conflict,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        hints,
        vec![
            Some(ConflictHint {
                term: None,
                index: 6
            }),
            Some(ConflictHint {
                term: Some(2),
                index: 3
            }),
        ]
    );
}

#[test]
fn s5_3_conflicting_entries_are_truncated_and_replaced_by_the_leaders() {
    // Node 1 leads term 3 with log [1,1,3]; node 2 holds [1,1,2,2] from an old leader.
    let mut net = Net::with_states(vec![
        (config(1, 3), state(2, &[1, 1, 2])),
        (config(2, 3), state(2, &[1, 1, 2, 2])),
        (config(3, 3), state(2, &[1, 1])),
    ]);
    net.elect(1);
    net.propose(1, vec![cmd(1)]);
    net.deliver_all();
    let l1: Vec<_> = net.node(1).log().slice(1, 100).to_vec();
    let l2: Vec<_> = net.node(2).log().slice(1, 100).to_vec();
    assert_eq!(l1, l2);
    assert!(net.persisted[&2].contains(&RaftPersist::TruncateFrom(4)));
    // And what node 2 persisted is what it holds.
    let persisted = net.stores[&2].snapshot().entries;
    assert_eq!(persisted, l2);
}

#[test]
fn s5_3_fast_back_off_skips_a_whole_conflicting_term() {
    // Follower 2 holds 50 entries of stale term 2 past index 1; the leader's log differs from 2 on.
    let mut stale = vec![1];
    stale.extend(std::iter::repeat_n(2, 50));
    let mut net = Net::with_states(vec![
        (config(1, 3), state(3, &[1, 3])),
        (config(2, 3), state(3, &stale)),
        (config(3, 3), state(3, &[1, 3])),
    ]);
    // Node 2 must not win (its last term 2 < 3) — make node 1 leader.
    net.elect(1);
    net.deliver_all();
    let refusals = net.persisted[&2]
        .iter()
        .filter(|p| matches!(p, RaftPersist::TruncateFrom(_)))
        .count();
    assert_eq!(refusals, 1, "one truncation");
    assert_eq!(
        net.node(2).log().slice(1, 100).to_vec(),
        net.node(1).log().slice(1, 100).to_vec()
    );
    // Count the refused AppendEntries: the hint lets the leader jump over term 2 at once.
    let mut net2 = Net::with_states(vec![
        (config(1, 3), state(3, &[1, 3])),
        (config(2, 3), state(3, &stale)),
        (config(3, 3), state(3, &[1, 3])),
    ]);
    net2.elect(1);
    let mut refused = 0;
    while let Some((f, t, m)) = net2.queue.pop_front() {
        if matches!(m, RaftMessage::AppendEntriesResponse { success: false, .. }) {
            refused += 1;
        }
        net2.nodes.get_mut(&t).unwrap().on_message(from(f), m);
        net2.flush(t);
    }
    assert!(refused <= 2, "{refused} refusals: back-off is not fast");
}

#[test]
fn s5_3_replication_batches_proposals_and_pipelines_bounded_by_max_inflight() {
    // The default window (no pipeline) and a pipeline of three.
    for window in [config(1, 3).max_inflight, 3] {
        let mut net = net_with_window(3, window);
        net.elect(1);
        net.deliver_all();
        net.propose(1, (1..=10).map(cmd).collect());
        let batch = net.drain();
        assert_eq!(
            batch.len(),
            2,
            "one AppendEntries per follower for 10 commands"
        );
        for (_, _, m) in &batch {
            let RaftMessage::AppendEntries { entries, .. } = m else {
                panic!("{m:?}")
            };
            assert_eq!(entries.len(), 10);
        }
        // Pipelining: further proposals go out before the first batch is acknowledged...
        for seq in 11..=20 {
            net.propose(1, vec![cmd(seq)]);
        }
        let to2 = net.drain().into_iter().filter(|(_, t, _)| *t == 2).count();
        // ...but no more than max_inflight batches are unacknowledged per follower.
        assert_eq!(
            to2,
            window - 1,
            "{window} in flight at most: 1 earlier + the rest"
        );
    }
}

#[test]
fn s5_3_a_lost_pipeline_is_restarted_by_the_heartbeat() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    net.propose(1, vec![cmd(1)]);
    net.drain(); // every AppendEntries is lost
    for _ in 0..4 {
        net.tick(1);
        net.deliver_all();
    }
    assert_eq!(net.node(1).commit_index(), 2);
    assert_eq!(net.node(2).log().last_index(), 2);
}

// ---------------------------------------------------------------- §5.4 safety

#[test]
fn s5_4_1_vote_is_refused_to_a_candidate_whose_log_is_less_up_to_date() {
    let mut voter = Raft::new(config(3, 3), state(2, &[1, 2, 2]));
    let rv = |last_log_index, last_log_term| RaftMessage::RequestVote {
        term: 3,
        candidate_id: 1,
        last_log_index,
        last_log_term,
    };
    voter.on_message(from(1), rv(5, 1)); // longer but older last term
    voter.on_message(from(1), rv(2, 2)); // same last term, shorter
    voter.on_message(from(1), rv(3, 2)); // same: up to date
    let grants: Vec<bool> = voter
        .take_ready()
        .messages
        .into_iter()
        .map(|(_, m)| {
            matches!(
                m,
                RaftMessage::RequestVoteResponse {
                    vote_granted: true,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(grants, vec![false, false, true]);
}

/// Figure 8: a leader may not conclude that an entry of an earlier term is committed because it
/// is stored on a majority; only an entry of its own term commits (and with it all before).
#[test]
fn s5_4_2_figure_8_entries_of_earlier_terms_commit_only_through_the_current_term() {
    // (c): S1 was leader of term 2 and wrote index 2 on S1, S2; S5 led term 3 and wrote index 2
    // on itself only. S1 is elected in term 4 by S1, S2, S3 (S4, S5 are unreachable).
    let mut net = Net::with_states(vec![
        (config(1, 5), state(3, &[1, 2])),
        (config(2, 5), state(3, &[1, 2])),
        (config(3, 5), state(3, &[1])),
        (config(4, 5), state(3, &[1])),
        (config(5, 5), state(3, &[1, 3])),
    ]);
    net.isolate(4);
    net.isolate(5);
    net.timeout(1);
    while !net.node(1).is_leader() {
        assert!(net.deliver_one());
    }
    assert_eq!(net.node(1).term(), 4);
    net.queue.clear();
    // S2 and S3 report holding index 2 (term 2) but not yet the term-4 no-op at index 3:
    // index 2 is now on a majority (S1, S2, S3), yet it must NOT be committed.
    for f in [2, 3] {
        net.nodes.get_mut(&1).unwrap().on_message(
            from(f),
            RaftMessage::AppendEntriesResponse {
                term: 4,
                success: true,
                match_index: 2,
                conflict: None,
            },
        );
    }
    assert_eq!(
        net.node(1).commit_index(),
        0,
        "Figure 8: index 2 is not committed"
    );
    // (d) would now be possible: S5 (last term 3) could win without S1 and overwrite index 2.
    // (e): once the term-4 entry is on a majority, it commits, and index 2 with it.
    for f in [2, 3] {
        assert_eq!(net.node(1).commit_index(), 0);
        net.nodes.get_mut(&1).unwrap().on_message(
            from(f),
            RaftMessage::AppendEntriesResponse {
                term: 4,
                success: true,
                match_index: 3,
                conflict: None,
            },
        );
    }
    assert_eq!(net.node(1).commit_index(), 3);
}

/// Figure 8 (d), run for real: the uncommitted term-2 entry on S1, S2 is overwritten by S5,
/// which is fine precisely because nobody ever reported it committed.
#[test]
fn s5_4_2_figure_8_uncommitted_entry_of_an_old_term_may_be_overwritten() {
    let mut net = Net::with_states(vec![
        (config(1, 5), state(3, &[1, 2])),
        (config(2, 5), state(3, &[1, 2])),
        (config(3, 5), state(3, &[1])),
        (config(4, 5), state(3, &[1])),
        (config(5, 5), state(3, &[1, 3])),
    ]);
    net.isolate(1);
    net.elect(5); // votes from S2 (its last term 2 < 3), S3, S4
    net.deliver_all();
    net.heal();
    for _ in 0..4 {
        net.tick(5);
        net.deliver_all();
    }
    for id in 1..=5 {
        assert_eq!(net.node(id).log().term_at(2), Some(3), "node {id}");
    }
    // Index 2 was never reported committed while it held the term-2 entry.
    assert!(net.persisted[&1].contains(&RaftPersist::TruncateFrom(2)));
}

#[test]
fn s5_4_3_leader_completeness_committed_entries_survive_leader_changes() {
    let mut net = Net::new(3);
    net.elect(1);
    net.propose(1, vec![cmd(1)]);
    net.deliver_all();
    assert_eq!(net.node(1).commit_index(), 2);
    net.isolate(1);
    // Node 3 never got the entry? It did (all delivered). Either winner holds it.
    net.elect(2);
    net.propose(2, vec![cmd(2)]);
    net.deliver_all();
    for _ in 0..2 {
        net.tick(2);
    }
    net.deliver_all();
    assert_eq!(net.applied_commands(3), vec![cmd(1), cmd(2)]);
}

#[test]
fn s5_4_a_node_without_committed_entries_cannot_win() {
    let mut net = Net::new(3);
    net.elect(1);
    net.isolate(3);
    net.propose(1, vec![cmd(1)]);
    net.deliver_all();
    net.heal();
    net.isolate(1);
    net.timeout(3);
    net.deliver_all();
    assert!(!net.node(3).is_leader(), "node 3 lacks committed index 2");
}

// ---------------------------------------------------------------- §8 client interaction & extras

#[test]
fn s8_a_new_leader_appends_a_noop_of_its_term() {
    let mut net = Net::new(3);
    net.elect(2);
    let last = net.node(2).log().get(1).unwrap().clone();
    assert_eq!((last.term, last.payload), (1, EntryPayload::Noop));
}

#[test]
fn followers_refuse_proposals_and_name_the_leader() {
    let mut net = Net::new(3);
    net.elect(1);
    let err = net
        .nodes
        .get_mut(&2)
        .unwrap()
        .propose(vec![cmd(1)])
        .unwrap_err();
    assert_eq!(err.leader, Some(1));
}

#[test]
fn check_quorum_a_leader_cut_off_from_the_majority_steps_down() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    net.isolate(1);
    for _ in 0..40 {
        net.tick(1);
        net.deliver_all();
    }
    assert!(!net.node(1).is_leader());
}

#[test]
fn s5_4_restart_from_persisted_state_keeps_vote_and_log() {
    let mut net = Net::new(3);
    net.elect(1);
    net.propose(1, vec![cmd(1)]);
    net.deliver_all();
    net.restart(2);
    assert_eq!(net.node(2).term(), 1);
    assert_eq!(net.node(2).voted_for(), Some(1));
    assert_eq!(net.node(2).log().last_index(), 2);
    // It will not vote for another candidate in term 1.
    let n2 = net.nodes.get_mut(&2).unwrap();
    n2.on_message(
        from(3),
        RaftMessage::RequestVote {
            term: 1,
            candidate_id: 3,
            last_log_index: 9,
            last_log_term: 1,
        },
    );
    assert!(matches!(
        n2.take_ready().messages[0].1,
        RaftMessage::RequestVoteResponse {
            vote_granted: false,
            ..
        }
    ));
}

/// Regression (1-client benchmark): a follower whose client waits for it to apply learned the
/// commit index only at the next heartbeat, 100 ms later.
#[test]
fn s5_3_followers_learn_the_commit_index_without_waiting_for_a_heartbeat() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    net.propose(1, vec![cmd(1)]);
    net.deliver_all(); // no tick: no heartbeat
    for id in 1..=3 {
        assert_eq!(net.node(id).commit_index(), 2, "node {id}");
        assert_eq!(net.applied_commands(id), vec![cmd(1)], "node {id}");
    }
}

/// A follower with a batch in flight is not sent an empty AppendEntries for each commit (a
/// message pair per follower per batch under load): the answer it owes brings it the commit.
#[test]
fn s5_3_a_follower_with_a_batch_in_flight_learns_the_commit_from_the_answer_to_it() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    net.propose(1, vec![cmd(1)]);
    let deliver = |net: &mut Net, (f, t, m): (NodeId, NodeId, RaftMessage)| {
        net.nodes.get_mut(&t).unwrap().on_message(from(f), m);
        net.flush(t);
    };
    let (to3, to2): (Vec<_>, Vec<_>) = net.drain().into_iter().partition(|(_, t, _)| *t == 3);
    for m in to2 {
        deliver(&mut net, m);
    }
    for m in net.drain() {
        deliver(&mut net, m); // node 2's answer: a majority has the entry
    }
    assert_eq!(net.node(1).commit_index(), 2);
    let told = net.drain();
    let commit_sent_to = |t: NodeId| {
        told.iter().any(|(_, to, m)| {
            *to == t
                && matches!(
                    m,
                    RaftMessage::AppendEntries {
                        leader_commit: 2,
                        ..
                    }
                )
        })
    };
    assert!(
        commit_sent_to(2),
        "a follower with nothing in flight is told at once"
    );
    assert!(
        !commit_sent_to(3),
        "node 3 owes an answer: no empty message for it"
    );
    for m in told {
        deliver(&mut net, m);
    }
    for m in to3 {
        deliver(&mut net, m);
    }
    net.deliver_all(); // node 3's answer, and what the leader sends back
    assert_eq!(net.node(3).commit_index(), 2);
    assert_eq!(net.applied_commands(3), vec![cmd(1)]);
}

// ---------------------------------------------------------------- dissertation §10.2.1

#[test]
fn s10_2_1_leader_sends_appendentries_before_its_own_write_and_counts_itself_once_durable() {
    let mut net = Net::new(3);
    net.elect(1);
    let leader = net.nodes.get_mut(&1).unwrap();
    leader.propose(vec![cmd(1)]).unwrap();
    let ready = leader.take_ready();
    let index = leader.log().last_index();
    // The AppendEntries carrying the new entry may leave before the leader's write...
    assert!(ready.persist.contains(&RaftPersist::Append(vec![leader
        .log()
        .get(index)
        .unwrap()
        .clone()])));
    let carrying = |m: &RaftMessage| {
        matches!(m, RaftMessage::AppendEntries { entries, .. }
            if entries.iter().any(|e| e.index == index))
    };
    assert_eq!(ready.eager.iter().filter(|(_, m)| carrying(m)).count(), 2);
    assert!(!ready.messages.iter().any(|(_, m)| carrying(m)));
    // A follower's acknowledgement, on the contrary, waits for its own write.
    let (to, append) = ready.eager[0].clone();
    let follower = net.nodes.get_mut(&to.node).unwrap();
    follower.on_message(from(1), append);
    let answer = follower.take_ready();
    assert!(!answer.persist.is_empty());
    assert!(
        answer.eager.is_empty(),
        "a follower acknowledged before its write"
    );
    assert!(matches!(
        answer.messages.as_slice(),
        [(_, RaftMessage::AppendEntriesResponse { success: true, .. })]
    ));
    let leader = net.nodes.get_mut(&1).unwrap();
    // ...and one follower's acknowledgement is no majority while that write is not durable.
    let ack = RaftMessage::AppendEntriesResponse {
        term: leader.term(),
        success: true,
        match_index: index,
        conflict: None,
    };
    leader.on_message(from(2), ack);
    assert!(
        leader.commit_index() < index,
        "committed on a log not yet on disk"
    );
    leader.persisted();
    assert_eq!(leader.commit_index(), index);
    let applied = leader.take_ready().applied;
    assert_eq!(applied.last().map(|a| a.index), Some(index));
}

/// `n` fresh nodes whose leaders keep up to `window` batches in flight per follower.
fn net_with_window(n: u64, window: usize) -> Net {
    Net::with_states(
        (1..=n)
            .map(|id| {
                let mut cfg = config(id, n);
                cfg.max_inflight = window;
                (cfg, RaftState::default())
            })
            .collect(),
    )
}

/// Leader with both followers' pipelines of two full (two batches each, none answered), its
/// outputs taken: the no-op at 1, commands 1 and 2 at 2 and 3.
fn leader_with_full_pipelines() -> Net {
    let mut net = net_with_window(3, 2);
    net.elect(1);
    net.deliver_all();
    net.propose(1, vec![cmd(1)]);
    net.propose(1, vec![cmd(2)]);
    net.drain();
    net
}

fn appended(persist: &[RaftPersist]) -> Vec<Vec<u64>> {
    persist
        .iter()
        .filter_map(|op| match op {
            RaftPersist::Append(entries) => Some(entries.iter().map(|e| e.index).collect()),
            _ => None,
        })
        .collect()
}

#[test]
fn s10_2_1_a_leader_writes_entries_no_follower_can_take_yet_with_the_next_batch_that_carries_them()
{
    let mut net = leader_with_full_pipelines();
    let leader = net.nodes.get_mut(&1).unwrap();
    leader.propose(vec![cmd(3)]).unwrap();
    leader.propose(vec![cmd(4)]).unwrap();
    let held = leader.take_ready();
    assert!(held.eager.is_empty(), "both pipelines are full");
    assert!(
        held.persist.is_empty(),
        "no sync for entries nobody can take yet"
    );
    let term = leader.term();
    let ack = |match_index| RaftMessage::AppendEntriesResponse {
        term,
        success: true,
        match_index,
        conflict: None,
    };
    leader.on_message(from(2), ack(2));
    let ready = leader.take_ready();
    let to2: Vec<Vec<u64>> = ready
        .eager
        .iter()
        .filter_map(|(to, m)| match m {
            RaftMessage::AppendEntries { entries, .. } if to.node == 2 => {
                Some(entries.iter().map(|e| e.index).collect())
            }
            _ => None,
        })
        .collect();
    assert_eq!(to2, vec![vec![4, 5]], "one batch with both");
    assert_eq!(
        appended(&ready.persist),
        vec![vec![4, 5]],
        "one write with both"
    );
    leader.persisted();
    leader.on_message(from(2), ack(3));
    leader.on_message(from(2), ack(5));
    assert_eq!(leader.commit_index(), 5);
}

#[test]
fn s10_2_1_a_leader_that_steps_down_writes_its_held_entries_before_anything_else() {
    let mut net = leader_with_full_pipelines();
    let leader = net.nodes.get_mut(&1).unwrap();
    leader.propose(vec![cmd(3)]).unwrap();
    assert!(leader.take_ready().persist.is_empty());
    let term = leader.term();
    leader.on_message(
        from(3),
        RaftMessage::AppendEntriesResponse {
            term: term + 1,
            success: false,
            match_index: 0,
            conflict: None,
        },
    );
    assert!(!leader.is_leader());
    let ready = leader.take_ready();
    assert_eq!(appended(&ready.persist), vec![vec![4]]);
    assert!(
        matches!(ready.persist.first(), Some(RaftPersist::Append(_))),
        "the held entries first: {:?}",
        ready.persist
    );
}

/// Review finding: an empty proposal left the leader holding nothing, written at the next tick
/// as an empty append: a sync for nothing.
#[test]
fn an_empty_proposal_costs_no_write() {
    let mut net = Net::new(3);
    net.elect(1);
    net.deliver_all();
    let leader = net.nodes.get_mut(&1).unwrap();
    leader.propose(Vec::new()).unwrap();
    leader.take_ready();
    leader.on_tick();
    assert_eq!(
        appended(&leader.take_ready().persist),
        Vec::<Vec<u64>>::new()
    );
}
