//! The leader's window per acceptor (`max_inflight`): slots proposed while it is full go out
//! together in the acceptor's next Accept; slots chosen meanwhile are not sent. Most tests
//! use a window of 2, a pipeline, which has more to get wrong than the default of 1.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{
    accepted, barrier_ack, config, leader_of_three, leader_of_three_with, leader_with, put,
};
use std::collections::BTreeMap;
use synod_core::{Core, Proposing};
use synod_messages::paxos::{Ballot, PaxosMessage, Slot};
use synod_messages::{ActorAddr, Command, KvOp, NodeId, RequestId};
use synod_paxos::{PaxosConfig, Proposer};

/// A window of two Accepts per acceptor.
fn pipelined() -> PaxosConfig {
    let mut cfg = config();
    cfg.max_inflight = 2;
    cfg
}

/// The slots of each Accept sent, per acceptor, one list per message.
fn accepts(p: &mut Proposer) -> BTreeMap<NodeId, Vec<Vec<Slot>>> {
    let mut sent: BTreeMap<NodeId, Vec<Vec<Slot>>> = BTreeMap::new();
    for (to, m) in p.take_ready().messages {
        if let PaxosMessage::Accept { entries, .. } = m {
            let slots = entries.into_iter().map(|(s, _)| s).collect();
            sent.entry(to.node).or_default().push(slots);
        }
    }
    sent
}

#[test]
fn by_default_an_acceptor_gets_what_was_proposed_while_it_wrote_in_its_next_accept() {
    let mut p = leader_of_three();
    p.propose(vec![put(1)]).unwrap();
    let sent = accepts(&mut p);
    for a in 1..=3 {
        assert_eq!(sent[&a], vec![vec![1]], "acceptor {a}");
    }
    p.propose(vec![put(2)]).unwrap();
    p.propose(vec![put(3)]).unwrap();
    assert!(
        accepts(&mut p).is_empty(),
        "one Accept out to every acceptor: the rest waits"
    );
    accepted(&mut p, 2, vec![1]);
    assert_eq!(
        accepts(&mut p),
        BTreeMap::from([(2, vec![vec![2, 3]])]),
        "acceptor 2 answered: slots 2 and 3 go to it in one Accept"
    );
}

#[test]
fn an_acceptor_has_at_most_max_inflight_accepts_out_and_gets_the_rest_in_one() {
    let mut p = leader_of_three_with(pipelined());
    p.propose(vec![put(1)]).unwrap();
    p.propose(vec![put(2)]).unwrap();
    let sent = accepts(&mut p);
    for a in 1..=3 {
        assert_eq!(sent[&a], vec![vec![1], vec![2]], "acceptor {a}");
    }
    p.propose(vec![put(3)]).unwrap();
    p.propose(vec![put(4), put(5)]).unwrap();
    assert!(
        accepts(&mut p).is_empty(),
        "two Accepts out to every acceptor: the rest waits"
    );
    accepted(&mut p, 2, vec![1]);
    assert_eq!(
        accepts(&mut p),
        BTreeMap::from([(2, vec![vec![3, 4, 5]])]),
        "acceptor 2 answered one: it gets everything waiting in one message, the others nothing"
    );
}

#[test]
fn slots_chosen_without_an_acceptor_are_not_sent_to_it() {
    let mut p = leader_of_three_with(pipelined());
    for seq in 1..=3 {
        p.propose(vec![put(seq)]).unwrap();
    }
    accepts(&mut p);
    // Acceptors 1 and 3 answer everything; acceptor 2 is slow.
    for a in [1, 3] {
        accepted(&mut p, a, vec![1]);
        accepted(&mut p, a, vec![2]);
    }
    for a in [1, 3] {
        accepted(&mut p, a, vec![3]);
    }
    assert_eq!(p.status().commit_index, 3);
    accepts(&mut p);
    p.propose(vec![put(4)]).unwrap();
    assert_eq!(
        accepts(&mut p),
        BTreeMap::from([(1, vec![vec![4]]), (3, vec![vec![4]])])
    );
    accepted(&mut p, 2, vec![1]);
    assert_eq!(
        accepts(&mut p),
        BTreeMap::from([(2, vec![vec![4]])]),
        "slot 3 was chosen while acceptor 2 was busy: it only gets slot 4"
    );
}

#[test]
fn an_accept_never_answered_frees_its_place_after_resend_ticks() {
    let mut p = leader_of_three_with(pipelined());
    p.propose(vec![put(1)]).unwrap();
    p.propose(vec![put(2)]).unwrap();
    accepts(&mut p); // the Accepts to acceptor 2 are lost
    for a in [1, 3] {
        accepted(&mut p, a, vec![1]);
        accepted(&mut p, a, vec![2]);
    }
    for _ in 0..6 {
        p.on_tick();
    }
    accepts(&mut p);
    p.propose(vec![put(3)]).unwrap();
    let sent = accepts(&mut p);
    assert_eq!(
        sent.get(&2),
        Some(&vec![vec![3]]),
        "acceptor 2's window is open again: {sent:?}"
    );
}

#[test]
fn a_leader_that_stepped_down_sends_no_accepts() {
    let mut p = leader_of_three_with(pipelined());
    for seq in 1..=3 {
        p.propose(vec![put(seq)]).unwrap();
    }
    accepts(&mut p);
    let ballot = p.ballot();
    p.on_message(
        ActorAddr::new(2, synod_paxos::ACCEPTOR),
        PaxosMessage::Rejected {
            ballot,
            promised: Ballot::new(ballot.round + 1, 3),
        },
    );
    assert!(!p.is_leader());
    accepted(&mut p, 1, vec![1]);
    accepted(&mut p, 3, vec![1]);
    assert!(accepts(&mut p).is_empty());
    assert!(p.propose(vec![put(4)]).is_err());
}

#[test]
fn the_leaders_own_acceptor_is_fed_along_with_another_not_on_its_own_answers() {
    let mut p = leader_of_three_with(pipelined());
    p.propose(vec![put(1)]).unwrap();
    p.propose(vec![put(2)]).unwrap();
    accepts(&mut p);
    accepted(&mut p, 1, vec![1]);
    accepted(&mut p, 1, vec![2]);
    p.propose(vec![put(3)]).unwrap();
    assert!(
        accepts(&mut p).is_empty(),
        "the other acceptors' windows are full: this node's acceptor (1) waits with them"
    );
    accepted(&mut p, 2, vec![1]);
    assert_eq!(
        accepts(&mut p),
        BTreeMap::from([(1, vec![vec![3]]), (2, vec![vec![3]])]),
        "slot 3 leaves for acceptor 2, and this node's acceptor writes it meanwhile"
    );
}

/// Review finding: this node's acceptor, its window full when a slot left for another one,
/// got that slot only at the next tick after it answered (acceptor 3 down: one write waited
/// ~50 ms for the majority of 1 and 2).
#[test]
fn the_leaders_own_acceptor_gets_what_it_missed_as_soon_as_it_answers() {
    let mut p = leader_of_three_with(pipelined());
    p.propose(vec![put(1)]).unwrap();
    p.propose(vec![put(2)]).unwrap();
    accepts(&mut p);
    accepted(&mut p, 2, vec![1]);
    accepted(&mut p, 2, vec![2]);
    p.propose(vec![put(3)]).unwrap();
    assert_eq!(accepts(&mut p), BTreeMap::from([(2, vec![vec![3]])]));
    accepted(&mut p, 1, vec![1]);
    assert_eq!(
        accepts(&mut p).get(&1),
        Some(&vec![vec![3]]),
        "slot 3 goes to this node's acceptor as soon as its window has room"
    );
}

/// Review finding: an acceptor down during phase 1 never got a window, so once it was needed
/// for a majority every write waited for the resend (`resend_ticks`).
#[test]
fn an_acceptor_that_missed_phase_1_gets_a_window_once_it_answers() {
    let mut p = leader_with(pipelined()); // acceptors 1 and 2 promised; 3 did not
    p.propose(vec![put(1)]).unwrap();
    assert!(!accepts(&mut p).contains_key(&3));
    accepted(&mut p, 3, vec![1]); // it answered a resent Accept
    accepts(&mut p);
    p.propose(vec![put(2)]).unwrap();
    assert!(
        accepts(&mut p)
            .get(&3)
            .is_some_and(|sent| sent.iter().flatten().any(|&s| s == 2)),
        "acceptor 3 is fed like the others"
    );
}

/// Review finding: a slot's resend timer ran from its proposal, so slots that waited for a
/// window were broadcast to every acceptor as soon as they left.
#[test]
fn a_slot_that_waited_for_a_window_is_not_resent_as_soon_as_it_leaves() {
    let mut p = leader_of_three_with(pipelined());
    for seq in 1..=3 {
        p.propose(vec![put(seq)]).unwrap();
    }
    accepts(&mut p);
    for _ in 0..5 {
        p.on_tick();
    }
    accepts(&mut p);
    for a in 1..=3 {
        accepted(&mut p, a, vec![1]);
    }
    let sent = accepts(&mut p);
    assert_eq!(
        sent.get(&2),
        Some(&vec![vec![3]]),
        "slot 3 leaves at tick 5"
    );
    p.on_tick(); // tick 6: slot 2 (sent at 0) is due again, slot 3 (sent at 5) is not
    let again = accepts(&mut p);
    let resent: Vec<Slot> = again
        .get(&2)
        .into_iter()
        .flatten()
        .flatten()
        .copied()
        .collect();
    assert!(resent.contains(&2), "{again:?}");
    assert!(!resent.contains(&3), "{again:?}");
}

/// Acceptor `from` answers read barrier `seq` of `p`'s ballot.
/// Review finding: a lost Accept kept the acceptor's window shut for `resend_ticks` (300 ms),
/// during which a write needing that acceptor for its majority waited.
#[test]
fn an_accept_lost_on_its_way_frees_its_place_once_a_later_barrier_is_answered() {
    let mut p = leader_of_three(); // its first heartbeat sent barrier 1 to every acceptor
    p.propose(vec![put(1)]).unwrap();
    accepts(&mut p); // the Accept to acceptor 2 is lost
    for a in [1, 3] {
        accepted(&mut p, a, vec![1]);
    }
    p.on_tick();
    p.on_tick(); // the next heartbeat: barrier 2, sent after the Accept
    accepts(&mut p);
    barrier_ack(&mut p, 2, 1);
    barrier_ack(&mut p, 2, 1); // duplicated on the way
    p.propose(vec![put(2)]).unwrap();
    assert!(
        !accepts(&mut p).contains_key(&2),
        "an answer to a barrier sent before the Accept says nothing of it"
    );
    barrier_ack(&mut p, 2, 2); // the barrier sent after it: the Accept is lost
    assert_eq!(
        accepts(&mut p).get(&2),
        Some(&vec![vec![2]]),
        "acceptor 2's window is open again at once"
    );
}

#[test]
fn the_slots_of_a_lost_accept_not_chosen_yet_go_again_once_a_later_barrier_is_answered() {
    let mut p = leader_of_three();
    p.propose(vec![put(1)]).unwrap();
    accepts(&mut p); // the Accepts to acceptors 2 and 3 are lost
    accepted(&mut p, 1, vec![1]);
    p.propose(vec![put(2)]).unwrap();
    accepts(&mut p);
    p.on_tick();
    p.on_tick(); // the next heartbeat: a barrier sent after the Accept
    accepts(&mut p);
    barrier_ack(&mut p, 2, 2); // barrier 1 was lost with the Accept
    assert_eq!(
        accepts(&mut p).get(&2),
        Some(&vec![vec![1, 2]]),
        "slot 1, not chosen, goes to acceptor 2 again, with slot 2 proposed meanwhile"
    );
    accepted(&mut p, 2, vec![1, 2]);
    accepted(&mut p, 1, vec![2]); // this node's acceptor had slot 2 along with acceptor 2
    assert_eq!(p.status().commit_index, 2);
}

/// Found with 1 MB values (as in Raft): an Accept of hundreds of slots outgrew the frame
/// limit and was dropped by the network, again and again. An Accept (and a Chosen) now carries
/// no more than `max_batch_bytes` of values, and always at least one. (Node 4 hosts a learner
/// only, so the values themselves go to it in Chosen.)
#[test]
fn an_accept_carries_no_more_bytes_than_the_budget_but_always_one_slot() {
    let mut cfg = config();
    cfg.learners.push(4);
    cfg.max_batch_bytes = 2500;
    let mut p = leader_of_three_with(cfg);
    let big = |seq: u64| Command {
        id: RequestId { client: 9, seq },
        op: KvOp::Put {
            key: format!("k{seq}"),
            value: vec![1; 1000],
        },
    };
    p.propose((1..=5).map(big).collect()).unwrap();
    let sent = accepts(&mut p);
    assert_eq!(sent[&2], vec![vec![1, 2]], "two values fit, not three");
    for a in [2, 3] {
        accepted(&mut p, a, vec![1, 2]);
    }
    let mut next = Vec::new();
    let mut chosen = Vec::new();
    for (to, m) in p.take_ready().messages {
        match m {
            PaxosMessage::Accept { entries, .. } if to.node == 2 => {
                next = entries.into_iter().map(|(s, _)| s).collect();
            }
            PaxosMessage::Chosen { entries } if to.node == 4 => {
                chosen.push(entries.into_iter().map(|(s, _)| s).collect::<Vec<_>>());
            }
            _ => {}
        }
    }
    assert_eq!(next, vec![3, 4]);
    assert_eq!(chosen, vec![vec![1, 2]]);
}

/// Review finding: a slot's resend timer ran from its proposal when the slot had not left
/// yet (its acceptors' windows were full), so at the resend it went to every acceptor past
/// the windows, and again through them: twice the traffic and the writes under a backlog.
#[test]
fn a_slot_waiting_for_a_window_is_not_resent_past_it() {
    let mut p = leader_of_three();
    p.propose(vec![put(1)]).unwrap();
    accepts(&mut p);
    p.propose(vec![put(2)]).unwrap();
    let mut sent_to_2 = 0;
    for _ in 0..8 {
        p.on_tick();
        sent_to_2 += accepts(&mut p).get(&2).map_or(0, |batches| {
            batches.iter().flatten().filter(|&&s| s == 2).count()
        });
    }
    assert_eq!(
        sent_to_2, 1,
        "slot 2 goes to acceptor 2 once, through its window"
    );
}
