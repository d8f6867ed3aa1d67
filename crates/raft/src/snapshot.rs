//! Log compaction and InstallSnapshot (§7): the state machine image replaces the log prefix; a
//! follower that needs compacted entries gets the image in chunks, one in flight at a time.

use crate::progress::SnapshotSend;
use crate::raft::{Raft, RoleState};
use crate::state::{RaftPersist, SnapshotRecord};
use synod_core::Snapshot;
use synod_messages::raft::{Index, RaftMessage, Term};
use synod_messages::NodeId;

impl Raft {
    /// The state machine was snapshotted at `snapshot.index`. A leader sending its snapshot to
    /// a follower that is taking the chunks keeps the log (and the snapshot it sends) until
    /// the transfer ends: compacting would make it start again from the new image, and a large
    /// image under a steady write rate might then never arrive (see
    /// [`synod_core::deferred`]).
    pub(crate) fn compact_or_defer(&mut self, snapshot: Snapshot) {
        let moving = self.snapshot_transfer_moving();
        if let Some(snapshot) = self.deferred.offer(snapshot, moving) {
            self.compact_to(snapshot);
        }
    }

    /// Compacts to the deferred snapshot once no transfer holds it back (at a tick).
    pub(crate) fn compact_deferred(&mut self) {
        let moving = self.snapshot_transfer_moving();
        if let Some(snapshot) = self.deferred.release(moving) {
            self.compact_to(snapshot);
        }
    }

    /// Whether this leader is sending its snapshot to a follower that is taking the chunks.
    fn snapshot_transfer_moving(&self) -> bool {
        match &self.role {
            RoleState::Leader { progress } => progress
                .values()
                .any(|p| p.snapshot.is_some_and(|s| s.moving())),
            _ => false,
        }
    }

    /// The state machine was snapshotted at `snapshot.index`: drop the log up to there.
    pub(crate) fn compact_to(&mut self, snapshot: Snapshot) {
        let index = snapshot.index;
        if index <= self.log.snapshot_index() || index > self.applied_index {
            return;
        }
        let Some(term) = self.log.term_at(index) else {
            return;
        };
        let record = SnapshotRecord {
            index,
            term,
            data: snapshot.data,
        };
        self.ready.persist.push(RaftPersist::Snapshot {
            snapshot: record.clone(),
            retain_log: true,
        });
        self.log.compact_through(index, term);
        self.snapshot = Some(record);
    }

    /// Leader: sends `peer` the next chunk of the latest snapshot.
    pub(crate) fn send_snapshot_chunk(&mut self, peer: NodeId) {
        self.send_snapshot_part(peer, false);
    }

    /// Leader: sends `peer` an empty chunk at the offset it confirmed. While a chunk left
    /// unanswered waits for its (backed-off) resend, this is the follower's heartbeat: it
    /// resets its election timer and answers what it holds, which restarts the transfer if it
    /// lost its part.
    pub(crate) fn send_snapshot_keepalive(&mut self, peer: NodeId) {
        self.send_snapshot_part(peer, true);
    }

    fn send_snapshot_part(&mut self, peer: NodeId, keepalive: bool) {
        let (term, id, chunk) = (self.hard.term, self.cfg.id, self.cfg.snapshot_chunk.max(1));
        let Some(snap) = &self.snapshot else {
            return;
        };
        let RoleState::Leader { progress } = &mut self.role else {
            return;
        };
        let Some(p) = progress.get_mut(&peer) else {
            return;
        };
        // A transfer of an older snapshot starts over with a real chunk.
        let keepalive = keepalive && p.snapshot.is_some_and(|s| s.index == snap.index);
        let sending = match p.snapshot {
            Some(s) if s.index == snap.index => s,
            _ => SnapshotSend {
                index: snap.index,
                offset: 0,
                offset_at_last_round: None,
                quiet_rounds: 0,
            },
        };
        p.snapshot = Some(sending);
        p.inflight.clear();
        let len = snap.data.len();
        let start = usize::try_from(sending.offset).unwrap_or(len).min(len);
        let end = if keepalive {
            start
        } else {
            start.saturating_add(chunk).min(len)
        };
        let msg = RaftMessage::InstallSnapshot {
            term,
            leader_id: id,
            last_included_index: snap.index,
            last_included_term: snap.term,
            offset: start as u64,
            data: snap.data[start..end].to_vec(),
            done: !keepalive && end == len,
        };
        self.send(peer, msg);
    }

    /// InstallSnapshot receiver implementation (Figure 13).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_install_snapshot(
        &mut self,
        from: NodeId,
        term: Term,
        leader_id: NodeId,
        (index, last_term): (Index, Term),
        offset: u64,
        data: Vec<u8>,
        done: bool,
    ) {
        let reply =
            |raft: &Raft, next_offset: u64, done: bool| RaftMessage::InstallSnapshotResponse {
                term: raft.hard.term,
                last_included_index: index,
                next_offset,
                done,
            };
        if term < self.hard.term || leader_id != from {
            let msg = reply(self, 0, false);
            self.send(from, msg);
            return;
        }
        self.become_follower(term, Some(leader_id));
        self.election_elapsed = 0;
        if index <= self.commit_index {
            // Everything the snapshot covers is committed here already.
            self.incoming = None;
            let msg = reply(self, offset.saturating_add(data.len() as u64), true);
            self.send(from, msg);
            return;
        }
        let fresh = !matches!(&self.incoming, Some((i, t, _)) if *i == index && *t == last_term);
        if fresh {
            if offset != 0 {
                let msg = reply(self, 0, false);
                self.send(from, msg);
                return;
            }
            self.incoming = Some((index, last_term, Vec::new()));
        }
        let Some((_, _, buf)) = &mut self.incoming else {
            return;
        };
        let end = offset.saturating_add(data.len() as u64);
        if offset == buf.len() as u64 {
            buf.extend_from_slice(&data);
        }
        let have = buf.len() as u64;
        if !(done && end == have) {
            let msg = reply(self, have, false);
            self.send(from, msg);
            return;
        }
        // The last chunk: install. Keep the entries after the snapshot only if the log agrees
        // with the leader at the snapshot's last entry.
        let Some((index, term, bytes)) = self.incoming.take() else {
            return;
        };
        let retain = self.log.term_at(index) == Some(term);
        let record = SnapshotRecord {
            index,
            term,
            data: bytes.into(),
        };
        self.ready.persist.push(RaftPersist::Snapshot {
            snapshot: record.clone(),
            retain_log: retain,
        });
        self.log.install(index, term, retain);
        if !retain {
            self.durable_index = self.durable_index.min(index);
        }
        self.commit_index = self.commit_index.max(index);
        self.applied_index = index;
        self.ready.snapshot = Some(Snapshot {
            index,
            data: record.data.clone(),
        });
        self.snapshot = Some(record);
        tracing::debug!(
            node = self.cfg.id,
            index,
            "installed a snapshot from the leader"
        );
        let msg = reply(self, have, true);
        self.send(from, msg);
    }

    /// Leader: a follower confirmed chunks of a snapshot, or its installation.
    pub(crate) fn on_install_snapshot_response(
        &mut self,
        from: NodeId,
        term: Term,
        index: Index,
        next_offset: u64,
        done: bool,
    ) {
        if term != self.hard.term {
            return;
        }
        let RoleState::Leader { progress } = &mut self.role else {
            return;
        };
        let Some(p) = progress.get_mut(&from) else {
            return;
        };
        p.active = true;
        p.probing = false;
        let Some(sending) = &mut p.snapshot else {
            return;
        };
        if sending.index != index {
            return;
        }
        if done {
            p.snapshot = None;
            p.acknowledge(index);
            self.maybe_commit();
            self.replicate_to(from);
        } else if next_offset != sending.offset {
            sending.offset = next_offset;
            self.send_snapshot_chunk(from);
        }
    }
}
