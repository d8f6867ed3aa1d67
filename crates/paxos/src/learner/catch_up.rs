//! Catch-up: a lagging learner asks the others for the slots it missed, and one that
//! compacted them sends its snapshot instead, in chunks the lagging learner pulls one at a time.

use super::{Incoming, Learner};
use synod_core::Snapshot;
use synod_messages::batch::within_bytes;
use synod_messages::paxos::{PaxosMessage, Slot, Value};
use synod_messages::ActorAddr;

impl Learner {
    pub(super) fn behind(&self) -> bool {
        // The next slot's vote may still be on its way (its acceptor syncing): a round of grace.
        let grace = u64::from(2 * self.cfg.heartbeat_ticks);
        if let Some((_, since)) = self.awaited.get(&(self.delivered + 1)) {
            if self.now - since < grace {
                return false;
            }
        }
        self.known_chosen_upto > self.delivered
            || self.chosen.range(self.delivered + 1..).next().is_some()
    }

    pub(super) fn ask(&mut self, to: ActorAddr) {
        let snapshot_offset = self.incoming.as_ref().map_or(0, |i| i.data.len() as u64);
        let from_slot = self.delivered + 1;
        self.ready.messages.push((
            to,
            PaxosMessage::CatchUp {
                from_slot,
                snapshot_offset,
            },
        ));
    }

    /// Answers a lagging learner: the chosen values it asks for, or a chunk of the snapshot
    /// if they were compacted here.
    pub(super) fn on_catch_up(&mut self, from: ActorAddr, from_slot: Slot, offset: u64) {
        match &self.state.snapshot {
            Some(snap) if from_slot <= snap.index => {
                let len = snap.data.len();
                let start = usize::try_from(offset).unwrap_or(len).min(len);
                let end = start
                    .saturating_add(self.cfg.snapshot_chunk.max(1))
                    .min(len);
                let done = end == len;
                if done {
                    self.serving.remove(&from.node);
                } else {
                    self.serving.insert(from.node, 0);
                }
                let msg = PaxosMessage::SnapshotChunk {
                    slot: snap.index,
                    offset: start as u64,
                    data: snap.data[start..end].to_vec(),
                    done,
                };
                self.ready.messages.push((from, msg));
            }
            _ => {
                let wanted = self.chosen.range(from_slot..).take(self.cfg.max_batch);
                let entries: Vec<(Slot, Value)> =
                    within_bytes(wanted, self.cfg.max_batch_bytes, |(_, v)| v.approx_bytes())
                        .map(|(s, v)| (*s, v.clone()))
                        .collect();
                if !entries.is_empty() {
                    self.ready
                        .messages
                        .push((from, PaxosMessage::Chosen { entries }));
                }
            }
        }
    }

    pub(super) fn on_snapshot_chunk(
        &mut self,
        from: ActorAddr,
        slot: Slot,
        offset: u64,
        data: Vec<u8>,
        done: bool,
    ) {
        if slot <= self.delivered {
            return;
        }
        let same = self.incoming.as_ref().is_some_and(|i| i.slot == slot);
        if !same {
            if self.incoming.as_ref().is_some_and(|i| i.slot > slot) {
                return;
            }
            if offset != 0 {
                // The sender moved on to a newer snapshot mid-transfer: start that one over.
                self.incoming = None;
                self.ask(from);
                return;
            }
            self.incoming = Some(Incoming {
                from,
                slot,
                data: Vec::new(),
                silent_rounds: 0,
            });
        }
        let Some(incoming) = &mut self.incoming else {
            return;
        };
        if offset != incoming.data.len() as u64 {
            return;
        }
        incoming.data.extend_from_slice(&data);
        incoming.from = from;
        incoming.silent_rounds = 0;
        if !done {
            self.ask(from);
            return;
        }
        let Some(incoming) = self.incoming.take() else {
            return;
        };
        let snapshot = Snapshot {
            index: incoming.slot,
            data: bytes::Bytes::from(incoming.data),
        };
        tracing::debug!(
            node = self.cfg.id,
            slot = snapshot.index,
            "installed a snapshot from another learner"
        );
        self.keep_snapshot(snapshot.clone());
        self.delivered = snapshot.index;
        self.ready.snapshot = Some(snapshot);
        self.deliver();
    }
}
