//! Linearizable reads without a log slot: the Paxos leader's read barrier.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::leader;
use synod_core::{Core, Proposing};
use synod_messages::paxos::{Ballot, PaxosMessage};
use synod_messages::ActorAddr;
use synod_paxos::{PaxosConfig, Proposer};

fn barriers(p: &mut Proposer) -> Vec<(u64, u64)> {
    p.take_ready()
        .messages
        .into_iter()
        .filter_map(|(to, m)| match m {
            PaxosMessage::ReadBarrier { seq, .. } => Some((to.node, seq)),
            _ => None,
        })
        .collect()
}

#[test]
fn reads_of_one_step_share_one_barrier_and_are_released_by_a_majority() {
    let mut p = leader();
    p.read_index(1).unwrap();
    p.read_index(2).unwrap();
    let sent = barriers(&mut p);
    let seq = sent[0].1;
    assert_eq!(
        sent,
        vec![(1, seq), (2, seq), (3, seq)],
        "one round to every acceptor"
    );
    let ack = |p: &mut Proposer, a| {
        p.on_message(
            ActorAddr::new(a, synod_paxos::ACCEPTOR),
            PaxosMessage::ReadBarrierAck {
                ballot: Ballot::new(1, 1),
                seq,
            },
        );
    };
    ack(&mut p, 1);
    assert!(
        p.take_ready().reads.is_empty(),
        "one acceptor is not a majority"
    );
    ack(&mut p, 3);
    assert_eq!(p.take_ready().reads, vec![(1, Some(0)), (2, Some(0))]);
}

#[test]
fn a_higher_promise_deposes_the_leader_and_fails_its_reads() {
    let mut p = leader();
    p.read_index(7).unwrap();
    barriers(&mut p);
    p.on_message(
        ActorAddr::new(2, synod_paxos::ACCEPTOR),
        PaxosMessage::Rejected {
            ballot: Ballot::new(1, 1),
            promised: Ballot::new(2, 3),
        },
    );
    assert!(!p.is_leader());
    assert_eq!(p.take_ready().reads, vec![(7, None)]);
    assert!(p.read_index(8).is_err(), "a follower takes no reads");
}

#[test]
fn an_acceptor_answers_a_barrier_below_its_promise_with_rejected() {
    use synod_paxos::{Acceptor, AcceptorState};
    let mut a = Acceptor::new(2, AcceptorState::default());
    let from = ActorAddr::new(1, synod_paxos::PROPOSER);
    a.on_message(
        from,
        PaxosMessage::Prepare {
            ballot: Ballot::new(3, 3),
            from_slot: 1,
        },
    );
    a.take_ready();
    a.on_message(
        from,
        PaxosMessage::ReadBarrier {
            ballot: Ballot::new(1, 1),
            seq: 4,
        },
    );
    a.on_message(
        from,
        PaxosMessage::ReadBarrier {
            ballot: Ballot::new(3, 3),
            seq: 5,
        },
    );
    let replies: Vec<PaxosMessage> = a
        .take_ready()
        .messages
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(
        replies,
        vec![
            PaxosMessage::Rejected {
                ballot: Ballot::new(1, 1),
                promised: Ballot::new(3, 3)
            },
            PaxosMessage::ReadBarrierAck {
                ballot: Ballot::new(3, 3),
                seq: 5
            },
        ]
    );
    assert!(
        a.take_ready().persist.is_empty(),
        "a barrier writes nothing"
    );
}

/// The nemesis found this (and the simulator, at Paxos seed 4016 of commit f34b6e0): a new
/// leader recovers slots 5-6 (the old leader had them chosen and
/// the learners have them), one recovery Accepted is lost, and a new write at slot 7 is chosen
/// above the hole. A learner with 5-6 applies 7 and its node acknowledges the write, so a read
/// that starts afterwards must wait for slot 7, not only for the recovered 6.
#[test]
fn the_read_point_covers_slots_chosen_above_a_recovery_hole() {
    use synod_messages::paxos::{AcceptedValue, Value};
    use synod_messages::{Command, KvOp, RequestId};
    let mut p = Proposer::new(PaxosConfig::all_roles(1, vec![1, 2, 3]));
    p.on_message(
        ActorAddr::new(1, synod_paxos::LEARNER),
        PaxosMessage::Progress { delivered_upto: 4 },
    );
    p.campaign();
    let ballot = p.ballot();
    let old = Ballot::new(0, 2);
    for a in [1, 2] {
        let votes = [5, 6].map(|slot| AcceptedValue {
            slot,
            ballot: old,
            value: Value::Noop,
        });
        common::promise(&mut p, a, votes.to_vec());
    }
    assert!(p.is_leader());
    let accepted = common::accepted;
    // Slot 5 is chosen again; acceptor 2's Accepted for slot 6 is lost.
    accepted(&mut p, 1, vec![5, 6]);
    accepted(&mut p, 2, vec![5]);
    let put = Command {
        id: RequestId { client: 9, seq: 1 },
        op: KvOp::Put {
            key: "x".into(),
            value: b"new".to_vec(),
        },
    };
    p.propose(vec![put]).unwrap();
    accepted(&mut p, 1, vec![7]);
    accepted(&mut p, 2, vec![7]);
    p.take_ready();
    p.read_index(1).unwrap();
    let seq = barriers(&mut p)[0].1;
    for a in [1, 2] {
        p.on_message(
            ActorAddr::new(a, synod_paxos::ACCEPTOR),
            PaxosMessage::ReadBarrierAck { ballot, seq },
        );
    }
    assert_eq!(p.take_ready().reads, vec![(1, Some(7))]);
}
