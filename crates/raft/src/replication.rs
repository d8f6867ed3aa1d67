//! Log replication (§5.3), commitment (§5.4.2), heartbeats and check-quorum.

use crate::raft::{Raft, RoleState};
use synod_messages::batch::batch_len;
use synod_messages::raft::{ConflictHint, Entry, Index, RaftMessage, Term};
use synod_messages::NodeId;

impl Raft {
    /// Leader tick: heartbeats every `heartbeat_ticks`, check-quorum every election timeout.
    pub(crate) fn tick_leader(&mut self) {
        self.heartbeat_elapsed += 1;
        if self.heartbeat_elapsed >= self.cfg.heartbeat_ticks {
            self.heartbeat_elapsed = 0;
            self.heartbeat();
        }
        self.election_elapsed += 1;
        if self.election_elapsed >= self.cfg.election_ticks.0 {
            self.election_elapsed = 0;
            self.check_quorum();
        }
    }

    /// A leader that has not heard from a majority in an election timeout steps down, so a
    /// leader cut off in a minority stops accepting commands it can never commit.
    fn check_quorum(&mut self) {
        let quorum = self.cfg.quorum();
        let RoleState::Leader { progress } = &mut self.role else {
            return;
        };
        let active = 1 + progress.values().filter(|p| p.active).count();
        for p in progress.values_mut() {
            p.active = false;
        }
        if active < quorum {
            tracing::debug!(
                node = self.cfg.id,
                term = self.hard.term,
                "lost quorum, stepping down"
            );
            let term = self.hard.term;
            self.become_follower(term, None);
        }
    }

    /// One heartbeat round: every follower gets an AppendEntries, carrying entries if it is
    /// behind. A batch left unanswered for a whole round is assumed lost and the pipeline restarted.
    fn heartbeat(&mut self) {
        let peers: Vec<NodeId> = self.cfg.peers().collect();
        for peer in peers {
            let Some(p) = self.progress_mut(peer) else {
                continue;
            };
            let stalled = p.restart_if_stalled();
            if let Some(s) = &p.snapshot {
                // A snapshot transfer keeps the follower's timer reset by itself; a chunk left
                // unanswered goes again, less and less often, and an empty one meanwhile.
                if stalled {
                    if s.resend_due() {
                        self.send_snapshot_chunk(peer);
                    } else {
                        self.send_snapshot_keepalive(peer);
                    }
                }
                continue;
            }
            self.send_append(peer, true);
        }
    }

    /// Sends new entries to every follower whose pipeline has room.
    pub(crate) fn replicate(&mut self) {
        let peers: Vec<NodeId> = self.cfg.peers().collect();
        for peer in peers {
            self.send_append(peer, false);
        }
        self.maybe_commit();
    }

    /// Sends `peer` what it lacks, if its pipeline has room.
    pub(crate) fn replicate_to(&mut self, peer: NodeId) {
        self.send_append(peer, false);
    }

    fn progress_mut(&mut self, peer: NodeId) -> Option<&mut crate::progress::Progress> {
        match &mut self.role {
            RoleState::Leader { progress } => progress.get_mut(&peer),
            _ => None,
        }
    }

    /// Sends `peer` the next batch if its pipeline has room; with `heartbeat`, sends an empty
    /// AppendEntries when there is nothing (or no room) to send.
    fn send_append(&mut self, peer: NodeId, heartbeat: bool) {
        let last = self.log.last_index();
        let (max_batch, max_bytes, max_inflight) = (
            self.cfg.max_batch,
            self.cfg.max_batch_bytes,
            self.cfg.max_inflight,
        );
        let RoleState::Leader { progress } = &mut self.role else {
            return;
        };
        let Some(p) = progress.get_mut(&peer) else {
            return;
        };
        if p.snapshot.is_some() {
            return;
        }
        if p.next_index <= self.log.snapshot_index() {
            // What the follower needs next was compacted away: send the snapshot instead.
            self.send_snapshot_chunk(peer);
            return;
        }
        let has_room = !p.probing && p.inflight.len() < max_inflight;
        let (prev, count) = if has_room && p.next_index <= last {
            (p.next_index - 1, max_batch)
        } else if heartbeat {
            // With batches in flight the follower may not hold `next - 1` yet; `match` it does.
            let prev = if p.inflight.is_empty() {
                p.next_index - 1
            } else {
                p.match_index
            };
            (prev, 0)
        } else {
            return;
        };
        let Some(prev_log_term) = self.log.term_at(prev) else {
            return;
        };
        let slice = self.log.slice(prev + 1, count);
        let entries: Vec<Entry> =
            slice[..batch_len(slice, count, max_bytes, Entry::approx_bytes)].to_vec();
        let carries_entries = !entries.is_empty();
        if let Some(last_sent) = entries.last().map(|e| e.index) {
            p.inflight.push_back(last_sent);
            p.next_index = last_sent + 1;
        }
        // The follower adopts min(leader_commit, last index of this message).
        p.commit_told = p
            .commit_told
            .max(self.commit_index.min(prev + entries.len() as Index));
        let msg = RaftMessage::AppendEntries {
            term: self.hard.term,
            leader_id: self.cfg.id,
            prev_log_index: prev,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        if carries_entries {
            // Entries leave: the leader writes them, and all it held with them (§10.2.1).
            self.release_held();
        }
        self.send_eager(peer, msg);
    }

    /// AppendEntries receiver implementation (Figure 2).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_append_entries(
        &mut self,
        from: NodeId,
        term: Term,
        leader_id: NodeId,
        prev_log_index: Index,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: Index,
    ) {
        // 1. Reply false if term < currentTerm.
        if term < self.hard.term || leader_id != from {
            let reply = self.append_reply(false, 0, None);
            self.send(from, reply);
            return;
        }
        // A current leader exists: candidates step down, everyone resets the election timer.
        self.become_follower(term, Some(leader_id));
        self.election_elapsed = 0;

        // Entries up to our snapshot are committed, so they match the leader's: skip them.
        let base = self.log.snapshot_index();
        let (prev_log_index, prev_log_term, entries) = if prev_log_index < base {
            let skip = (base - prev_log_index) as usize;
            let rest = entries
                .get(skip..)
                .map(<[Entry]>::to_vec)
                .unwrap_or_default();
            (base, self.log.last_term_at_base(), rest)
        } else {
            (prev_log_index, prev_log_term, entries)
        };

        // 2. Reply false if the log does not contain an entry at prevLogIndex whose term matches
        // prevLogTerm, with a hint that lets the leader skip a whole term.
        match self.log.term_at(prev_log_index) {
            None => {
                let hint = ConflictHint {
                    term: None,
                    index: self.log.last_index() + 1,
                };
                let reply = self.append_reply(false, 0, Some(hint));
                self.send(from, reply);
                return;
            }
            Some(t) if t != prev_log_term => {
                let hint = ConflictHint {
                    term: Some(t),
                    index: self.log.first_index_of_term_at(prev_log_index),
                };
                let reply = self.append_reply(false, 0, Some(hint));
                self.send(from, reply);
                return;
            }
            Some(_) => {}
        }

        // 3. If an existing entry conflicts with a new one (same index, different term), delete
        // it and all that follow. 4. Append any new entries not already in the log.
        let match_index = prev_log_index + entries.len() as Index;
        let mut new = entries.len();
        for (i, entry) in entries.iter().enumerate() {
            match self.log.term_at(entry.index) {
                Some(t) if t == entry.term => continue,
                Some(_) => {
                    assert!(
                        entry.index > self.commit_index,
                        "Raft safety: a leader tried to overwrite committed entry {}",
                        entry.index
                    );
                    self.log.truncate_from(entry.index);
                    self.durable_index = self.durable_index.min(entry.index - 1);
                    self.ready
                        .persist
                        .push(crate::state::RaftPersist::TruncateFrom(entry.index));
                    new = i;
                    break;
                }
                None => {
                    new = i;
                    break;
                }
            }
        }
        if new < entries.len() {
            let mut entries = entries;
            let fresh = entries.split_off(new);
            self.append_local(fresh);
        }

        // 5. commitIndex = min(leaderCommit, index of last new entry).
        self.commit_to(leader_commit.min(match_index));
        let reply = self.append_reply(true, match_index, None);
        self.send(from, reply);
    }

    fn append_reply(
        &self,
        success: bool,
        match_index: Index,
        conflict: Option<ConflictHint>,
    ) -> RaftMessage {
        RaftMessage::AppendEntriesResponse {
            term: self.hard.term,
            success,
            match_index,
            conflict,
        }
    }

    /// The leader's handling of an AppendEntries answer.
    pub(crate) fn on_append_response(
        &mut self,
        from: NodeId,
        term: Term,
        success: bool,
        match_index: Index,
        conflict: Option<ConflictHint>,
    ) {
        if term != self.hard.term {
            return;
        }
        // Where to resume after a refusal: skip the follower's whole conflicting term.
        let rewind_to = conflict.map(|hint| match hint.term {
            Some(t) => self
                .log
                .last_index_of_term(t)
                .map_or(hint.index, |last| last + 1),
            None => hint.index,
        });
        let Some(p) = self.progress_mut(from) else {
            return;
        };
        p.active = true;
        p.probing = false;
        if success {
            p.acknowledge(match_index);
            self.maybe_commit();
        } else if let Some(next) = rewind_to {
            p.rewind(next);
        }
        // A follower that confirmed entries the commit index has passed must hear of it now,
        // not at the next heartbeat: its clients wait for it to apply.
        let commit = self.commit_index;
        let lagging = self
            .progress_mut(from)
            .is_some_and(|p| p.commit_told < p.match_index.min(commit));
        self.send_append(from, lagging);
    }

    /// Commits the highest index replicated on a majority, but only through an entry of the
    /// current term (§5.4.2): older entries commit indirectly.
    pub(crate) fn maybe_commit(&mut self) {
        let RoleState::Leader { progress } = &self.role else {
            return;
        };
        let mut matches: Vec<Index> = progress.values().map(|p| p.match_index).collect();
        matches.push(self.durable_index.min(self.log.last_index()));
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&candidate) = matches.get(self.cfg.quorum() - 1) else {
            return;
        };
        if candidate > self.commit_index && self.log.term_at(candidate) == Some(self.hard.term) {
            self.commit_to(candidate);
            self.announce_commit = true;
        }
    }

    /// Tells every follower the new commit index at once (with the entries it lacks, if its
    /// pipeline has room), so followers apply — and answer their own clients — without waiting
    /// for the next heartbeat. Once per step, however many acknowledgements advanced it.
    ///
    /// A follower with batches in flight gets no empty AppendEntries for it: its answer to
    /// them comes anyway, and the leader then tells it the commit index
    /// ([`Self::on_append_response`]). Under load that is most followers at most steps, and
    /// the empty messages (each also answered) were a message pair per follower per batch.
    pub(crate) fn announce_commit(&mut self) {
        if !std::mem::take(&mut self.announce_commit) || !self.is_leader() {
            return;
        }
        let peers: Vec<NodeId> = self.cfg.peers().collect();
        for peer in peers {
            let answer_due = self
                .progress_mut(peer)
                .is_some_and(|p| !p.inflight.is_empty());
            self.send_append(peer, !answer_due);
        }
    }
}
