//! A large value crosses the network once, in the leader's Accept. A learner whose node's
//! acceptor was sent the slot hears only the slot's number and ballot (`ChosenSlots`) and takes
//! the value from that acceptor's `Voted`; the leader's own learner, a learner without an
//! acceptor, or one whose acceptor was left out of phase 2 (`tests/fanout.rs`) or passed over
//! while its window was full, gets the value
//! (`Chosen`), and so does every learner for a small value.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::{accepted, big, config, leader_of_three_with, put};
use std::collections::BTreeMap;
use synod_core::{Core, Proposing};
use synod_messages::paxos::{Ballot, PaxosMessage, Slot, Value};
use synod_messages::{ActorAddr, NodeId};
use synod_paxos::{Learner, LearnerState, PaxosConfig, Proposer};

/// How each learner heard of chosen slots: by number, or with the value.
#[derive(Debug, Default, PartialEq, Eq)]
struct Heard {
    numbers: Vec<Slot>,
    values: Vec<Slot>,
}

fn announcements(p: &mut Proposer) -> BTreeMap<NodeId, Heard> {
    let mut heard: BTreeMap<NodeId, Heard> = BTreeMap::new();
    for (to, m) in p.take_ready().messages {
        match m {
            PaxosMessage::ChosenSlots { slots, .. } => {
                heard.entry(to.node).or_default().numbers.extend(slots);
            }
            PaxosMessage::Chosen { entries } => {
                let slots = entries.into_iter().map(|(s, _)| s);
                heard.entry(to.node).or_default().values.extend(slots);
            }
            _ => {}
        }
    }
    heard
}

fn heard(numbers: Vec<Slot>, values: Vec<Slot>) -> Heard {
    Heard { numbers, values }
}

#[test]
fn learners_whose_acceptor_was_sent_the_slot_hear_its_number_the_others_its_value() {
    // Nodes 1-3 host every role, node 4 a learner only; one Accept out per acceptor.
    let mut cfg = config();
    cfg.learners.push(4);
    let mut p = leader_of_three_with(cfg);
    p.propose(vec![big(1)]).unwrap();
    p.take_ready(); // slot 1 to acceptors 1, 2 and 3
    p.propose(vec![big(2), big(3)]).unwrap(); // they wait for the windows
    accepted(&mut p, 2, vec![1]); // slots 2-3 go to acceptor 2
    accepted(&mut p, 1, vec![1]); // slot 1 chosen; slots 2-3 go to acceptor 1
    assert_eq!(
        announcements(&mut p),
        BTreeMap::from([
            (1, heard(vec![], vec![1])),
            (2, heard(vec![1], vec![])),
            (3, heard(vec![1], vec![])),
            (4, heard(vec![], vec![1])),
        ]),
        "every acceptor was sent slot 1: node 4's learner needs its value, and the leader's \
         own gets it rather than wait for its acceptor"
    );
    accepted(&mut p, 2, vec![2, 3]);
    accepted(&mut p, 1, vec![2, 3]); // chosen while acceptor 3 still holds slot 1's Accept
    assert_eq!(
        announcements(&mut p),
        BTreeMap::from([
            (1, heard(vec![], vec![2, 3])),
            (2, heard(vec![2, 3], vec![])),
            (3, heard(vec![], vec![2, 3])),
            (4, heard(vec![], vec![2, 3])),
        ]),
        "acceptor 3 was passed over for slots 2-3 (and never gets them): its learner gets the values"
    );
    // A small value costs less to send again than a message on the node.
    p.propose(vec![put(4), big(5)]).unwrap();
    p.take_ready();
    for a in [1, 2] {
        accepted(&mut p, a, vec![4, 5]);
    }
    assert_eq!(
        announcements(&mut p)[&2],
        heard(vec![5], vec![4]),
        "the small value of slot 4 goes to every learner"
    );
}

fn learner() -> Learner {
    Learner::new(
        PaxosConfig::all_roles(1, vec![1, 2, 3]),
        LearnerState::default(),
    )
}

fn value(n: u8) -> Value {
    Value::Command(put(u64::from(n)))
}

fn own_acceptor() -> ActorAddr {
    ActorAddr::new(1, synod_paxos::ACCEPTOR)
}

fn leader() -> ActorAddr {
    ActorAddr::new(2, synod_paxos::PROPOSER)
}

fn voted(ballot: Ballot, entries: Vec<(Slot, Value)>) -> PaxosMessage {
    PaxosMessage::Voted { ballot, entries }
}

fn chosen_slots(ballot: Ballot, slots: Vec<Slot>) -> PaxosMessage {
    PaxosMessage::ChosenSlots { ballot, slots }
}

/// The commands delivered, by slot.
fn delivered(l: &mut Learner) -> Vec<(u64, Option<u64>)> {
    l.take_ready()
        .applied
        .into_iter()
        .map(|a| (a.index, a.command.map(|c| c.id.seq)))
        .collect()
}

#[test]
fn a_learner_takes_the_value_from_its_acceptor_whichever_of_vote_and_word_comes_first() {
    let b = Ballot::new(1, 2);
    let mut l = learner();
    l.on_message(own_acceptor(), voted(b, vec![(1, value(1)), (2, value(2))]));
    assert_eq!(delivered(&mut l), vec![], "votes are not chosen values");
    l.on_message(leader(), chosen_slots(b, vec![1]));
    assert_eq!(
        delivered(&mut l),
        vec![(1, Some(1))],
        "vote first, then the word"
    );
    l.on_message(leader(), chosen_slots(b, vec![2, 3]));
    assert_eq!(delivered(&mut l), vec![(2, Some(2))]);
    l.on_message(own_acceptor(), voted(b, vec![(3, value(3))]));
    assert_eq!(
        delivered(&mut l),
        vec![(3, Some(3))],
        "the word first, then the vote"
    );
}

#[test]
fn a_vote_of_another_ballot_is_not_taken_and_catch_up_fetches_the_value() {
    let old = Ballot::new(1, 3);
    let b = Ballot::new(2, 2);
    let mut l = learner();
    l.on_message(own_acceptor(), voted(old, vec![(1, value(9))]));
    l.on_message(leader(), chosen_slots(b, vec![1]));
    assert_eq!(
        delivered(&mut l),
        vec![],
        "slot 1 was chosen in ballot 2.2, not the one this acceptor voted in"
    );
    // A vote from another node's acceptor is not this node's acceptor's.
    l.on_message(
        ActorAddr::new(3, synod_paxos::ACCEPTOR),
        voted(b, vec![(1, value(1))]),
    );
    assert_eq!(delivered(&mut l), vec![]);
    // The vote of ballot 2.2 never comes (its Accept was lost): the learner asks the others.
    let mut asked = Vec::new();
    for _ in 0..8 {
        l.on_tick();
        for (to, m) in l.take_ready().messages {
            if let PaxosMessage::CatchUp { from_slot, .. } = m {
                asked.push((to.node, from_slot));
            }
        }
    }
    assert!(
        asked.contains(&(2, 1)) && asked.contains(&(3, 1)),
        "{asked:?}"
    );
    l.on_message(
        ActorAddr::new(2, synod_paxos::LEARNER),
        PaxosMessage::Chosen {
            entries: vec![(1, value(1))],
        },
    );
    assert_eq!(delivered(&mut l), vec![(1, Some(1))]);
}

/// Catch-up requests from the learners asked, over `ticks` ticks.
fn catch_ups(l: &mut Learner, ticks: u32) -> Vec<(NodeId, Slot)> {
    let mut asked = Vec::new();
    for _ in 0..ticks {
        l.on_tick();
        for (to, m) in l.take_ready().messages {
            if let PaxosMessage::CatchUp { from_slot, .. } = m {
                asked.push((to.node, from_slot));
            }
        }
    }
    asked
}

/// Review finding: the leader's word usually comes before the vote of a slower acceptor,
/// still syncing, and every such wait that met a catch-up round asked every other learner for
/// the values. A slot now waits a round for its vote before it counts as missing.
#[test]
fn a_vote_still_on_its_way_gets_a_round_of_grace_before_catch_up() {
    let b = Ballot::new(1, 2);
    let mut l = learner();
    assert_eq!(catch_ups(&mut l, 3), vec![]);
    l.on_message(leader(), chosen_slots(b, vec![1]));
    assert_eq!(
        catch_ups(&mut l, 1),
        vec![],
        "the catch-up round comes, but the vote may still be on its way"
    );
    assert_eq!(catch_ups(&mut l, 4), vec![(2, 1), (3, 1)], "a round later");
}

/// Review finding: a late word of an older ballot replaced the one the learner waited for,
/// so the vote of the newer ballot no longer matched.
#[test]
fn a_late_word_of_an_older_ballot_does_not_replace_the_awaited_one() {
    let (old, new) = (Ballot::new(1, 2), Ballot::new(2, 3));
    let mut l = learner();
    l.on_message(leader(), chosen_slots(new, vec![1]));
    l.on_message(
        ActorAddr::new(2, synod_paxos::PROPOSER),
        chosen_slots(old, vec![1]),
    );
    l.on_message(own_acceptor(), voted(new, vec![(1, value(1))]));
    assert_eq!(delivered(&mut l), vec![(1, Some(1))]);
}
