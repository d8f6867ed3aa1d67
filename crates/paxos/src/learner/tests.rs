//! Unit tests of the learner: delivery in slot order, catch-up and snapshot transfer.

use super::*;
use synod_messages::{Command, KvOp, RequestId};

fn value(seq: u64) -> Value {
    Value::Command(Command {
        id: RequestId { client: 1, seq },
        op: KvOp::Delete { key: "k".into() },
    })
}

#[test]
fn delivers_in_slot_order_once_the_gap_is_filled() {
    let mut l = Learner::new(
        PaxosConfig::all_roles(1, vec![1, 2, 3]),
        LearnerState::default(),
    );
    let from = ActorAddr::new(2, crate::PROPOSER);
    l.on_message(
        from,
        PaxosMessage::Chosen {
            entries: vec![(2, value(2)), (3, Value::Noop)],
        },
    );
    assert!(l.take_ready().applied.is_empty(), "slot 1 is missing");
    l.on_message(
        from,
        PaxosMessage::Chosen {
            entries: vec![(1, value(1)), (2, value(2))],
        },
    );
    let r = l.take_ready();
    let order: Vec<u64> = r.applied.iter().map(|a| a.index).collect();
    assert_eq!(order, vec![1, 2, 3]);
    assert_eq!(r.applied[2].command, None);
    assert!(r.persist.is_empty(), "chosen values are not persisted");
}

#[test]
fn a_learner_that_is_behind_asks_the_others() {
    let mut l = Learner::new(
        PaxosConfig::all_roles(1, vec![1, 2, 3]),
        LearnerState::default(),
    );
    l.on_message(
        ActorAddr::new(2, crate::PROPOSER),
        PaxosMessage::Heartbeat {
            ballot: Ballot::new(1, 2),
            chosen_upto: 5,
        },
    );
    for _ in 0..4 {
        l.on_tick();
    }
    let asks: Vec<_> = l.take_ready().messages;
    assert_eq!(asks.len(), 2);
    assert!(asks.iter().all(|(to, m)| to.role == crate::LEARNER
        && *m
            == PaxosMessage::CatchUp {
                from_slot: 1,
                snapshot_offset: 0
            }));
    assert_eq!(l.status().leader, Some(2));
}

/// Learner 1 with slots 1-8 chosen and a snapshot of slots 1-5 (10 bytes, chunks of 4),
/// whose first chunk learner 2 just pulled.
fn serving_learner() -> Learner {
    let mut cfg = PaxosConfig::all_roles(1, vec![1, 2, 3]);
    cfg.snapshot_chunk = 4;
    let mut l = Learner::new(cfg, LearnerState::default());
    l.on_message(
        ActorAddr::new(3, crate::PROPOSER),
        PaxosMessage::Chosen {
            entries: (1..=8).map(|s| (s, value(s))).collect(),
        },
    );
    l.compact(Snapshot {
        index: 5,
        data: b"0123456789".as_slice().into(),
    });
    l.take_ready();
    pull(&mut l, 0);
    l
}

/// Learner 2 asks `l` for the snapshot chunk at `offset`; returns the chunk's (slot, offset).
fn pull(l: &mut Learner, offset: u64) -> Option<(Slot, u64)> {
    l.on_message(
        ActorAddr::new(2, crate::LEARNER),
        PaxosMessage::CatchUp {
            from_slot: 1,
            snapshot_offset: offset,
        },
    );
    l.take_ready()
        .messages
        .into_iter()
        .find_map(|(_, m)| match m {
            PaxosMessage::SnapshotChunk { slot, offset, .. } => Some((slot, offset)),
            _ => None,
        })
}

fn persisted_snapshots(l: &mut Learner) -> Vec<Slot> {
    l.take_ready()
        .persist
        .into_iter()
        .map(|LearnerOp::Snapshot(s)| s.index)
        .collect()
}

/// Review finding: a learner that took a newer snapshot while another pulled its old one
/// made the transfer start again, so a large image under a steady write rate might never
/// arrive. The newer snapshot now waits until the transfer ends.
#[test]
fn a_newer_snapshot_waits_until_the_learner_pulling_the_old_one_has_it() {
    let mut l = serving_learner();
    l.compact(Snapshot {
        index: 8,
        data: b"abcdefghijkl".as_slice().into(),
    });
    assert!(persisted_snapshots(&mut l).is_empty(), "it waits");
    assert_eq!(pull(&mut l, 4), Some((5, 4)), "the transfer goes on");
    l.on_tick();
    assert!(persisted_snapshots(&mut l).is_empty());
    assert_eq!(pull(&mut l, 8), Some((5, 8)), "to its last chunk");
    l.on_tick();
    assert_eq!(persisted_snapshots(&mut l), vec![8], "then it compacts");
}

#[test]
fn a_puller_that_went_quiet_holds_nothing_back() {
    let mut l = serving_learner();
    l.compact(Snapshot {
        index: 8,
        data: b"abcdefghijkl".as_slice().into(),
    });
    let mut persisted = Vec::new();
    for _ in 0..40 {
        l.on_tick();
        persisted.extend(persisted_snapshots(&mut l));
    }
    assert_eq!(persisted, vec![8]);
}

#[test]
fn a_lagging_learner_pulls_a_compacted_prefix_as_a_snapshot_in_chunks() {
    let mut cfg = PaxosConfig::all_roles(1, vec![1, 2, 3]);
    cfg.snapshot_chunk = 4;
    let mut old = Learner::new(cfg.clone(), LearnerState::default());
    let leader = ActorAddr::new(3, crate::PROPOSER);
    old.on_message(
        leader,
        PaxosMessage::Chosen {
            entries: (1..=6).map(|s| (s, value(s))).collect(),
        },
    );
    old.compact(Snapshot {
        index: 5,
        data: b"0123456789".as_slice().into(),
    });
    let r = old.take_ready();
    assert!(r.persist.contains(&LearnerOp::Snapshot(Snapshot {
        index: 5,
        data: b"0123456789".as_slice().into()
    })));
    assert_eq!(
        r.messages,
        vec![(
            ActorAddr::new(1, crate::ACCEPTOR),
            PaxosMessage::Snapshotted { slot: 5 }
        )],
        "the acceptor may forget the votes once the snapshot is durable"
    );
    assert_eq!(old.chosen(3), None, "compacted");

    let mut new = Learner::new(PaxosConfig { id: 2, ..cfg }, LearnerState::default());
    let (a, b) = (
        ActorAddr::new(1, crate::LEARNER),
        ActorAddr::new(2, crate::LEARNER),
    );
    new.on_message(
        leader,
        PaxosMessage::Heartbeat {
            ballot: Ballot::new(1, 3),
            chosen_upto: 6,
        },
    );
    for _ in 0..4 {
        new.on_tick();
    }
    let mut chunks = 0;
    // Shuttle messages between the two learners until nothing is left.
    let mut to_old: Vec<PaxosMessage> = new
        .take_ready()
        .messages
        .into_iter()
        .filter(|(to, _)| *to == a)
        .map(|(_, m)| m)
        .collect();
    while let Some(m) = to_old.pop() {
        old.on_message(b, m);
        for (_, reply) in old.take_ready().messages {
            chunks += usize::from(matches!(reply, PaxosMessage::SnapshotChunk { .. }));
            new.on_message(a, reply);
            let r = new.take_ready();
            to_old.extend(
                r.messages
                    .into_iter()
                    .filter(|(to, _)| *to == a)
                    .map(|(_, m)| m),
            );
            if let Some(s) = r.snapshot {
                assert_eq!((s.index, s.data.to_vec()), (5, b"0123456789".to_vec()));
                // Then slot 6 follows.
                new.on_tick();
                new.on_tick();
                new.on_tick();
                new.on_tick();
                to_old.extend(
                    new.take_ready()
                        .messages
                        .into_iter()
                        .filter(|(to, _)| *to == a)
                        .map(|(_, m)| m),
                );
            }
        }
    }
    assert_eq!(chunks, 3, "10 bytes in chunks of 4");
    assert_eq!(new.delivered(), 6);
}

#[test]
fn a_restarted_learner_streams_what_it_lacks_from_the_learner_answering() {
    let snapshot = Snapshot {
        index: 5,
        data: b"image".as_slice().into(),
    };
    let mut l = Learner::new(
        PaxosConfig::all_roles(1, vec![1, 2, 3]),
        LearnerState {
            snapshot: Some(snapshot.clone()),
        },
    );
    assert_eq!(l.delivered(), 5, "restarts from its snapshot only");
    assert_eq!(l.take_ready().snapshot, Some(snapshot));
    l.on_message(
        ActorAddr::new(2, crate::PROPOSER),
        PaxosMessage::Heartbeat {
            ballot: Ballot::new(1, 2),
            chosen_upto: 20,
        },
    );
    let peer = ActorAddr::new(3, crate::LEARNER);
    l.on_message(
        peer,
        PaxosMessage::Chosen {
            entries: (6..=10).map(|s| (s, value(s))).collect(),
        },
    );
    let r = l.take_ready();
    assert_eq!(r.applied.len(), 5);
    assert_eq!(
        r.messages,
        vec![(
            peer,
            PaxosMessage::CatchUp {
                from_slot: 11,
                snapshot_offset: 0
            }
        )],
        "asks again at once while behind"
    );
    l.on_message(
        peer,
        PaxosMessage::Chosen {
            entries: (11..=20).map(|s| (s, value(s))).collect(),
        },
    );
    assert!(
        l.take_ready().messages.is_empty(),
        "caught up: no more asks"
    );
}

#[test]
fn a_persisted_log_of_an_older_format_is_refused_not_ignored() {
    let mut rows = Rows::default();
    rows.log.push((1, vec![0]));
    let err = LearnerState::from_rows(rows).unwrap_err().to_string();
    assert!(err.contains("older Synod"), "{err}");
}

/// Regression (simulation seed 302, paxos, loss): the sender took a newer snapshot while
/// a learner was pulling the old one; the learner ignored the new chunks and never caught up.
#[test]
fn a_transfer_restarts_when_the_sender_moved_to_a_newer_snapshot() {
    let mut l = Learner::new(
        PaxosConfig::all_roles(2, vec![1, 2, 3]),
        LearnerState::default(),
    );
    let peer = ActorAddr::new(1, crate::LEARNER);
    l.on_message(
        peer,
        PaxosMessage::SnapshotChunk {
            slot: 5,
            offset: 0,
            data: b"old-".to_vec(),
            done: false,
        },
    );
    l.take_ready();
    // The peer now has a snapshot at 9 and answers the request for offset 4 from it.
    l.on_message(
        peer,
        PaxosMessage::SnapshotChunk {
            slot: 9,
            offset: 4,
            data: b"rest".to_vec(),
            done: true,
        },
    );
    let asks = l.take_ready().messages;
    assert_eq!(
        asks,
        vec![(
            peer,
            PaxosMessage::CatchUp {
                from_slot: 1,
                snapshot_offset: 0
            }
        )]
    );
    l.on_message(
        peer,
        PaxosMessage::SnapshotChunk {
            slot: 9,
            offset: 0,
            data: b"new".to_vec(),
            done: true,
        },
    );
    assert_eq!(l.take_ready().snapshot.map(|s| s.index), Some(9));
    assert_eq!(l.delivered(), 9);
}

/// Regression (simulation seed 1312, paxos, mixed): a learner kept asking the sender of a
/// snapshot it no longer needed — a learner as far behind as itself — and never caught up.
#[test]
fn a_transfer_that_went_quiet_is_dropped_and_everyone_is_asked() {
    let mut l = Learner::new(
        PaxosConfig::all_roles(2, vec![1, 2, 3]),
        LearnerState::default(),
    );
    let stuck = ActorAddr::new(3, crate::LEARNER);
    l.on_message(
        stuck,
        PaxosMessage::SnapshotChunk {
            slot: 5,
            offset: 0,
            data: b"half".to_vec(),
            done: false,
        },
    );
    l.on_message(
        ActorAddr::new(1, crate::PROPOSER),
        PaxosMessage::Heartbeat {
            ballot: Ballot::new(1, 1),
            chosen_upto: 9,
        },
    );
    l.take_ready();
    let mut asked = std::collections::BTreeSet::new();
    for _ in 0..40 {
        l.on_tick();
        for (to, _) in l.take_ready().messages {
            asked.insert(to.node);
        }
    }
    assert!(asked.contains(&1), "learner 1 was never asked: {asked:?}");
}
