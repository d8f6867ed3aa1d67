//! Check-quorum: a Paxos leader that no majority of acceptors answers for an election timeout
//! steps down, even with nothing to write; its heartbeats carry a read barrier so an idle
//! leader that is heard keeps leading.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::leader;
use synod_core::Core;
use synod_messages::paxos::PaxosMessage;
use synod_messages::ActorAddr;
use synod_paxos::Proposer;

/// Ticks `p` `n` times; `answer` acceptors answer every read barrier it sends.
fn tick(p: &mut Proposer, n: u32, answer: &[u64]) {
    for _ in 0..n {
        p.on_tick();
        let barriers: Vec<(u64, PaxosMessage)> = p
            .take_ready()
            .messages
            .into_iter()
            .filter(|(to, m)| {
                to.role == synod_paxos::ACCEPTOR && matches!(m, PaxosMessage::ReadBarrier { .. })
            })
            .map(|(to, m)| (to.node, m))
            .collect();
        for (acceptor, m) in barriers {
            let PaxosMessage::ReadBarrier { ballot, seq } = m else {
                continue;
            };
            if answer.contains(&acceptor) {
                p.on_message(
                    ActorAddr::new(acceptor, synod_paxos::ACCEPTOR),
                    PaxosMessage::ReadBarrierAck { ballot, seq },
                );
            }
        }
    }
}

#[test]
fn an_idle_leader_a_majority_answers_keeps_leading() {
    let mut p = leader();
    tick(&mut p, 200, &[1, 2]);
    assert!(p.is_leader());
}

#[test]
fn an_idle_leader_cut_off_from_the_majority_steps_down() {
    let mut p = leader();
    // Only its own acceptor answers: one of three.
    tick(&mut p, 60, &[1]);
    assert!(
        !p.is_leader(),
        "still leading after three election timeouts"
    );
}
