//! Phase 1: a proposer campaigns with a higher ballot (Prepare), collects the promises, and
//! with a majority of them recovers every open slot and leads; or it steps down.

use super::{InFlight, Leadership, Phase, Proposer, Skipped};
use crate::fanout::Fanout;
use crate::window::Window;
use std::collections::{BTreeMap, BTreeSet};
use synod_messages::paxos::{AcceptedValue, Ballot, PaxosMessage, Slot, Value};
use synod_messages::NodeId;

impl Proposer {
    /// Phase 1a: try to lead with a ballot above every ballot seen. Public so the worked
    /// examples can make an officer propose at a chosen moment.
    pub fn campaign(&mut self) {
        let round = self.highest_seen.round.max(self.ballot.round) + 1;
        self.ballot = Ballot::new(round, self.cfg.id);
        self.highest_seen = self.highest_seen.max(self.ballot);
        self.leader = None;
        self.reset_election_timer();
        let from_slot = self.learned_upto + 1;
        self.phase = Phase::Preparing {
            from_slot,
            promises: BTreeMap::new(),
            compacted: BTreeMap::new(),
            partial: BTreeMap::new(),
        };
        tracing::debug!(node = self.cfg.id, ballot = %self.ballot, from_slot, "phase 1: prepare");
        let msg = PaxosMessage::Prepare {
            ballot: self.ballot,
            from_slot,
        };
        let acceptors = self.cfg.acceptors.clone();
        self.broadcast(&acceptors, crate::ACCEPTOR, msg);
    }

    pub(super) fn step_down(&mut self, leader: Option<NodeId>) {
        if self.is_leader() {
            self.fail_reads();
        }
        if !matches!(self.phase, Phase::Follower) {
            tracing::debug!(node = self.cfg.id, ballot = %self.ballot, "stepping down");
        }
        self.phase = Phase::Follower;
        self.leader = leader;
        self.reset_election_timer();
    }

    /// Part `part` of `parts` of acceptor `from`'s promise: it counts once every part came.
    pub(super) fn on_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        accepted: Vec<AcceptedValue>,
        compacted: Slot,
        (part, parts): (u32, u32),
    ) {
        if ballot != self.ballot {
            return;
        }
        let quorum = self.cfg.quorum();
        match &mut self.phase {
            Phase::Preparing {
                promises,
                compacted: points,
                partial,
                ..
            } => {
                if promises.contains_key(&from) || part >= parts.max(1) {
                    return; // a duplicate part of a complete promise, or nonsense
                }
                let got = partial.entry(from).or_default();
                got.insert(part, accepted);
                if got.len() < parts.max(1) as usize {
                    // A long promise is on its way (many large votes): give it the time it
                    // takes rather than start over with a higher ballot and ask for it again.
                    self.election_elapsed = 0;
                    return;
                }
                let accepted = partial
                    .remove(&from)
                    .unwrap_or_default()
                    .into_values()
                    .flatten()
                    .collect();
                points.insert(from, compacted);
                promises.insert(from, accepted);
                if promises.len() >= quorum {
                    self.become_leader();
                }
            }
            Phase::Leading(l) => {
                // A late promise can name one more holder of slots this node lacks.
                if let Some(s) = &mut l.skipped {
                    if compacted > self.learned_upto {
                        s.holders.insert(from, compacted);
                    }
                }
                l.promised_by.insert(from);
                l.hear(from, self.now);
                l.window(from);
                self.feed_after_answer(from);
            }
            Phase::Follower => {}
        }
    }

    /// A majority promised: recover every open slot, then lead.
    fn become_leader(&mut self) {
        let Phase::Preparing {
            from_slot: first_unlearned,
            promises,
            compacted,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Follower)
        else {
            return;
        };
        // Slots an acceptor of the quorum compacted are chosen, and its vote on them is gone:
        // lead only after them. This node's learner fetches them from that acceptor's learner
        // (see `Skipped` in `tick_leader` for when it cannot).
        let compacted_through = compacted.values().copied().max().unwrap_or(0);
        let from_slot = first_unlearned.max(compacted_through + 1);
        let skipped = (from_slot > first_unlearned).then(|| Skipped {
            through: from_slot - 1,
            holders: compacted
                .into_iter()
                .filter(|&(_, c)| c >= first_unlearned)
                .collect(),
        });
        // Per slot, the value accepted with the highest ballot.
        let mut recovered: BTreeMap<Slot, (Ballot, Value)> = BTreeMap::new();
        for a in promises.values().flatten() {
            if a.slot >= from_slot && recovered.get(&a.slot).is_none_or(|(b, _)| a.ballot > *b) {
                recovered.insert(a.slot, (a.ballot, a.value.clone()));
            }
        }
        let last = recovered
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0)
            .max(from_slot - 1);
        let pending: BTreeMap<Slot, InFlight> = (from_slot..=last)
            .map(|slot| {
                let value = recovered.remove(&slot).map_or(Value::Noop, |(_, v)| v);
                (
                    slot,
                    InFlight {
                        value,
                        acks: BTreeSet::new(),
                        sent_at: self.now,
                        sent: false,
                    },
                )
            })
            .collect();
        tracing::debug!(node = self.cfg.id, ballot = %self.ballot, recovered = pending.len(), "phase 1 done: leading");
        let promised_by: BTreeSet<NodeId> = promises.keys().copied().collect();
        // Its own acceptor first (no network between them), then the others by number.
        let mut fanout = Fanout::new(self.cfg.id, self.cfg.accept_fanout());
        for &a in &promised_by {
            fanout.add(a);
        }
        self.recovered_upto = last;
        self.phase = Phase::Leading(Leadership {
            heard_at: promised_by.iter().map(|&a| (a, self.now)).collect(),
            checked_at: self.now,
            next_slot: last + 1,
            chosen_upto: from_slot - 1,
            chosen_above: BTreeSet::new(),
            windows: promised_by
                .iter()
                .map(|&a| (a, Window::new(from_slot)))
                .collect(),
            fanout,
            promised_by,
            pending,
            barriers_answered: BTreeMap::new(),
            accepted_upto: BTreeMap::new(),
            last_progress: self.now,
            skipped,
        });
        self.leader = Some(self.cfg.id);
        self.feed_all();
        self.heartbeat();
    }
}
