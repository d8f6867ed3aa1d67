//! Raft's worked examples, replayed on the real Raft cores through a scripted network: every
//! message waits in flight until the story delivers it, and a server can be cut off.
//!
//! ```text
//!   story step ──► World::timeout(s) / propose / deliver_all / isolate / heal
//!                     └─► the real Raft cores ──driver──► messages in flight, memory disks
//!   after each step: what was sent, and each server's term, role, vote, log and commit index
//! ```
//!
//! Words: a *term* numbers a leadership attempt; a *candidate* asks for votes
//! (`RequestVote`); a *leader* replicates its log with `AppendEntries`; an *entry* `i@t` sits
//! at log index `i` and was created in term `t`; an entry is *committed* once a majority stores
//! it, and then applied. Pre-vote is off here, as in the paper's basic algorithm.

use crate::{Raft, RaftConfig, RaftMessage, RaftPersist, RaftState};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use synod_core::driver::{self, Effects};
use synod_core::{Applied, Core, MemoryStorage, Proposing, Snapshot, Storage, StorageError};
use synod_messages::raft::{EntryPayload, Index, Term};
use synod_messages::{ActorAddr, Command, KvOp, NodeId, RequestId};

/// A server's term, commit index and log as `(index, term)` entries.
pub type ServerState = (Term, Index, Vec<(Index, Term)>);

/// Why a story could not go on (a bug: the cores did not do what the story says).
#[derive(Debug)]
pub struct StoryError(pub String);

/// Servers, their disks, and the messages in flight between them.
pub struct World {
    servers: BTreeMap<NodeId, Raft>,
    disks: BTreeMap<NodeId, MemoryStorage<RaftState>>,
    in_flight: VecDeque<(NodeId, NodeId, RaftMessage)>,
    isolated: BTreeSet<NodeId>,
    /// What happened since the last step, in words.
    pub events: Vec<String>,
}

/// Collects one server's outputs: messages go in flight, the persist goes to its disk.
struct Outbox<'a> {
    from: NodeId,
    disk: &'a mut MemoryStorage<RaftState>,
    sent: Vec<(NodeId, RaftMessage)>,
    applied: Vec<Applied>,
}

impl Effects<RaftMessage, RaftPersist> for Outbox<'_> {
    fn send(&mut self, to: ActorAddr, msg: RaftMessage) {
        self.sent.push((to.node, msg));
    }
    fn persist(&mut self, ops: &[RaftPersist]) -> Result<(), StorageError> {
        self.disk.persist(ops)
    }
    fn deliver(&mut self, _: Option<Snapshot>, applied: Vec<Applied>, _: Vec<(u64, Option<u64>)>) {
        self.applied.extend(applied);
    }
}

fn describe(msg: &RaftMessage) -> String {
    match msg {
        RaftMessage::RequestVote {
            term,
            last_log_index,
            last_log_term,
            ..
        } => format!("RequestVote (term {term}, my log ends at {last_log_index}@{last_log_term})"),
        RaftMessage::RequestVoteResponse { term, vote_granted } => {
            if *vote_granted {
                format!("vote granted (term {term})")
            } else {
                format!("vote refused (term {term})")
            }
        }
        RaftMessage::AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
            ..
        } => {
            let entries: Vec<String> = entries
                .iter()
                .map(|e| format!("{}@{}", e.index, e.term))
                .collect();
            format!(
                "AppendEntries (term {term}, after {prev_log_index}@{prev_log_term}, entries [{}], commit {leader_commit})",
                entries.join(" ")
            )
        }
        RaftMessage::AppendEntriesResponse {
            term,
            success,
            match_index,
            ..
        } => {
            if *success {
                format!("ok, my log matches up to {match_index} (term {term})")
            } else {
                format!("no: my log does not hold the entry before these (term {term})")
            }
        }
        other => format!("{other:?}"),
    }
}

/// A client command writing `value` to key `k`.
pub fn write(seq: u64) -> Command {
    Command {
        id: RequestId { client: 0, seq },
        op: KvOp::Put {
            key: "k".into(),
            value: seq.to_string().into_bytes(),
        },
    }
}

impl World {
    /// `n` servers, all followers in term 0 with empty logs.
    pub fn new(n: u64) -> Self {
        Self::with_batch(n, 512)
    }

    /// The same, each AppendEntries carrying at most `max_batch` entries.
    pub fn with_batch(n: u64, max_batch: usize) -> Self {
        let ids: Vec<NodeId> = (1..=n).collect();
        let mut world = World {
            servers: BTreeMap::new(),
            disks: BTreeMap::new(),
            in_flight: VecDeque::new(),
            isolated: BTreeSet::new(),
            events: Vec::new(),
        };
        for &id in &ids {
            let mut cfg = RaftConfig::new(id, ids.clone());
            cfg.pre_vote = false;
            cfg.seed = 7;
            cfg.max_batch = max_batch;
            world
                .servers
                .insert(id, Raft::new(cfg, RaftState::default()));
            world.disks.insert(id, MemoryStorage::new());
        }
        world
    }

    fn server(&mut self, id: NodeId) -> Result<&mut Raft, StoryError> {
        self.servers
            .get_mut(&id)
            .ok_or_else(|| StoryError(format!("no server {id}")))
    }

    /// Carries out what server `id` asked for: persist, then its messages go in flight.
    fn flush(&mut self, id: NodeId) -> Result<(), StoryError> {
        let (Some(raft), Some(disk)) = (self.servers.get_mut(&id), self.disks.get_mut(&id)) else {
            return Err(StoryError(format!("no server {id}")));
        };
        let mut out = Outbox {
            from: id,
            disk,
            sent: Vec::new(),
            applied: Vec::new(),
        };
        driver::drive(raft, &mut out).map_err(|e| StoryError(e.to_string()))?;
        for a in &out.applied {
            if a.command.is_some() {
                self.events
                    .push(format!("server {} applies entry {}", out.from, a.index));
            }
        }
        for (to, msg) in out.sent {
            self.events.push(format!(
                "server {id} sends {} to server {to}",
                describe(&msg)
            ));
            self.in_flight.push_back((id, to, msg));
        }
        Ok(())
    }

    /// Server `id`'s election timer runs out: it becomes a candidate in the next term.
    pub fn timeout(&mut self, id: NodeId) -> Result<(), StoryError> {
        let term = self.server(id)?.term();
        for _ in 0..1000 {
            self.server(id)?.on_tick();
            if self.server(id)?.term() != term {
                return self.flush(id);
            }
        }
        Err(StoryError(format!("server {id} never timed out")))
    }

    /// One tick for each of `ids` in turn until one of them starts an election; returns it.
    pub fn race(&mut self, ids: &[NodeId]) -> Result<NodeId, StoryError> {
        let terms: Vec<Term> = ids
            .iter()
            .map(|&id| self.servers.get(&id).map_or(0, |s| s.term()))
            .collect();
        for _ in 0..1000 {
            for (&id, &term) in ids.iter().zip(&terms) {
                self.server(id)?.on_tick();
                if self.server(id)?.term() != term {
                    self.flush(id)?;
                    return Ok(id);
                }
            }
        }
        Err(StoryError("nobody timed out".into()))
    }

    /// The leader `id` sends its heartbeat (AppendEntries) at its next heartbeat tick.
    pub fn heartbeat(&mut self, id: NodeId) -> Result<(), StoryError> {
        let before = self.in_flight.len();
        for _ in 0..100 {
            self.server(id)?.on_tick();
            self.flush(id)?;
            if self.in_flight.len() > before {
                return Ok(());
            }
        }
        Err(StoryError(format!("server {id} sent no heartbeat")))
    }

    /// A client asks server `id` to replicate `command`.
    pub fn propose(&mut self, id: NodeId, command: Command) -> Result<(), StoryError> {
        self.server(id)?
            .propose(vec![command])
            .map_err(|e| StoryError(format!("server {id} refused the command: {e}")))?;
        self.events
            .push(format!("a client's write reaches server {id}"));
        self.flush(id)
    }

    /// Delivers every message in flight, and every answer they cause, until none is left;
    /// messages from or to an isolated server are lost.
    pub fn deliver_all(&mut self) -> Result<(), StoryError> {
        for _ in 0..10_000 {
            if !self.deliver_next()? {
                return Ok(());
            }
        }
        Err(StoryError("messages never stopped".into()))
    }

    /// Delivers messages in flight one by one until `done` holds (or none is left).
    pub fn deliver_until(&mut self, done: impl Fn(&World) -> bool) -> Result<(), StoryError> {
        for _ in 0..10_000 {
            if done(self) {
                return Ok(());
            }
            if !self.deliver_next()? {
                return Err(StoryError(
                    "nothing left to deliver, and the story is not there".into(),
                ));
            }
        }
        Err(StoryError("messages never stopped".into()))
    }

    /// Delivers the oldest message in flight (lost if it is from or to an isolated server);
    /// false when none is left.
    fn deliver_next(&mut self) -> Result<bool, StoryError> {
        let Some((from, to, msg)) = self.in_flight.pop_front() else {
            return Ok(false);
        };
        if self.isolated.contains(&from) || self.isolated.contains(&to) {
            self.events.push(format!(
                "the message from server {from} to server {to} is lost"
            ));
            return Ok(true);
        }
        self.server(to)?
            .on_message(ActorAddr::new(from, crate::RAFT), msg);
        self.flush(to)?;
        Ok(true)
    }

    /// Whether server `id` holds entry `index@term`.
    pub fn holds(&self, id: NodeId, index: Index, term: Term) -> bool {
        self.servers
            .get(&id)
            .and_then(|s| s.log().get(index).map(|e| e.term == term))
            .unwrap_or(false)
    }

    /// Server `id` crashes: what is in flight from or to it is lost, and it restarts later from
    /// its disk (see [`World::restart`]); meanwhile it is cut off.
    pub fn crash(&mut self, id: NodeId) {
        self.isolated.insert(id);
        self.in_flight
            .retain(|(from, to, _)| *from != id && *to != id);
        self.events.push(format!("server {id} crashes"));
    }

    /// Server `id` restarts from what its disk holds, and is connected again.
    pub fn restart(&mut self, id: NodeId) -> Result<(), StoryError> {
        let Some(disk) = self.disks.get(&id) else {
            return Err(StoryError(format!("no server {id}")));
        };
        let state = disk.snapshot();
        let ids: Vec<NodeId> = self.servers.keys().copied().collect();
        let max_batch = self.server(id)?.cfg.max_batch;
        let mut cfg = RaftConfig::new(id, ids);
        cfg.pre_vote = false;
        cfg.seed = 7 + id;
        cfg.max_batch = max_batch;
        self.servers.insert(id, Raft::new(cfg, state));
        self.isolated.remove(&id);
        self.events.push(format!(
            "server {id} restarts from its disk: term, vote and log survive"
        ));
        Ok(())
    }

    /// Cuts server `id` off: what it sends and what is sent to it is lost.
    pub fn isolate(&mut self, id: NodeId) {
        self.isolated.insert(id);
    }

    /// Connects server `id` again.
    pub fn heal(&mut self, id: NodeId) {
        self.isolated.remove(&id);
    }

    /// Who leads, if exactly one server does in the highest term any leader has.
    pub fn leader(&self) -> Option<NodeId> {
        let leaders: Vec<(Term, NodeId)> = self
            .servers
            .values()
            .filter(|s| s.is_leader())
            .map(|s| (s.term(), s.id()))
            .collect();
        leaders.iter().max().map(|&(_, id)| id)
    }

    /// Server `id`'s term, commit index and log as `(index, term)` entries.
    pub fn state(&self, id: NodeId) -> Option<ServerState> {
        let s = self.servers.get(&id)?;
        let log = s.log();
        let entries = (log.snapshot_index() + 1..=log.last_index())
            .filter_map(|i| log.get(i).map(|e| (i, e.term)))
            .collect();
        Some((s.term(), s.commit_index(), entries))
    }

    /// One line per server: term, role, vote, log, commit index.
    pub fn ledger(&self) -> Vec<String> {
        self.servers
            .values()
            .map(|s| {
                let status = s.status();
                let log = s.log();
                let entries: Vec<String> = (log.snapshot_index() + 1..=log.last_index())
                    .filter_map(|i| {
                        log.get(i).map(|e| match e.payload {
                            EntryPayload::Noop => format!("{i}@{} no-op", e.term),
                            EntryPayload::Command(_) => format!("{i}@{} write", e.term),
                        })
                    })
                    .collect();
                format!(
                    "server {}: term {}, {}{}, log [{}], committed up to {}{}",
                    s.id(),
                    s.term(),
                    status.standing.as_str(),
                    s.voted_for()
                        .map_or(String::new(), |v| format!(" (voted for {v})")),
                    entries.join(", "),
                    s.commit_index(),
                    if self.isolated.contains(&s.id()) {
                        " — cut off"
                    } else {
                        ""
                    }
                )
            })
            .collect()
    }
}

/// Prints one step: its number and words, what was sent, and every server's state.
fn step(world: &mut World, out: &mut dyn FnMut(&str), id: &str, text: &str) {
    out(&format!("step {id:>3}  {text}"));
    for event in world.events.drain(..) {
        out(&format!("           · {event}"));
    }
    for line in world.ledger() {
        out(&format!("           = {line}"));
    }
    out("");
}

/// Leader election: a timeout, votes, a leader; then a split vote that randomized timeouts
/// resolve.
pub fn election(out: &mut dyn FnMut(&str)) -> Result<World, StoryError> {
    let mut w = World::new(3);
    step(&mut w, out, "1", "Three servers start as followers in term 0. Each waits for a leader's heartbeat for a randomized election timeout.");
    w.timeout(1)?;
    step(&mut w, out, "2", "Server 1's timeout runs out first: it becomes a candidate in term 1, votes for itself and sends RequestVote to the others.");
    w.deliver_all()?;
    step(&mut w, out, "3", "Servers 2 and 3 have not voted in term 1 and server 1's log is as up to date as theirs: both grant their vote. With 3 of 3 votes server 1 is leader; its first AppendEntries (a no-op entry of its term) tells the others.");
    w.isolate(1);
    let first = w.race(&[2, 3])?;
    let second = if first == 2 { 3 } else { 2 };
    w.timeout(second)?;
    step(&mut w, out, "4", "Server 1 is cut off. Its heartbeats stop reaching servers 2 and 3, whose timeouts run out at nearly the same time: both become candidates in term 2, each voting for itself.");
    w.deliver_all()?;
    step(&mut w, out, "5", "Each has already voted for itself in term 2, so each refuses the other: a split vote, no leader in term 2.");
    let winner = w.race(&[2, 3])?;
    w.deliver_all()?;
    step(&mut w, out, "6", &format!("Their next timeouts are drawn at random again, so one runs out first: server {winner} starts term 3 and wins the other's vote before that one stands again. A split vote costs one more timeout, not a livelock."));
    w.heal(1);
    w.heartbeat(winner)?;
    w.deliver_all()?;
    w.heartbeat(winner)?;
    w.deliver_all()?;
    step(&mut w, out, "7", &format!("Server 1 is connected again. The first message it gets carries term 3: it learns it is out of date and becomes a follower of server {winner}, which then sends it the entries it lacks."));
    Ok(w)
}

/// Log replication: append, acknowledge, commit, apply; a follower cut off falls behind and
/// is brought up to date.
pub fn replication(out: &mut dyn FnMut(&str)) -> Result<World, StoryError> {
    let mut w = World::new(3);
    w.timeout(1)?;
    w.deliver_all()?;
    step(&mut w, out, "1", "Server 1 is elected leader of term 1 (as in raft-election); its no-op entry 1@1 is on every server and committed.");
    w.isolate(3);
    w.propose(1, write(1))?;
    step(&mut w, out, "2", "Server 3 is cut off. A client writes through server 1, the leader: it appends entry 2@1 to its log and sends AppendEntries to servers 2 and 3.");
    w.deliver_all()?;
    step(&mut w, out, "3", "Server 2 appends the entry and acknowledges it; the message to server 3 is lost. Stored on 2 of 3 servers, a majority, entry 2 is committed: server 1 applies it and answers the client; the next AppendEntries tells server 2 it may apply it too.");
    w.propose(1, write(2))?;
    w.deliver_all()?;
    w.propose(1, write(3))?;
    w.deliver_all()?;
    step(
        &mut w,
        out,
        "4",
        "Two more writes are committed the same way, without server 3.",
    );
    w.heal(3);
    w.heartbeat(1)?;
    w.deliver_all()?;
    step(&mut w, out, "5", "Server 3 is connected again. The leader stopped sending it entries once its batches went unanswered; it probes with an empty AppendEntries after the last entry it knows server 3 holds, 1@1. Server 3 holds that entry (index and term match), so it accepts: its log matches the leader's up to 1.");
    w.heartbeat(1)?;
    w.deliver_all()?;
    step(&mut w, out, "6", "At the next heartbeat the leader probes once more; on that answer it sends what server 3 lacks, entries 2 to 4, with its commit index: server 3's log equals the leader's again and it applies the committed entries.");
    Ok(w)
}

/// Why a leader commits only entries of its own term by counting copies (the Raft paper's
/// Figure 8): an entry of an earlier term stored on a majority can still be overwritten.
pub fn figure_8(out: &mut dyn FnMut(&str)) -> Result<World, StoryError> {
    let mut w = World::with_batch(5, 1);
    w.timeout(1)?;
    w.deliver_all()?;
    step(&mut w, out, "1", "Five servers. Server 1 is elected leader of term 1; its no-op 1@1 is on every server and committed. (AppendEntries carry one entry each in this story, so we can stop between two.)");
    for id in [3, 4, 5] {
        w.isolate(id);
    }
    w.propose(1, write(1))?;
    w.deliver_all()?;
    step(&mut w, out, "2", "Servers 3, 4 and 5 are cut off. A client's write becomes entry 2@1 on server 1, which reaches server 2 only: 2 of 5, not a majority, not committed.");
    w.crash(1);
    for id in [3, 4, 5] {
        w.heal(id);
    }
    w.isolate(2);
    w.timeout(5)?;
    w.deliver_until(|w| w.leader() == Some(5))?;
    w.crash(5);
    step(&mut w, out, "3", "Server 1 crashes; server 2 is cut off. Server 5 times out, is elected leader of term 2 by servers 3 and 4 (their logs are no more up to date than its own), appends its no-op 2@2 at index 2, and crashes before sending it anywhere.");
    w.restart(1)?;
    w.heal(2);
    w.timeout(1)?;
    w.deliver_all()?;
    if w.leader() != Some(1) {
        w.timeout(1)?;
        w.deliver_until(|w| w.leader() == Some(1))?;
    }
    step(&mut w, out, "4", "Server 1 restarts from its disk (its commit index, which is not stored, starts again from 0) and stands; servers 3 and 4 already voted in term 2, so it needs a term above: it is elected leader of term 3 by servers 2, 3 and 4 (its log is at least as up to date as theirs), and appends its no-op 3@3 after 2@1.");
    w.deliver_until(|w| w.holds(3, 2, 1))?;
    step(&mut w, out, "5", "Server 1 replicates: server 2 gets 3@3, server 3 gets the entry it lacks first, 2@1. Now 2@1 is on servers 1, 2 and 3, a majority of five, while 3@3 is on two. Yet server 1 does not commit index 2: 2@1 is of term 1, not of its current term 3, and Raft never commits such an entry by counting its copies.");
    w.crash(1);
    w.restart(5)?;
    w.timeout(5)?;
    if w.leader() != Some(5) {
        w.deliver_all()?;
        w.timeout(5)?;
    }
    w.deliver_all()?;
    step(&mut w, out, "6", "Here is why. Server 1 crashes; server 5 restarts and stands in term 4. Its log ends with 2@2, more up to date than 2@1 (a later term): servers 3 and 4 vote for it (server 2, whose log ends with 3@3, refuses), a majority with its own vote. As leader it makes every log match its own: 2@1 is replaced by 2@2 wherever it was. Had server 1 counted 2@1 as committed in step 5, and applied it, a committed write would now be gone. Had server 1 instead got 3@3 onto a majority first, 3@3 would have committed 2@1 with it, and server 5, whose log lacks 3@3, could not have been elected.");
    Ok(w)
}

/// One of the stories above.
type Story = fn(&mut dyn FnMut(&str)) -> Result<World, StoryError>;

/// Runs `story` for `synod scenario`: its lines to `out`, an error if it went off script.
fn tell(story: Story, out: &mut dyn FnMut(&str)) -> Result<(), String> {
    story(out)
        .map(|_| ())
        .map_err(|e| format!("the scenario went off script: {}", e.0))
}

/// The worked examples as `synod scenario` runs them.
pub fn scenarios() -> Vec<synod_core::Scenario> {
    vec![
        synod_core::Scenario {
            name: "raft-election",
            title: "Raft leader election: a timeout, votes, a leader; a split vote resolved by randomized timeouts.",
            run: |out| tell(election, out),
        },
        synod_core::Scenario {
            name: "raft-figure-8",
            title: "Raft's Figure 8: why a leader commits only entries of its own term by counting copies.",
            run: |out| tell(figure_8, out),
        },
        synod_core::Scenario {
            name: "raft-replication",
            title: "Raft log replication: append, acknowledge, commit, apply; a lagging follower caught up.",
            run: |out| tell(replication, out),
        },
    ]
}
