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
use crate::snapshot_policy::SnapshotPolicy;
use actix::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use synod_core::Status;
use synod_kv::KvStore;
use synod_messages::{ActorAddr, Command, KvOp, KvResult, NodeId, Payload, RequestId, Role};
use synod_network::{Deliver, Router};
use tokio::sync::oneshot;

mod apply;
mod forward;
mod snapshots;
mod submit;
#[cfg(test)]
mod tests;

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
    /// Every role of the node, whose storage may fail (not only the front one's).
    every_role: Vec<Recipient<GetStatus>>,
    /// Protocol messages sent to the service role by mistake, logged once per interval.
    misaddressed: synod_network::throttle::Throttle,
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
            every_role: Vec::new(),
            misaddressed: synod_network::throttle::Throttle::default(),
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

    /// Reads the status of every role of the node for `/v1/status`, so that a role whose
    /// storage failed shows (`role` is then `failed`) whichever role it is.
    pub fn watch_roles(mut self, roles: Vec<Recipient<GetStatus>>) -> Self {
        self.every_role = roles;
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
            Payload::Protocol(_) => {
                if let Some(skipped) = self.misaddressed.allow(Instant::now()) {
                    tracing::warn!(from = %env.from, skipped, "service got a protocol message");
                }
            }
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
        let front = self.status.send(GetStatus);
        let every = futures::future::join_all(self.every_role.iter().map(|r| r.send(GetStatus)));
        let both = async move { (front.await, every.await) };
        Box::pin(both.into_actor(self).map(
            |(status, every): (Result<Status, _>, Vec<Result<Status, _>>), service, _| {
                let status = status.ok()?;
                let failed = status.storage_failed
                    || every
                        .iter()
                        .any(|s| s.as_ref().is_ok_and(|s| s.storage_failed));
                let applied = service.kv.applied_index();
                Some(NodeStatus {
                    node_id: service.cfg.node,
                    protocol: status.protocol,
                    role: if failed { "failed" } else { status.role_word() },
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
                    writes_to: status.writes_to.iter().map(|&(n, _)| n).collect(),
                    replicated: status.writes_to.into_iter().collect(),
                })
            },
        ))
    }
}
