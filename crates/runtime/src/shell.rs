//! The one generic actor that drives a pure core.
//!
//! ```text
//!   Deliver(env) ─┐                  ┌──► 0. router ◄── Send(eager) before the sync
//!   tick ─────────┼──► core ──► Ready ──► 1. storage.persist(ops)   one sync, or stop;
//!   Propose ──────┤                  │       then core.persisted()
//!   Compact ──────┘                  ├──► 2. router ◄── Send(env)   only after 1
//!                                    └──► 3. service ◄── ApplyBatch (snapshot, entries)
//! ```
//!
//! On start the shell registers itself with the router for its `(node, role)` address. A node
//! runs its shells on the router's thread: a message between them is a call on the same thread,
//! not a wake-up of another (the costly part of a hop on a small machine). When a step has eager
//! messages, the shell sends them and then steps aside, its mailbox paused, so the router and
//! its connections put them on the wire before the thread blocks in the sync.
//!
//! If persisting fails (a full disk, an I/O error), the shell does not send the messages that
//! depended on it and stops taking input: a replica whose memory is ahead of its disk must not
//! vote or acknowledge. Its status says `failed`, so the service fails the requests it proposed
//! here. Every [`RETRY_TICKS`] it reloads the durable state and rebuilds the core from it — the
//! same as a restart, so nothing that was not persisted is trusted — and goes on.

use crate::msg::{ApplyBatch, Compact, GetStatus, Propose, Read, RoleChanged, Stop};
use actix::fut::wrap_future;
use actix::{Actor, ActorContext, ActorFutureExt, Addr, AsyncContext, Context, Handler, Recipient};
use std::time::Duration;
use synod_core::driver::{self, Effects};
use synod_core::{
    Applied, Core, DurableState, NotLeader, Proposing, Snapshot, Status, Storage, StorageError,
};
use synod_messages::{ActorAddr, Envelope, NodeId, Payload, WireMessage};
use synod_network::throttle::Throttle;
use synod_network::{Deliver, Register, Router};

/// A persist slower than this is reported: the actor (and its heartbeats) stood still meanwhile.
const SLOW_PERSIST: Duration = Duration::from_millis(200);

/// Ticks between attempts to recover from a storage failure.
pub const RETRY_TICKS: u32 = 20;

/// Builds a core from its durable state (at start and after a storage failure).
pub type Build<C, S> = Box<dyn Fn(S) -> C + Send>;

/// Drives core `C`, whose durable state is `S`.
pub struct Shell<C: Core, S: DurableState<Op = C::Persist>> {
    core: C,
    build: Build<C, S>,
    me: ActorAddr,
    storage: Box<dyn Storage<S>>,
    router: Addr<Router>,
    service: Option<Recipient<ApplyBatch>>,
    watcher: Option<Recipient<RoleChanged>>,
    tick: Duration,
    /// When the last tick was handed to the core.
    last_tick: Option<std::time::Instant>,
    last_status: Option<Status>,
    /// Why and for how many ticks the storage has been failing.
    failed: Option<(String, u32)>,
    /// A [`Flush`] is queued.
    drive_scheduled: bool,
    /// Persist latency and batch size, for `/metrics`.
    persists: PersistMetrics,
    /// A proposing role's [`Proposing::writes_to`], for `/v1/status`; others write to none.
    writes_to: fn(&C) -> Vec<(NodeId, u64)>,
    /// Warnings that could repeat once per message or per persist.
    unreadable: Throttle,
    slow: Throttle,
}

/// The shell's persist histograms (handles made once, so a persist only records).
#[derive(Clone)]
struct PersistMetrics {
    seconds: metrics::Histogram,
    ops: metrics::Histogram,
}

impl PersistMetrics {
    fn new(role: synod_messages::Role) -> Self {
        let role = role.name().to_string();
        Self {
            seconds: metrics::histogram!(crate::metrics::PERSIST_SECONDS, "role" => role.clone()),
            ops: metrics::histogram!(crate::metrics::PERSIST_OPS, "role" => role),
        }
    }
}

/// Lets the tasks queued on this thread run before the caller goes on: the router, woken by
/// the sends, then the connection it hands the frames to (each yield lets one round through).
async fn let_others_run() {
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
}

/// Carry out the core's outputs (sent to itself).
#[derive(actix::Message)]
#[rtype(result = "()")]
struct Flush;

/// The shell's side of the [`driver`]: the router sends, the storage persists, the service
/// applies.
struct ShellEffects<'a, S: DurableState> {
    me: ActorAddr,
    storage: &'a mut Box<dyn Storage<S>>,
    router: &'a Addr<Router>,
    service: Option<&'a Recipient<ApplyBatch>>,
    persists: &'a PersistMetrics,
    slow: &'a mut Throttle,
}

impl<M: WireMessage, S: DurableState> Effects<M, S::Op> for ShellEffects<'_, S> {
    fn send(&mut self, to: ActorAddr, msg: M) {
        let env = Envelope {
            from: self.me,
            to,
            payload: Payload::protocol(msg),
        };
        self.router.do_send(synod_network::Send(env));
    }

    fn persist(&mut self, ops: &[S::Op]) -> Result<(), StorageError> {
        let started = std::time::Instant::now();
        let persisted = self.storage.persist(ops);
        let took = started.elapsed();
        self.persists.seconds.record(took.as_secs_f64());
        self.persists.ops.record(ops.len() as f64);
        if took >= SLOW_PERSIST {
            if let Some(skipped) = self.slow.allow(std::time::Instant::now()) {
                tracing::warn!(actor = %self.me, ms = took.as_millis() as u64, ops = ops.len(), skipped, "slow persist: this actor did nothing else meanwhile");
            }
        }
        persisted
    }

    fn take_stored_snapshot(&mut self, key: &str) -> Option<bytes::Bytes> {
        self.storage.take_stored_blob(key)
    }

    fn deliver(
        &mut self,
        snapshot: Option<Snapshot>,
        entries: Vec<Applied>,
        reads: Vec<(u64, Option<u64>)>,
    ) {
        if let Some(service) = self.service {
            service.do_send(ApplyBatch {
                snapshot,
                entries,
                reads,
            });
        }
    }
}

impl<C, S> Shell<C, S>
where
    C: Core + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    /// A shell playing `me`, ticking every `tick`, whose core `build` makes from what
    /// `storage` holds. Fails if the stored state cannot be read.
    pub fn recover(
        me: ActorAddr,
        mut storage: Box<dyn Storage<S>>,
        build: impl Fn(S) -> C + Send + 'static,
        router: Addr<Router>,
        tick: Duration,
    ) -> Result<Self, StorageError> {
        let core = build(storage.load()?);
        Ok(Self {
            core,
            build: Box::new(build),
            me,
            storage,
            router,
            service: None,
            watcher: None,
            tick,
            last_tick: None,
            last_status: None,
            failed: None,
            drive_scheduled: false,
            persists: PersistMetrics::new(me.role),
            writes_to: |_| Vec::new(),
            unreadable: Throttle::default(),
            slow: Throttle::default(),
        })
    }

    /// A role that takes client commands: `/v1/status` shows whom it writes to.
    pub fn proposing(mut self) -> Self
    where
        C: Proposing,
    {
        self.writes_to = C::writes_to;
        self
    }

    /// Where committed entries go.
    pub fn apply_to(mut self, service: Recipient<ApplyBatch>) -> Self {
        self.service = Some(service);
        self
    }

    /// Who hears about leadership changes.
    pub fn report_roles_to(mut self, watcher: Recipient<RoleChanged>) -> Self {
        self.watcher = Some(watcher);
        self
    }

    /// Carries out everything the core asked for, in the safe order (see [`driver`]).
    fn drive(&mut self, ctx: &mut Context<Self>) {
        loop {
            let (core, mut fx) = self.parts();
            let Some(step) = driver::begin(core, &mut fx) else {
                break;
            };
            if step.sent_eager_before_persist() {
                // `wait` pauses the mailbox and the ticks: nothing reaches the core between
                // its step and the persist of that step.
                ctx.wait(
                    wrap_future(let_others_run()).map(move |(), shell: &mut Self, ctx| {
                        if shell.finish(step) {
                            shell.drive(ctx);
                        }
                    }),
                );
                return;
            }
            if !self.finish(step) {
                return;
            }
        }
        self.report_status();
    }

    /// Persists a step, then sends its messages and hands over what it applied. False if the
    /// persist failed (the shell is then paused).
    fn finish(&mut self, step: driver::Step<C::Message, C::Persist>) -> bool {
        let (core, mut fx) = self.parts();
        if let Err(e) = driver::finish(core, &mut fx, step) {
            tracing::error!(actor = %self.me, error = %e, "persist failed; this replica pauses and will recover from its durable state");
            self.failed = Some((e.to_string(), 0));
            self.report_status();
            return false;
        }
        true
    }

    /// The core, and what the driver needs around it: the router, the storage, the service.
    fn parts(&mut self) -> (&mut C, ShellEffects<'_, S>) {
        let fx = ShellEffects {
            me: self.me,
            storage: &mut self.storage,
            router: &self.router,
            service: self.service.as_ref(),
            persists: &self.persists,
            slow: &mut self.slow,
        };
        (&mut self.core, fx)
    }

    fn status(&self) -> Status {
        let mut status = self.core.status();
        if self.failed.is_some() {
            status.storage_failed = true;
            status.leader = None;
        }
        status
    }

    /// Tells the watcher when leader, term or role changed.
    fn report_status(&mut self) {
        let status = self.status();
        let changed = self.last_status.as_ref().is_none_or(|last| {
            (last.leader, last.epoch, last.standing, last.storage_failed)
                != (
                    status.leader,
                    status.epoch,
                    status.standing,
                    status.storage_failed,
                )
        });
        if changed {
            if let Some(watcher) = &self.watcher {
                watcher.do_send(RoleChanged(status.clone()));
            }
            self.last_status = Some(status);
        }
    }
}

impl<C, S> Shell<C, S>
where
    C: Core + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    /// Carries out the core's outputs once the mailbox is empty: every message that arrived
    /// in one burst shares one persist (one fsync) and one round of sends — group commit.
    fn schedule_drive(&mut self, ctx: &mut Context<Self>) {
        if !self.drive_scheduled {
            self.drive_scheduled = true;
            // `notify` runs after the mailbox is drained (actix polls the mailbox first).
            ctx.notify(Flush);
        }
    }

    /// Rebuilds the core from what is durable, as a restart would.
    fn try_recover(&mut self, ctx: &mut Context<Self>) {
        match self.storage.load() {
            Ok(state) => {
                tracing::warn!(actor = %self.me, "storage readable again; rebuilding from the durable state");
                self.core = (self.build)(state);
                self.failed = None;
                self.drive(ctx);
            }
            Err(e) => {
                tracing::error!(actor = %self.me, error = %e, "storage still failing");
                self.failed = Some((e.to_string(), 0));
            }
        }
    }
}

impl<C, S> Shell<C, S>
where
    C: Core + Unpin + Send,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    /// Starts the shell on `arbiter`'s thread: a node's router's (and service's), so that a
    /// message between them wakes no other thread.
    pub fn start_on(self, arbiter: &actix::dev::ArbiterHandle) -> Addr<Self> {
        Self::start_in_arbiter(arbiter, move |_| self)
    }
}

impl<C, S> Actor for Shell<C, S>
where
    C: Core + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.router.do_send(Register {
            role: self.me.role,
            recipient: ctx.address().recipient(),
        });
        ctx.run_interval(self.tick, |shell, ctx| match &mut shell.failed {
            None => {
                // After the thread stood still (SIGSTOP, a stalled machine) the interval fires
                // every missed tick at once; the core gets one, so that it reads the messages
                // that arrived meanwhile before its timers run out (a follower would otherwise
                // stand for election under a leader whose heartbeats wait in its mailbox).
                let now = std::time::Instant::now();
                if shell.last_tick.is_some_and(|t| now - t < shell.tick / 2) {
                    return;
                }
                shell.last_tick = Some(now);
                shell.core.on_tick();
                shell.schedule_drive(ctx);
            }
            Some((_, ticks)) => {
                *ticks += 1;
                if *ticks >= RETRY_TICKS {
                    shell.try_recover(ctx);
                }
            }
        });
        self.drive(ctx);
    }
}

impl<C, S> Handler<Deliver> for Shell<C, S>
where
    C: Core + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    type Result = ();

    fn handle(&mut self, Deliver(env): Deliver, ctx: &mut Context<Self>) {
        if self.failed.is_some() {
            return;
        }
        match env.payload.into_protocol::<C::Message>() {
            Ok(msg) => {
                self.core.on_message(env.from, msg);
                self.schedule_drive(ctx);
            }
            Err(e) => {
                if let Some(skipped) = self.unreadable.allow(std::time::Instant::now()) {
                    tracing::warn!(actor = %self.me, from = %env.from, error = %e, skipped, "dropping a message this role cannot read");
                }
            }
        }
    }
}

impl<C, S> Handler<Propose> for Shell<C, S>
where
    C: Proposing + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    type Result = Result<(), NotLeader>;

    fn handle(&mut self, Propose(commands): Propose, ctx: &mut Context<Self>) -> Self::Result {
        if self.failed.is_some() {
            return Err(NotLeader { leader: None });
        }
        let result = self.core.propose(commands);
        self.schedule_drive(ctx);
        result
    }
}

impl<C, S> Handler<Read> for Shell<C, S>
where
    C: Proposing + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    type Result = Result<(), NotLeader>;

    fn handle(&mut self, Read(ids): Read, ctx: &mut Context<Self>) -> Self::Result {
        if self.failed.is_some() {
            return Err(NotLeader { leader: None });
        }
        let mut result = Ok(());
        for id in ids {
            if let Err(e) = self.core.read_index(id) {
                result = Err(e);
                break;
            }
        }
        self.schedule_drive(ctx);
        result
    }
}

impl<C, S> Handler<GetStatus> for Shell<C, S>
where
    C: Core + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    type Result = actix::MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _: &mut Context<Self>) -> Self::Result {
        let mut status = self.status();
        if self.failed.is_none() {
            status.writes_to = (self.writes_to)(&self.core);
        }
        actix::MessageResult(status)
    }
}

impl<C, S> Handler<Compact> for Shell<C, S>
where
    C: Core + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    type Result = ();

    fn handle(&mut self, Compact(snapshot): Compact, ctx: &mut Context<Self>) {
        if self.failed.is_none() {
            self.core.compact(snapshot);
            self.schedule_drive(ctx);
        }
    }
}

impl<C, S> Handler<Flush> for Shell<C, S>
where
    C: Core + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    type Result = ();

    fn handle(&mut self, _: Flush, ctx: &mut Context<Self>) {
        self.drive_scheduled = false;
        if self.failed.is_none() {
            self.drive(ctx);
        }
    }
}

impl<C, S> Handler<Stop> for Shell<C, S>
where
    C: Core + Unpin,
    C::Message: WireMessage,
    S: DurableState<Op = C::Persist>,
{
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
