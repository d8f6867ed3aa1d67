//! The KV service of one node: answers clients, forwards to the leader, applies the log.
//!
//! ```text
//!  ClientRequest ──► pending[id] ──► leader is me?  ── yes ──► Propose ──► local shell
//!                        │                          └─ no ───► Forward ──► leader's service
//!                        ▼
//!  ApplyBatch ──► KvStore::apply ──► result for pending[id] ──► client
//! ```
//!
//! A request is answered when this node applies the command's log entry, so the answer is
//! consistent with this node's own state (read-your-writes on any node). A request that was
//! never handed to a leader fails with `NoLeader` (it was not executed); one that was handed
//! over but not applied before the deadline fails with `Timeout` (outcome unknown). Retries of
//! a forwarded command keep its request id, so the state machine applies it once.

use crate::msg::{
    ApplyBatch, BallotView, ClientError, ClientRequest, Compact, Consistency, GetNodeStatus,
    GetStatus, NodeStatus, Propose, Read, RoleChanged, Stop,
};
use crate::reads::{Origin, Reads, State as ReadState};
use crate::snapshot_policy::{log_bytes, SnapshotPolicy};
use actix::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use synod_core::{NotLeader, Snapshot, Status};
use synod_kv::KvStore;
use synod_messages::batch::batches;
use synod_messages::service::ServiceMessage;
use synod_messages::{
    ActorAddr, Command, Envelope, KvOp, KvResult, NodeId, Payload, RequestId, Role,
};
use synod_network::{Deliver, Router};
use tokio::sync::oneshot;

mod snapshots;
pub use snapshots::{SnapshotChunks, SnapshotWriter, STEP_BYTES};

/// Timing of the service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// This node.
    pub node: NodeId,
    /// How long a client waits for its command to be applied.
    pub request_timeout: Duration,
    /// Most bytes of commands (by [`Command::approx_bytes`]) in one `Forward` to the leader.
    pub max_forward_bytes: usize,
    /// How often pending requests are checked for resending and deadlines.
    pub retry_interval: Duration,
    /// A command forwarded to the same leader is sent again after this long without result,
    /// unless that leader answered `Taken` in the term this node sees.
    pub resend_after: Duration,
    /// The actors this node hosts, for `/v1/status`.
    pub roles: Vec<Role>,
    /// When to snapshot the store.
    pub snapshot: SnapshotPolicy,
}

type Reply = oneshot::Sender<Result<KvResult, ClientError>>;

struct Pending {
    command: Command,
    /// The command's share of the node's budget of request bodies, given back with this.
    _held: Option<crate::admission::Reservation>,
    waiters: Vec<Reply>,
    deadline: Instant,
    /// Whether some leader may have accepted the command.
    maybe_executed: bool,
    /// Where and when it was last handed over.
    sent: Option<(NodeId, Instant)>,
    /// The protocol's term (Raft) or ballot round (Paxos) when it was last handed over.
    sent_term: u64,
    /// The term in which the leader it was last forwarded to said its protocol took it
    /// (`Taken`): not sent to that leader again while this node sees that term.
    taken: Option<u64>,
}

impl Pending {
    /// Whether the command may have been (or may still be) executed, seen from node `me`: some
    /// leader may have accepted it, or it is in this node's protocol's hands right now (the
    /// protocol has not answered yet, so it may be proposing it).
    fn maybe_executed(&self, me: NodeId) -> bool {
        self.maybe_executed || self.sent.is_some_and(|(to, _)| to == me)
    }
}

/// The service actor.
pub struct Service {
    cfg: ServiceConfig,
    kv: KvStore,
    router: Addr<Router>,
    /// The role that takes client commands; none on a node without one (a Paxos observer).
    protocol: Option<Recipient<Propose>>,
    status: Recipient<GetStatus>,
    leader: Option<NodeId>,
    /// The protocol's epoch (Raft's term, a Paxos ballot's round), as last reported.
    term: u64,
    client_id: u64,
    next_seq: u64,
    pending: HashMap<RequestId, Pending>,
    /// Commands other nodes forwarded here that this node, leading, handed to its protocol,
    /// with the term, until they are applied (or refused): the same command forwarded again
    /// in that term (a sender that did not hear `Taken` resends what is slow to apply, in case
    /// the message was lost) is not proposed again, which would only put it in the log twice,
    /// and is answered `Taken` again.
    forwarded: HashMap<RequestId, u64>,
    /// Where snapshots go (the roles that compact their logs).
    compact: Vec<Recipient<Compact>>,
    /// The log position of the last snapshot taken or installed.
    snapshot_index: u64,
    /// About the memory the log since `snapshot_index` takes (see [`SnapshotPolicy`]).
    log_bytes: u64,
    /// A [`SubmitDue`] is queued.
    submit_scheduled: bool,
    /// Linearizable reads served through the protocol's read index.
    reads: Reads<Reply>,
    /// The protocol's read index, if it has one (otherwise reads go through the log).
    read_index: Option<Recipient<Read>>,
    /// Writes snapshots to disk ahead of the protocol persisting them.
    snapshot_writer: Option<SnapshotWriter>,
    /// Where the chunks of the snapshot image under way go (see `snapshots`).
    snapshot_feed: Option<snapshots::Feed>,
    /// Snapshot images begun so far (each one's number).
    snapshot_images: u64,
    /// The last image this service abandoned itself (its writer's failure is no error).
    snapshot_abandoned: Option<u64>,
    /// Why the state machine stopped for good (a snapshot it cannot decode): nothing more is
    /// applied or served.
    stopped: Option<String>,
    /// A snapshot is being written (encoded, streamed, made durable) and not yet handed over.
    snapshotting: bool,
}

/// Hand pending requests to the leader (sent to itself).
#[derive(Message)]
#[rtype(result = "()")]
struct SubmitDue;

impl Handler<SubmitDue> for Service {
    type Result = ();

    fn handle(&mut self, _: SubmitDue, ctx: &mut Context<Self>) {
        self.submit_scheduled = false;
        self.submit_due(ctx);
    }
}

impl Service {
    /// A service in front of a protocol that takes proposals at `protocol` and reports its
    /// status at `status`.
    pub fn new(
        cfg: ServiceConfig,
        router: Addr<Router>,
        protocol: Option<Recipient<Propose>>,
        status: Recipient<GetStatus>,
    ) -> Self {
        Self {
            cfg,
            kv: KvStore::new(),
            router,
            protocol,
            status,
            leader: None,
            term: 0,
            client_id: rand::random(),
            next_seq: 0,
            pending: HashMap::new(),
            forwarded: HashMap::new(),
            compact: Vec::new(),
            snapshot_index: 0,
            log_bytes: 0,
            submit_scheduled: false,
            reads: Reads::new(),
            read_index: None,
            snapshot_writer: None,
            snapshot_feed: None,
            snapshot_images: 0,
            snapshot_abandoned: None,
            stopped: None,
            snapshotting: false,
        }
    }

    /// Writes snapshots with `writer` before handing them to the protocol.
    pub fn write_snapshots_with(mut self, writer: Option<SnapshotWriter>) -> Self {
        self.snapshot_writer = writer;
        self
    }

    /// Serves linearizable reads through `protocol`'s read index instead of the log.
    pub fn read_through(mut self, protocol: Option<Recipient<Read>>) -> Self {
        self.read_index = protocol;
        self
    }

    /// Sends snapshots to `targets` so they can compact their logs.
    pub fn compact_to(mut self, targets: Vec<Recipient<Compact>>) -> Self {
        self.compact = targets;
        self
    }

    fn me(&self) -> ActorAddr {
        ActorAddr::new(self.cfg.node, Role::SERVICE)
    }

    fn send_to(&self, node: NodeId, msg: ServiceMessage) {
        self.router.do_send(synod_network::Send(Envelope {
            from: self.me(),
            to: ActorAddr::new(node, Role::SERVICE),
            payload: Payload::Service(msg),
        }));
    }

    /// Hands pending commands to the leader: those never sent, sent to a node that is no longer
    /// the leader, or sent to another node long ago without result (the message may have been
    /// lost) and not answered `Taken` in the term this node sees. A leading protocol loses
    /// nothing it took while the term lasts: a command proposed here, or taken by the leader,
    /// goes again only in a new term or after a snapshot replaced the store (proposing it again
    /// meanwhile put it in the log twice, as many times as the commit took `resend_after`).
    fn submit_due(&mut self, ctx: &mut Context<Self>) {
        let Some(leader) = self.leader else {
            return;
        };
        let now = Instant::now();
        let (resend_after, term) = (self.cfg.resend_after, self.term);
        let local = leader == self.cfg.node;
        let due: Vec<Command> = self
            .pending
            .values_mut()
            .filter(|p| match p.sent {
                None => true,
                Some((to, _)) if to != leader => true,
                Some(_) if local => p.sent_term != term,
                Some(_) if p.taken == Some(term) => false,
                Some((_, at)) => now.duration_since(at) >= resend_after,
            })
            .map(|p| {
                p.sent = Some((leader, now));
                p.sent_term = term;
                p.taken = None;
                // Handed to another node, it may be executed whatever we hear next.
                p.maybe_executed |= !local;
                p.command.clone()
            })
            .collect();
        if !due.is_empty() {
            if local {
                self.propose_locally(due, None, ctx);
            } else {
                let max = self.cfg.max_forward_bytes;
                for commands in batches(&due, usize::MAX, max, Command::approx_bytes) {
                    self.send_to(leader, ServiceMessage::Forward { commands });
                }
            }
        }
        let reads = self.reads.due(leader, now, resend_after);
        if !reads.is_empty() {
            if local {
                self.read_locally(reads, ctx);
            } else {
                self.send_to(leader, ServiceMessage::ReadIndex { ids: reads });
            }
        }
    }

    /// Asks the local protocol to confirm read points; a refusal sends the reads back to be
    /// retried (or answers the nodes that asked).
    fn read_locally(&mut self, ids: Vec<u64>, ctx: &mut Context<Self>) {
        let Some(protocol) = &self.read_index else {
            return;
        };
        protocol
            .send(Read(ids.clone()))
            .into_actor(self)
            .map(move |result, service, _| {
                if !matches!(result, Ok(Ok(()))) {
                    service.on_reads(ids.into_iter().map(|id| (id, None)).collect());
                }
            })
            .spawn(ctx);
    }

    /// Read points arrived from the local protocol: answer the nodes that asked, and serve
    /// the local reads that are ready.
    fn on_reads(&mut self, answers: Vec<(u64, Option<u64>)>) {
        let mut replies: HashMap<NodeId, Vec<(u64, Option<u64>)>> = HashMap::new();
        for (id, index) in answers {
            match self.reads.all.get(&id).map(|r| r.origin) {
                Some(Origin::Remote { node, id: theirs }) => {
                    self.reads.all.remove(&id);
                    replies.entry(node).or_default().push((theirs, index));
                }
                Some(Origin::Local) => self.reads.answer(id, index),
                None => {}
            }
        }
        for (node, reads) in replies {
            self.send_to(node, ServiceMessage::ReadIndexReply { reads });
        }
        self.serve_reads();
    }

    /// Answers the reads whose read point has been applied.
    fn serve_reads(&mut self) {
        for read in self.reads.ready(self.kv.applied_index()) {
            let value = self.kv.get(&read.key).map(<[u8]>::to_vec);
            for w in read.waiters {
                let _ = w.send(Ok(KvResult::Value(value.clone())));
            }
        }
    }

    /// Proposes through the local protocol; on refusal, redirects `origin` (a forwarding
    /// node) or marks local requests for resending.
    fn propose_locally(
        &mut self,
        commands: Vec<Command>,
        origin: Option<NodeId>,
        ctx: &mut Context<Self>,
    ) {
        let ids: Vec<RequestId> = commands.iter().map(|c| c.id).collect();
        metrics::counter!(crate::metrics::PROPOSALS).increment(ids.len() as u64);
        let term = self.term;
        let Some(protocol) = &self.protocol else {
            // No role here takes commands (a Paxos observer): refused as a follower would.
            let not_leader = NotLeader {
                leader: self.leader.filter(|&l| l != self.cfg.node),
            };
            self.refused(ids, origin, term, not_leader, ctx);
            return;
        };
        protocol
            .send(Propose(commands))
            .into_actor(self)
            .map(move |result, service, ctx| match result {
                Ok(Ok(())) => {
                    for id in &ids {
                        if let Some(p) = service.pending.get_mut(id) {
                            p.maybe_executed = true;
                        }
                    }
                    if let Some(origin) = origin {
                        service.send_to(origin, ServiceMessage::Taken { ids, term });
                    }
                }
                Ok(Err(not_leader)) => service.refused(ids, origin, term, not_leader, ctx),
                Err(e) => {
                    service.unforward(&ids, term);
                    tracing::error!(error = %e, "the protocol actor is gone");
                }
            })
            .spawn(ctx);
    }

    /// The local protocol refused commands: redirect `origin` (a forwarding node), or mark
    /// local requests for resending to the leader it named.
    fn refused(
        &mut self,
        ids: Vec<RequestId>,
        origin: Option<NodeId>,
        term: u64,
        not_leader: NotLeader,
        ctx: &mut Context<Self>,
    ) {
        if let Some(origin) = origin {
            self.unforward(&ids, term);
            self.send_to(
                origin,
                ServiceMessage::Redirect {
                    ids,
                    leader: not_leader.leader,
                },
            );
        } else {
            self.leader = not_leader.leader.filter(|&l| l != self.cfg.node);
            for id in &ids {
                if let Some(p) = self.pending.get_mut(id) {
                    p.sent = None;
                }
            }
            // The refusal may be older than the last RoleChanged (a leader elected meanwhile
            // reports nothing more): ask who leads now.
            self.refresh_leader(ctx);
        }
    }

    /// Forwarded commands the protocol refused in `term`: a copy forwarded again goes again.
    fn unforward(&mut self, ids: &[RequestId], term: u64) {
        for id in ids {
            if self.forwarded.get(id) == Some(&term) {
                self.forwarded.remove(id);
            }
        }
    }

    /// Asks the protocol who leads now, then hands pending commands over.
    fn refresh_leader(&mut self, ctx: &mut Context<Self>) {
        self.status
            .send(GetStatus)
            .into_actor(self)
            .map(|status, service, ctx| match status {
                // A report of a later term may have come meanwhile: terms only grow, so an
                // answer about an older one is stale.
                Ok(status) if status.epoch >= service.term => service.follow(&status, ctx),
                _ => service.submit_due(ctx),
            })
            .spawn(ctx);
    }

    /// The protocol reports who leads and in which term: hand pending commands over.
    fn follow(&mut self, status: &Status, ctx: &mut Context<Self>) {
        if status.leader != self.leader {
            metrics::counter!(crate::metrics::LEADER_CHANGES).increment(1);
            // Once per change: the line a person watching the cluster looks for.
            match status.leader {
                Some(leader) if leader == self.cfg.node => tracing::info!(
                    node = self.cfg.node,
                    term = status.epoch,
                    protocol = status.protocol,
                    "this node leads"
                ),
                Some(leader) => tracing::info!(
                    node = self.cfg.node,
                    leader,
                    term = status.epoch,
                    "leader known"
                ),
                None => tracing::info!(
                    node = self.cfg.node,
                    term = status.epoch,
                    role = status.role_word(),
                    "no leader known"
                ),
            }
        }
        self.leader = status.leader;
        if self.term != status.epoch {
            // What a past term took may be lost: a command forwarded again goes again.
            self.forwarded.clear();
        }
        self.term = status.epoch;
        self.submit_due(ctx);
    }

    /// Fails requests whose deadline passed.
    fn expire(&mut self) {
        let now = Instant::now();
        for read in self.reads.expired(now) {
            // A read has no effect: one that was not served was not executed.
            for w in read.waiters {
                let _ = w.send(Err(ClientError::NoLeader {
                    leader: self.leader,
                }));
            }
        }
        let expired: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                let err = if p.maybe_executed(self.cfg.node) {
                    ClientError::Timeout
                } else {
                    ClientError::NoLeader {
                        leader: self.leader,
                    }
                };
                for w in p.waiters {
                    let _ = w.send(Err(err.clone()));
                }
            }
        }
    }

    /// Hands new requests over once the mailbox is empty, so a burst of client requests goes
    /// to the leader as one batch.
    fn schedule_submit(&mut self, ctx: &mut Context<Self>) {
        if !self.submit_scheduled {
            self.submit_scheduled = true;
            ctx.notify(SubmitDue);
        }
    }

    /// Replaces the store by a snapshot's image (from the leader, or restored at start).
    fn install(&mut self, snapshot: &Snapshot) {
        if snapshot.index <= self.kv.applied_index() {
            return;
        }
        match KvStore::restore(&snapshot.data) {
            Ok(kv) => {
                tracing::info!(
                    node = self.cfg.node,
                    index = snapshot.index,
                    keys = kv.len(),
                    "installed a snapshot"
                );
                // An image of the store being replaced is abandoned, never completed.
                self.abandon_snapshot();
                self.kv = kv;
                self.snapshot_index = snapshot.index;
                self.log_bytes = 0;
                // Commands the image applied are not seen one by one: a pending one the
                // leader took may be among them, so it goes again (the leader proposes the
                // copy, and its entry's apply answers from the exactly-once table).
                self.forwarded.clear();
                for p in self.pending.values_mut() {
                    p.taken = None;
                }
            }
            Err(e) => {
                // The image passed the storage and transport checksums, so this is a bug or a
                // version mismatch. Applying what follows on top of the old store would serve
                // a state no other node has: stop applying and serving instead.
                tracing::error!(node = self.cfg.node, index = snapshot.index, error = %e, "cannot decode a snapshot; this node's state machine stops");
                self.stopped = Some(format!(
                    "the state machine stopped: the snapshot at {} cannot be decoded ({e})",
                    snapshot.index
                ));
                let interrupted = ClientError::Interrupted("the state machine stopped".into());
                for (_, p) in self.pending.drain() {
                    for w in p.waiters {
                        let _ = w.send(Err(interrupted.clone()));
                    }
                }
                self.reads.all.clear();
            }
        }
    }

    /// Applies what the protocol committed, answering the requests it settles.
    fn on_batch(&mut self, batch: ApplyBatch, ctx: &mut Context<Self>) {
        if self.stopped.is_some() {
            return;
        }
        if let Some(snapshot) = batch.snapshot {
            self.install(&snapshot);
            if self.stopped.is_some() {
                return;
            }
        }
        metrics::counter!(crate::metrics::APPLIED).increment(batch.entries.len() as u64);
        let kv = &mut self.kv;
        for applied in batch.entries {
            let Some(command) = applied.command else {
                kv.skip(applied.index);
                continue;
            };
            self.log_bytes += log_bytes(&command);
            self.forwarded.remove(&command.id);
            let Some(result) = kv.apply(applied.index, &command) else {
                continue;
            };
            if let Some(p) = self.pending.remove(&command.id) {
                for w in p.waiters {
                    let _ = w.send(Ok(result.clone()));
                }
            }
        }
        self.on_reads(batch.reads);
        self.maybe_snapshot(ctx);
    }

    /// Answers `err` to every request last handed to this node's own protocol.
    fn fail_local(&mut self, err: ClientError) {
        let me = self.cfg.node;
        let local: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.sent.is_some_and(|(to, _)| to == me))
            .map(|(id, _)| *id)
            .collect();
        for id in local {
            if let Some(p) = self.pending.remove(&id) {
                for w in p.waiters {
                    let _ = w.send(Err(err.clone()));
                }
            }
        }
    }

    fn on_service_message(
        &mut self,
        from: ActorAddr,
        msg: ServiceMessage,
        ctx: &mut Context<Self>,
    ) {
        match msg {
            ServiceMessage::Forward { mut commands } => {
                if self.leader == Some(self.cfg.node) {
                    // Recorded before the proposal, so that its apply (which may be handled
                    // before the proposal's answer) finds the record to clear.
                    let term = self.term;
                    let (held, fresh): (Vec<Command>, Vec<Command>) = commands
                        .into_iter()
                        .partition(|c| self.forwarded.get(&c.id) == Some(&term));
                    if !held.is_empty() {
                        // Sent again: the answer to the first copy may have been lost.
                        let ids = held.iter().map(|c| c.id).collect();
                        self.send_to(from.node, ServiceMessage::Taken { ids, term });
                    }
                    commands = fresh;
                    self.forwarded.extend(commands.iter().map(|c| (c.id, term)));
                }
                if !commands.is_empty() {
                    self.propose_locally(commands, Some(from.node), ctx);
                }
            }
            ServiceMessage::ReadIndex { ids } => {
                let now = Instant::now();
                let deadline = now + self.cfg.request_timeout;
                let local: Vec<u64> = ids
                    .into_iter()
                    .map(|theirs| {
                        let origin = Origin::Remote {
                            node: from.node,
                            id: theirs,
                        };
                        self.reads.add(
                            String::new(),
                            origin,
                            deadline,
                            Vec::new(),
                            ReadState::Sent(self.cfg.node, now),
                        )
                    })
                    .collect();
                self.read_locally(local, ctx);
            }
            ServiceMessage::ReadIndexReply { reads } => {
                for (id, index) in reads {
                    self.reads.answer(id, index);
                }
                self.serve_reads();
            }
            ServiceMessage::Redirect { ids, leader } => {
                if let Some(l) = leader.filter(|&l| l != from.node) {
                    self.leader = Some(l);
                }
                for id in ids {
                    if let Some(p) = self.pending.get_mut(&id) {
                        p.sent = None;
                    }
                }
            }
            ServiceMessage::Taken { ids, term } => {
                for id in ids {
                    if let Some(p) = self.pending.get_mut(&id) {
                        if p.sent.is_some_and(|(to, _)| to == from.node) {
                            p.taken = Some(term);
                        }
                    }
                }
            }
        }
    }
}

impl Actor for Service {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.cfg.retry_interval, |service, ctx| {
            service.expire();
            service.submit_due(ctx);
        });
    }
}

impl Handler<ClientRequest> for Service {
    type Result = ResponseFuture<Result<KvResult, ClientError>>;

    fn handle(&mut self, req: ClientRequest, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(why) = &self.stopped {
            let err = ClientError::Unavailable(why.clone());
            return Box::pin(async move { Err(err) });
        }
        if let (KvOp::Get { key }, Consistency::Stale) = (&req.op, req.consistency) {
            let value = self.kv.get(key).map(<[u8]>::to_vec);
            return Box::pin(async move { Ok(KvResult::Value(value)) });
        }
        if let (KvOp::Get { key }, true) = (&req.op, self.read_index.is_some()) {
            let (tx, rx) = oneshot::channel();
            let deadline = Instant::now() + self.cfg.request_timeout;
            self.reads.add(
                key.clone(),
                Origin::Local,
                deadline,
                vec![tx],
                ReadState::Unsent,
            );
            self.schedule_submit(ctx);
            return Box::pin(async move {
                rx.await.unwrap_or_else(|_| {
                    Err(ClientError::Interrupted("the request was dropped".into()))
                })
            });
        }
        let id = req.id.unwrap_or_else(|| {
            self.next_seq += 1;
            RequestId {
                client: self.client_id,
                seq: self.next_seq,
            }
        });
        let (tx, rx) = oneshot::channel();
        match self.pending.get_mut(&id) {
            Some(p) => p.waiters.push(tx),
            None => {
                self.pending.insert(
                    id,
                    Pending {
                        command: Command { id, op: req.op },
                        _held: req.held,
                        waiters: vec![tx],
                        deadline: Instant::now() + self.cfg.request_timeout,
                        // A request id chosen by the client may be a retry of an attempt
                        // made elsewhere, which may still be executed: never "not executed".
                        maybe_executed: req.id.is_some(),
                        sent: None,
                        sent_term: 0,
                        taken: None,
                    },
                );
                self.schedule_submit(ctx);
            }
        }
        Box::pin(async move {
            rx.await
                .unwrap_or_else(|_| Err(ClientError::Interrupted("the request was dropped".into())))
        })
    }
}

impl Handler<ApplyBatch> for Service {
    type Result = ();

    fn handle(&mut self, batch: ApplyBatch, ctx: &mut Context<Self>) {
        self.on_batch(batch, ctx);
    }
}

impl Handler<RoleChanged> for Service {
    type Result = ();

    fn handle(&mut self, RoleChanged(status): RoleChanged, ctx: &mut Context<Self>) {
        if status.storage_failed {
            self.fail_local(ClientError::Storage);
        }
        self.follow(&status, ctx);
    }
}

impl Handler<Deliver> for Service {
    type Result = ();

    fn handle(&mut self, Deliver(env): Deliver, ctx: &mut Context<Self>) {
        match env.payload {
            Payload::Service(msg) => self.on_service_message(env.from, msg, ctx),
            other => tracing::warn!(from = %env.from, ?other, "service got a protocol message"),
        }
    }
}

impl Handler<Stop> for Service {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        self.fail_local(ClientError::Interrupted("the node is stopping".into()));
        ctx.stop();
    }
}

impl Handler<GetNodeStatus> for Service {
    type Result = ResponseActFuture<Self, Option<NodeStatus>>;

    fn handle(&mut self, _: GetNodeStatus, _: &mut Context<Self>) -> Self::Result {
        Box::pin(self.status.send(GetStatus).into_actor(self).map(
            |status: Result<Status, _>, service, _| {
                let status = status.ok()?;
                let applied = service.kv.applied_index();
                Some(NodeStatus {
                    node_id: service.cfg.node,
                    protocol: status.protocol,
                    role: status.role_word(),
                    roles: service.cfg.roles.clone(),
                    ballot: status
                        .ballot
                        .map(|(round, node)| BallotView { round, node }),
                    term: status.epoch,
                    leader_id: status.leader,
                    // What this node applied is committed, whatever its protocol core heard
                    // last (a Paxos follower's proposer learns of chosen slots after its
                    // learner applied them): the field never reads below `applied_index`.
                    commit_index: status.commit_index.max(applied),
                    last_log_index: status.last_index.max(applied),
                    applied_index: applied,
                    snapshot_index: service.snapshot_index,
                    keys: service.kv.len(),
                    writes_to: status.writes_to,
                })
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(sent: Option<NodeId>) -> Pending {
        Pending {
            command: Command {
                id: RequestId { client: 1, seq: 1 },
                op: KvOp::Delete { key: "k".into() },
            },
            _held: None,
            waiters: Vec::new(),
            deadline: Instant::now(),
            maybe_executed: false,
            sent: sent.map(|n| (n, Instant::now())),
            sent_term: 0,
            taken: None,
        }
    }

    #[test]
    fn a_command_in_the_local_protocols_hands_may_be_executed() {
        // Expiring before the local protocol answered must not say "not executed".
        assert!(pending(Some(1)).maybe_executed(1));
        // Never handed over, or refused (sent again cleared): definitely not executed here.
        assert!(!pending(None).maybe_executed(1));
    }
}
