//! The leader's window of Accept rounds (`max_inflight`): commands proposed while it is full
//! wait, and go out together in one round once the oldest round is chosen.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::leader;
use synod_core::Core;
use synod_messages::paxos::{PaxosMessage, Slot};
use synod_messages::{ActorAddr, Command, KvOp, RequestId, Role};
use synod_paxos::Proposer;

fn put(seq: u64) -> Command {
    Command {
        id: RequestId { client: 9, seq },
        op: KvOp::Put {
            key: format!("k{seq}"),
            value: b"v".to_vec(),
        },
    }
}

/// The slots of each Accept sent to acceptor 2, one list per message.
fn accept_rounds(p: &mut Proposer) -> Vec<Vec<Slot>> {
    p.take_ready()
        .messages
        .into_iter()
        .filter(|(to, _)| *to == ActorAddr::new(2, Role::Acceptor))
        .filter_map(|(_, m)| match m {
            PaxosMessage::Accept { entries, .. } => {
                Some(entries.into_iter().map(|(s, _)| s).collect())
            }
            _ => None,
        })
        .collect()
}

fn accepted(p: &mut Proposer, from: u64, slots: Vec<Slot>) {
    let ballot = p.ballot();
    p.on_message(
        ActorAddr::new(from, Role::Acceptor),
        PaxosMessage::Accepted { ballot, slots },
    );
}

#[test]
fn a_leader_keeps_at_most_max_inflight_rounds_out_and_sends_the_waiting_ones_together() {
    let mut p = leader();
    p.propose(vec![put(1)]).unwrap();
    p.propose(vec![put(2)]).unwrap();
    assert_eq!(accept_rounds(&mut p), vec![vec![1], vec![2]]);
    p.propose(vec![put(3)]).unwrap();
    p.propose(vec![put(4), put(5)]).unwrap();
    assert!(
        accept_rounds(&mut p).is_empty(),
        "two rounds are out (the default max_inflight): the rest waits"
    );
    accepted(&mut p, 1, vec![2]);
    accepted(&mut p, 3, vec![2]);
    assert!(
        accept_rounds(&mut p).is_empty(),
        "the newer round chosen first frees nothing: the oldest is still out"
    );
    accepted(&mut p, 1, vec![1]);
    accepted(&mut p, 3, vec![1]);
    assert_eq!(
        accept_rounds(&mut p),
        vec![vec![3, 4, 5]],
        "once the oldest is chosen, everything waiting goes in one round"
    );
    assert_eq!(p.status().commit_index, 2);
}

#[test]
fn slots_this_nodes_learner_delivered_free_the_window_too() {
    let mut p = leader();
    p.propose(vec![put(1)]).unwrap();
    p.propose(vec![put(2)]).unwrap();
    p.propose(vec![put(3)]).unwrap();
    assert_eq!(accept_rounds(&mut p), vec![vec![1], vec![2]]);
    // The acceptors' Accepted were lost; the learner learned slots 1 and 2 from elsewhere.
    p.on_message(
        ActorAddr::new(1, Role::Learner),
        PaxosMessage::Progress { delivered_upto: 2 },
    );
    assert_eq!(accept_rounds(&mut p), vec![vec![3]]);
}

#[test]
fn waiting_commands_are_not_sent_by_a_leader_that_stepped_down() {
    let mut p = leader();
    for seq in 1..=3 {
        p.propose(vec![put(seq)]).unwrap();
    }
    assert_eq!(accept_rounds(&mut p), vec![vec![1], vec![2]]);
    let higher = synod_messages::paxos::Ballot::new(p.ballot().round + 1, 3);
    let ballot = p.ballot();
    p.on_message(
        ActorAddr::new(2, Role::Acceptor),
        PaxosMessage::Rejected {
            ballot,
            promised: higher,
        },
    );
    assert!(!p.is_leader());
    accepted(&mut p, 1, vec![1]);
    accepted(&mut p, 3, vec![1]);
    assert!(
        accept_rounds(&mut p).is_empty(),
        "a follower proposes nothing: the service learns the outcome by its deadline"
    );
    assert!(p.propose(vec![put(4)]).is_err());
}
