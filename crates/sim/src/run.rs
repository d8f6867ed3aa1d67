//! One simulated run: nodes, network, clients and the fault schedule, stepped by a seeded
//! scheduler in logical time. The same seed gives the same run, bit for bit.

use crate::invariants::Invariants;
use crate::net::Network;
use crate::replica::{snapshot, Disk, Output, Protocol, Replica};
use crate::scenario::{schedule, Action, Scenario};
use crate::workload::{Pending, Workload};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use synod_check::{check, Outcome, Verdict};
use synod_core::Guarantee;
use synod_kv::KvStore;
use synod_messages::{NodeId, Payload, RequestId};

/// What to run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The protocol.
    pub protocol: Protocol,
    /// The seed: everything random in the run comes from it.
    pub seed: u64,
    /// The fault scenario.
    pub scenario: Scenario,
    /// Faults stop at this time...
    pub faults_until: u64,
    /// ...and the run ends here; in between the cluster must commit again.
    pub end: u64,
    /// Number of clients.
    pub clients: usize,
    /// Nodes snapshot their state machine every this many applied positions.
    pub snapshot_every: u64,
    /// Written values are padded to at least this many bytes (0: short values), so that
    /// paths taken only by large values (Paxos announcing them by slot) run too.
    pub value_bytes: usize,
}

impl SimConfig {
    /// The default run of `seed`: its scenario comes from the seed.
    pub fn new(protocol: Protocol, seed: u64) -> Self {
        Self {
            protocol,
            seed,
            scenario: Scenario::for_seed(seed),
            faults_until: 2_000,
            end: 3_000,
            clients: 3,
            snapshot_every: 25,
            value_bytes: 0,
        }
    }
}

/// Where and why a run broke.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The step at which it was seen.
    pub step: u64,
    /// The simulated time.
    pub time: u64,
    /// What broke.
    pub what: String,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The run's configuration.
    pub config: SimConfig,
    /// Events handled.
    pub steps: u64,
    /// Messages sent, dropped by faults, duplicated.
    pub messages: (u64, u64, u64),
    /// Node crashes.
    pub crashes: u64,
    /// Client operations: answered, failed (not executed), unknown.
    pub ops: (usize, usize, usize),
    /// Log positions decided.
    pub decided: usize,
    /// The first broken invariant, lost liveness, or non-linearizable history.
    pub failure: Option<Failure>,
}

impl Report {
    /// The command that replays this run.
    pub fn replay(&self) -> String {
        let mut replay = format!(
            "cargo run --release -p synod-sim -- --protocol {} --seed {} --scenario {}",
            self.config.protocol, self.config.seed, self.config.scenario
        );
        if self.config.value_bytes > 0 {
            replay.push_str(&format!(" --value-bytes {}", self.config.value_bytes));
        }
        replay
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sent, dropped, dup) = self.messages;
        let (ok, failed, unknown) = self.ops;
        write!(
            f,
            "{} seed {} ({}): {} steps, {sent} messages ({dropped} dropped, {dup} duplicated), {} crashes, ops {ok} ok / {failed} failed / {unknown} unknown, {} positions decided",
            self.config.protocol, self.config.seed, self.config.scenario, self.steps, self.crashes, self.decided
        )?;
        if let Some(failure) = &self.failure {
            write!(
                f,
                "\nFAILED at step {} (t={}): {}\nreplay: {}",
                failure.step,
                failure.time,
                failure.what,
                self.replay()
            )?;
        }
        Ok(())
    }
}

pub(crate) struct Node {
    pub(crate) id: NodeId,
    pub(crate) disk: Disk,
    pub(crate) replica: Option<Replica>,
    pub(crate) kv: KvStore,
    pub(crate) last_snapshot: u64,
    /// Client requests proposed here, by id: the client waiting.
    pub(crate) waiting: HashMap<RequestId, usize>,
    /// Reads asked here: read id → (client, request, key, read point once known).
    pub(crate) reads: BTreeMap<u64, (usize, RequestId, String, Option<u64>)>,
    /// Read points asked of this node by other nodes: read id here → (asking node, its id).
    pub(crate) remote_reads: BTreeMap<u64, (NodeId, u64)>,
    /// The last read id used; not reset by a crash, as the real service's ids are not reused.
    pub(crate) next_read: u64,
    /// The process is stopped (SIGSTOP) until this time.
    pub(crate) paused_until: u64,
    /// The process dies in the middle of its next persist.
    pub(crate) crash_in_persist: bool,
    /// Client requests that arrived while it was paused.
    pub(crate) deferred: Vec<(usize, Pending)>,
    /// Crashed for good: not restarted, not even when the faults stop.
    pub(crate) lost: bool,
    pub(crate) tick_period: u64,
    pub(crate) next_tick: u64,
}

const TICK: u64 = 3;

pub(crate) struct Sim {
    pub(crate) cfg: SimConfig,
    pub(crate) rng: StdRng,
    pub(crate) ids: Vec<NodeId>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) net: Network,
    pub(crate) work: Workload,
    invariants: Invariants,
    pub(crate) now: u64,
    steps: u64,
    pub(crate) crashes: u64,
}

/// Time after the end of the run, without clients or faults, in which every node that is up
/// must catch up.
const QUIET: u64 = 1_000;

/// Runs one seed to the end, or to its first failure.
pub fn run(cfg: &SimConfig) -> Report {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let n = cfg.scenario.nodes();
    let ids: Vec<NodeId> = (1..=n as u64).collect();
    let nodes = ids
        .iter()
        .map(|&id| {
            let mut disk = Disk::new();
            let replica =
                Replica::start(cfg.protocol, id, &ids, cfg.seed, cfg.value_bytes, &mut disk);
            Node {
                id,
                replica: Some(replica),
                disk,
                kv: KvStore::new(),
                last_snapshot: 0,
                waiting: HashMap::new(),
                reads: BTreeMap::new(),
                remote_reads: BTreeMap::new(),
                next_read: 0,
                paused_until: 0,
                crash_in_persist: false,
                deferred: Vec::new(),
                lost: false,
                tick_period: TICK,
                next_tick: rng.gen_range(0..TICK),
            }
        })
        .collect();
    let plan = schedule(cfg.scenario, &mut rng, &ids, cfg.faults_until);
    let mut sim = Sim {
        cfg: cfg.clone(),
        rng,
        ids,
        nodes,
        net: Network::default(),
        work: Workload::new(cfg.clients, cfg.value_bytes),
        invariants: Invariants::new(cfg.protocol, n),
        now: 0,
        steps: 0,
        crashes: 0,
    };
    let failure = sim.go(plan).err();
    sim.report(failure)
}

enum Event {
    Plan(usize),
    Heal,
    Message,
    Tick(usize),
    Client(usize),
}

impl Sim {
    fn go(&mut self, plan: Vec<(u64, Action)>) -> Result<(), Failure> {
        for i in 0..self.nodes.len() {
            self.after_step(i)?;
        }
        let mut next_plan = 0;
        let mut healed = false;
        let mut quiet = false;
        loop {
            // The earliest event; ties go in this fixed order, so runs are deterministic.
            let mut best: Option<(u64, Event)> = None;
            let mut consider = |at: u64, e: Event| {
                if best.as_ref().is_none_or(|(b, _)| at < *b) {
                    best = Some((at, e));
                }
            };
            if let Some((at, _)) = plan.get(next_plan) {
                consider(*at, Event::Plan(next_plan));
            }
            if !healed {
                consider(self.cfg.faults_until, Event::Heal);
            }
            if let Some(at) = self.net.next_at() {
                consider(at, Event::Message);
            }
            for (i, node) in self.nodes.iter().enumerate() {
                if node.replica.is_some() {
                    consider(node.next_tick, Event::Tick(i));
                }
            }
            if !quiet {
                for (i, c) in self.work.clients.iter().enumerate() {
                    let at = c.pending.as_ref().map_or(c.next_at, |p| p.deadline);
                    consider(at, Event::Client(i));
                }
            }
            let Some((at, event)) = best else {
                return Ok(());
            };
            if at >= self.cfg.end && !quiet {
                self.check_end()?;
                quiet = true;
                continue;
            }
            if at >= self.cfg.end + QUIET {
                return self.check_converged();
            }
            self.now = at;
            self.steps += 1;
            match event {
                Event::Plan(i) => {
                    next_plan = i + 1;
                    self.act(plan[i].1.clone())?;
                }
                Event::Heal => {
                    healed = true;
                    self.net.faults.heal();
                    for node in &mut self.nodes {
                        node.tick_period = TICK;
                    }
                    self.act(crate::scenario::Action::RestartAll)?;
                    self.act(crate::scenario::Action::Resume)?;
                }
                Event::Message => {
                    if let Some(m) = self.net.pop() {
                        let i = (m.to.node - 1) as usize;
                        let paused_until = self.nodes[i].paused_until;
                        if paused_until > self.now {
                            // A paused process reads its socket when it wakes up.
                            self.net.requeue(m, paused_until);
                        } else if let Payload::Service(msg) = m.payload {
                            if self.nodes[i].replica.is_some() {
                                self.on_service(i, m.from.node, msg)?;
                            }
                        } else if let Some(replica) = &mut self.nodes[i].replica {
                            replica.deliver(m.from, m.to.role, m.payload);
                            self.after_step(i)?;
                        }
                    }
                }
                Event::Tick(i) => {
                    let node = &mut self.nodes[i];
                    node.next_tick = (self.now + node.tick_period).max(node.paused_until);
                    if let Some(replica) = &mut node.replica {
                        replica.tick();
                    }
                    self.after_step(i)?;
                }
                Event::Client(c) => self.client(c)?,
            }
        }
    }

    fn fail(&self, what: String) -> Failure {
        Failure {
            step: self.steps,
            time: self.now,
            what,
        }
    }

    /// Carries out what node `i` did: invariants, messages, applying, snapshots.
    pub(crate) fn after_step(&mut self, i: usize) -> Result<(), Failure> {
        loop {
            let mut out = Output::default();
            let node = &mut self.nodes[i];
            let Some(replica) = &mut node.replica else {
                return Ok(());
            };
            let crashed = replica.drain(node.id, &mut out, node.crash_in_persist);
            if let Err(what) = self.invariants.observe(node.id, replica, &out) {
                return Err(self.fail(what));
            }
            for (from, to, payload) in out.messages {
                self.net.send(&mut self.rng, self.now, from, to, payload);
            }
            if crashed {
                self.crash(i);
                return Ok(());
            }
            if let Some(s) = out.snapshot {
                if s.index > self.nodes[i].kv.applied_index() {
                    match KvStore::restore(&s.data) {
                        Ok(kv) => {
                            self.nodes[i].kv = kv;
                            self.nodes[i].last_snapshot = s.index;
                        }
                        Err(e) => {
                            let id = self.nodes[i].id;
                            return Err(
                                self.fail(format!("node {id} got an undecodable snapshot: {e}"))
                            );
                        }
                    }
                }
            }
            for a in out.applied {
                let node = &mut self.nodes[i];
                let Some(command) = a.command else {
                    node.kv.skip(a.index);
                    continue;
                };
                let Some(result) = node.kv.apply(a.index, &command) else {
                    continue;
                };
                if let Some(c) = node.waiting.remove(&command.id) {
                    self.answer(c, command.id, result);
                }
            }
            self.read_points(i, out.reads);
            let node = &mut self.nodes[i];
            // In the lost-snapshot scenario the first node snapshots five times as often, so its
            // snapshot is often ahead of the others' when every node crashes.
            let every = match (i, self.cfg.scenario) {
                (0, Scenario::LostSnapshot) => self.cfg.snapshot_every.div_ceil(5),
                _ => self.cfg.snapshot_every,
            };
            if node.kv.applied_index() < node.last_snapshot + every {
                return Ok(());
            }
            let Ok(bytes) = node.kv.snapshot() else {
                return Err(self.fail("cannot encode a snapshot".into()));
            };
            node.last_snapshot = node.kv.applied_index();
            if let Some(replica) = &mut node.replica {
                replica.compact(snapshot(node.last_snapshot, bytes));
            }
        }
    }

    fn check_end(&mut self) -> Result<(), Failure> {
        let recovered =
            self.work.history.iter().any(|op| {
                op.call >= self.cfg.faults_until && matches!(op.outcome, Outcome::Ok { .. })
            });
        if !recovered {
            return Err(self.fail(format!(
                "liveness: no operation completed between the end of the faults (t={}) and the end of the run (t={}); nodes:\n{}",
                self.cfg.faults_until,
                self.cfg.end,
                self.describe_nodes()
            )));
        }
        if self.cfg.protocol.guarantee() != Guarantee::Linearizable {
            // Not promised, so not checked; convergence is (after the quiet time).
            return Ok(());
        }
        match check(&self.work.history()) {
            Verdict::Linearizable => Ok(()),
            Verdict::NotLinearizable(v) => {
                Err(self.fail(format!("the client history is not linearizable:\n{v}")))
            }
            Verdict::Unknown { key, explored } => Err(self.fail(format!(
                "the linearizability check gave up on key {key} after {explored} states"
            ))),
        }
    }

    /// After the quiet time every node that is up has applied the same positions.
    /// After the quiet time every node that is up holds the same state: for a protocol with
    /// a replicated log, the same applied position, and at that position the same store
    /// (the snapshot bytes, deterministic for one position).
    fn check_converged(&mut self) -> Result<(), Failure> {
        let up: Vec<&Node> = self.nodes.iter().filter(|n| n.replica.is_some()).collect();
        let applied: Vec<u64> = up.iter().map(|n| n.kv.applied_index()).collect();
        let (min, max) = (applied.iter().min(), applied.iter().max());
        if min != max && self.cfg.protocol.guarantee() == Guarantee::Linearizable {
            return Err(self.fail(format!(
                "convergence: {QUIET} time units after the clients stopped, the nodes that are up have not applied the same positions; nodes:\n{}",
                self.describe_nodes()
            )));
        }
        let states: Vec<(NodeId, Option<Vec<u8>>)> =
            up.iter().map(|n| (n.id, n.kv.snapshot().ok())).collect();
        if let Some((first, state)) = states.first() {
            if let Some((other, _)) = states.iter().find(|(_, s)| s != state) {
                return Err(self.fail(format!(
                    "convergence: {QUIET} time units after the clients stopped, nodes {first} and {other} hold different stores; nodes:\n{}",
                    self.describe_nodes()
                )));
            }
        }
        Ok(())
    }

    /// One line per node: its protocol status and applied position.
    fn describe_nodes(&self) -> String {
        self.nodes
            .iter()
            .map(|n| match &n.replica {
                None => format!("  node {}: down", n.id),
                Some(r) => format!(
                    "  node {}: {:?}, applied {}",
                    n.id,
                    r.status(),
                    n.kv.applied_index()
                ),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn report(&self, failure: Option<Failure>) -> Report {
        let mut ops = (0, 0, 0);
        for op in &self.work.history {
            match op.outcome {
                Outcome::Ok { .. } => ops.0 += 1,
                Outcome::Failed => ops.1 += 1,
                Outcome::Unknown => ops.2 += 1,
            }
        }
        Report {
            config: self.cfg.clone(),
            steps: self.steps,
            messages: (self.net.sent, self.net.dropped, self.net.duplicated),
            crashes: self.crashes,
            ops,
            decided: self.invariants.decided(),
            failure,
        }
    }
}

/// Runs `seeds` seeds of `protocol` from `first`; returns the reports.
pub fn run_seeds(protocol: Protocol, first: u64, seeds: u64) -> Vec<Report> {
    (first..first + seeds)
        .map(|seed| run(&SimConfig::new(protocol, seed)))
        .collect()
}
