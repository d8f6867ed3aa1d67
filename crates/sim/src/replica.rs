//! One simulated node's protocol: the roles a registered protocol starts on it, each a pure
//! core with the memory disk that survives its crashes, driven by the one driver.
//!
//! ```text
//!   registry::visit(protocol) ──► P::start(setup, SimHost) ──► host.role(spec, build)
//!                                                                └► Driven<C, S> { core, disk }
//!   Replica { roles: [Box<dyn SimRole>] } ── deliver / tick / propose / read / compact / drain
//! ```

use std::any::Any;
use std::collections::BTreeMap;
use synod_core::driver::{self, Effects};
use synod_core::{
    Applied, Core, DurableState, Guarantee, Host, Invariants, MemoryStorage, NotLeader, Proposing,
    Protocol as Plugin, RoleSpec, Schema, Setup, Snapshot, Status, Storage, StorageError, Visitor,
};
use synod_messages::{ActorAddr, Command, NodeId, Payload, Role, WireMessage};

/// Which registered protocol the simulated cluster runs, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Protocol(&'static str);

impl Protocol {
    /// The registered protocol called `name`.
    pub fn named(name: &str) -> Option<Self> {
        synod_registry::NAMES
            .iter()
            .find(|n| **n == name)
            .map(|n| Protocol(n))
    }

    /// Every registered protocol.
    pub fn all() -> Vec<Self> {
        synod_registry::NAMES.iter().map(|n| Protocol(n)).collect()
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        self.0
    }

    /// What it promises clients: the end of a run checks it.
    pub fn guarantee(self) -> Guarantee {
        synod_registry::visit(self.0, Promises).unwrap_or(Guarantee::Eventual)
    }

    /// Its safety invariants for `voters` voting nodes.
    pub fn invariants(self, voters: usize) -> Box<dyn Invariants> {
        synod_registry::visit(self.0, MakeInvariants(voters)).unwrap_or_else(|| Box::new(Unchecked))
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        Protocol::named(name).ok_or_else(|| {
            format!(
                "no protocol {name:?} (the protocols are: {})",
                synod_registry::allowed()
            )
        })
    }
}

#[derive(Clone)]
struct Promises;

impl Visitor for Promises {
    type Output = Guarantee;
    fn visit<P: Plugin>(self) -> Guarantee {
        P::GUARANTEE
    }
}

#[derive(Clone)]
struct MakeInvariants(usize);

impl Visitor for MakeInvariants {
    type Output = Box<dyn Invariants>;
    fn visit<P: Plugin>(self) -> Box<dyn Invariants> {
        P::invariants(self.0)
    }
}

/// No invariants (an unregistered name never gets this far: [`Protocol::named`]).
struct Unchecked;

impl Invariants for Unchecked {
    fn observe(&mut self, _: &synod_core::StepView<'_>) -> Result<(), String> {
        Ok(())
    }
    fn decided(&self) -> usize {
        0
    }
}

/// One stored state of a node, whatever its type.
trait Store: Send {
    fn as_any(&self) -> &dyn Any;
    fn snapshot_index(&self) -> u64;
}

impl<S: DurableState> Store for MemoryStorage<S> {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn snapshot_index(&self) -> u64 {
        self.snapshot().snapshot_index()
    }
}

/// What a node persisted, by state name: survives a crash; everything else is lost.
#[derive(Default)]
pub struct Disk {
    stores: BTreeMap<&'static str, Box<dyn Store>>,
}

impl Disk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    /// The position its newest snapshot covers (0 without one).
    pub fn snapshot_index(&self) -> u64 {
        self.stores
            .values()
            .map(|s| s.snapshot_index())
            .max()
            .unwrap_or(0)
    }

    /// The store of state `name`, created empty the first time.
    fn store<S: DurableState>(&mut self, name: &'static str) -> MemoryStorage<S> {
        let store = self
            .stores
            .entry(name)
            .or_insert_with(|| Box::new(MemoryStorage::<S>::new()));
        match store.as_any().downcast_ref::<MemoryStorage<S>>() {
            Some(store) => store.clone(),
            // Two roles storing different states under one name: the protocol's bug; keep them
            // apart rather than mix them.
            None => MemoryStorage::new(),
        }
    }
}

/// Everything a replica did in one step, as the invariants and the network see it.
#[derive(Default)]
pub struct Output {
    /// Messages to send: (from, to, payload).
    pub messages: Vec<(ActorAddr, ActorAddr, Payload)>,
    /// What each role persisted: a `Vec` of its persist ops.
    pub persisted: Vec<(Role, Box<dyn Any>)>,
    /// A state machine image to install first.
    pub snapshot: Option<Snapshot>,
    /// Committed positions to apply.
    pub applied: Vec<Applied>,
    /// Read points confirmed (or refused).
    pub reads: Vec<(u64, Option<u64>)>,
}

/// One role of a simulated node, whatever its core.
trait SimRole {
    fn spec(&self) -> &RoleSpec;
    fn takes_commands(&self) -> bool;
    fn deliver(&mut self, from: ActorAddr, payload: Payload);
    fn tick(&mut self);
    fn propose(&mut self, command: Command) -> Result<(), NotLeader>;
    fn read(&mut self, id: u64) -> Result<(), NotLeader>;
    fn compact(&mut self, snapshot: Snapshot);
    fn status(&self) -> Status;
    /// Drives the core until quiet; true if the process died in a persist.
    fn drain(&mut self, node: NodeId, out: &mut Output, crash_in_persist: bool) -> bool;
    fn core(&self) -> &dyn Any;
}

/// A core and its disk; a proposing role also takes commands and reads.
struct Driven<C, S> {
    spec: RoleSpec,
    core: C,
    disk: MemoryStorage<S>,
    propose: Option<ProposeFn<C>>,
    read: Option<ReadFn<C>>,
}

/// [`Proposing::propose`] of a proposing role's core.
type ProposeFn<C> = fn(&mut C, Vec<Command>) -> Result<(), NotLeader>;
/// [`Proposing::read_index`] of a proposing role's core.
type ReadFn<C> = fn(&mut C, u64) -> Result<(), NotLeader>;

impl<C, S> SimRole for Driven<C, S>
where
    C: Core,
    C::Message: WireMessage,
    C::Persist: Clone,
    S: DurableState<Op = C::Persist>,
{
    fn spec(&self) -> &RoleSpec {
        &self.spec
    }

    fn takes_commands(&self) -> bool {
        self.propose.is_some()
    }

    fn deliver(&mut self, from: ActorAddr, payload: Payload) {
        if let Ok(msg) = payload.into_protocol::<C::Message>() {
            self.core.on_message(from, msg);
        }
    }

    fn tick(&mut self) {
        self.core.on_tick();
    }

    fn propose(&mut self, command: Command) -> Result<(), NotLeader> {
        match self.propose {
            Some(propose) => propose(&mut self.core, vec![command]),
            None => Err(NotLeader {
                leader: self.core.status().leader,
            }),
        }
    }

    fn read(&mut self, id: u64) -> Result<(), NotLeader> {
        match self.read {
            Some(read) => read(&mut self.core, id),
            None => Err(NotLeader {
                leader: self.core.status().leader,
            }),
        }
    }

    fn compact(&mut self, snapshot: Snapshot) {
        self.core.compact(snapshot);
    }

    fn status(&self) -> Status {
        self.core.status()
    }

    fn drain(&mut self, node: NodeId, out: &mut Output, crash_in_persist: bool) -> bool {
        let mut fx = SimEffects {
            from: ActorAddr::new(node, self.spec.role),
            disk: &self.disk,
            out,
            persisted: Vec::new(),
        };
        let mut crashed = false;
        while let Some(step) = driver::begin(&mut self.core, &mut fx) {
            // Dies in its next step, once what may leave before the persist (Raft's eager
            // messages) has left: nothing of the step is written, nothing else leaves.
            if crash_in_persist {
                crashed = true;
                break;
            }
            // The memory backend cannot fail.
            let _ = driver::finish(&mut self.core, &mut fx, step);
        }
        let persisted = std::mem::take(&mut fx.persisted);
        if !persisted.is_empty() {
            out.persisted.push((self.spec.role, Box::new(persisted)));
        }
        crashed
    }

    fn core(&self) -> &dyn Any {
        &self.core
    }
}

/// The simulator's side of the driver: sends go to [`Output::messages`], persists to the
/// node's memory disk (and are kept for the invariants), applied entries to the output.
struct SimEffects<'a, S: DurableState> {
    from: ActorAddr,
    disk: &'a MemoryStorage<S>,
    out: &'a mut Output,
    persisted: Vec<S::Op>,
}

impl<M: WireMessage, S: DurableState> Effects<M, S::Op> for SimEffects<'_, S>
where
    S::Op: Clone,
{
    fn send(&mut self, to: ActorAddr, msg: M) {
        self.out
            .messages
            .push((self.from, to, Payload::protocol(msg)));
    }

    fn persist(&mut self, ops: &[S::Op]) -> Result<(), StorageError> {
        let mut disk = self.disk.clone();
        disk.persist(ops)?;
        self.persisted.extend_from_slice(ops);
        Ok(())
    }

    fn deliver(
        &mut self,
        snapshot: Option<Snapshot>,
        applied: Vec<Applied>,
        reads: Vec<(u64, Option<u64>)>,
    ) {
        self.out.snapshot = snapshot.or(self.out.snapshot.take());
        self.out.applied.extend(applied);
        self.out.reads.extend(reads);
    }
}

/// The protocol cores of one live node, in the order the protocol started them.
pub struct Replica {
    roles: Vec<Box<dyn SimRole>>,
}

/// The bytes of commands per message: a third of the seeds cut batches (and Paxos promises)
/// after a few commands, as large values do in a real cluster.
fn batch_bytes(seed: u64) -> usize {
    if seed.is_multiple_of(3) {
        256
    } else {
        8 << 20
    }
}

/// Bytes per snapshot chunk: small, so that transfers take many chunks; with values padded to
/// `value_bytes` (see [`crate::SimConfig::value_bytes`]) as many chunks as with short values,
/// not a hundred times more.
fn snapshot_chunk(value_bytes: usize) -> usize {
    256 + 4 * value_bytes
}

/// Starts a protocol's roles on a simulated node.
struct StartSim<'a> {
    id: NodeId,
    nodes: &'a [NodeId],
    seed: u64,
    value_bytes: usize,
    disk: &'a mut Disk,
}

impl Visitor for StartSim<'_> {
    type Output = Replica;
    fn visit<P: Plugin>(self) -> Replica {
        let members: Vec<_> = self
            .nodes
            .iter()
            .map(|&id| synod_core::Member { id, roles: None })
            .collect();
        let section = P::sim_section(self.seed);
        let setup = Setup {
            id: self.id,
            members: &members,
            seed: self.seed,
            section: &section,
            max_batch_bytes: batch_bytes(self.seed),
            snapshot_chunk: snapshot_chunk(self.value_bytes),
        };
        let mut host = SimHost {
            disk: self.disk,
            roles: Vec::new(),
        };
        // Starting on memory disks cannot fail.
        let _ = P::start(&setup, &mut host);
        Replica { roles: host.roles }
    }
}

/// Builds each role's core from what its disk holds.
struct SimHost<'a> {
    disk: &'a mut Disk,
    roles: Vec<Box<dyn SimRole>>,
}

impl SimHost<'_> {
    /// Builds a role's core from what its disk holds and keeps it.
    fn push<C, S>(
        &mut self,
        spec: RoleSpec,
        build: impl Fn(S) -> C,
        propose: Option<ProposeFn<C>>,
        read: Option<ReadFn<C>>,
    ) where
        C: Core,
        C::Message: WireMessage,
        C::Persist: Clone,
        S: DurableState<Op = C::Persist>,
    {
        let disk = self.disk.store::<S>(spec.state);
        let core = build(disk.snapshot());
        self.roles.push(Box::new(Driven {
            spec,
            core,
            disk,
            propose,
            read,
        }));
    }
}

impl Host for SimHost<'_> {
    type Error = std::convert::Infallible;

    fn role<C, S>(
        &mut self,
        spec: RoleSpec,
        build: impl Fn(S) -> C + Send + 'static,
    ) -> Result<(), Self::Error>
    where
        C: Core + Unpin,
        C::Message: WireMessage,
        C::Persist: Clone,
        S: Schema<Op = C::Persist>,
    {
        self.push(spec, build, None, None);
        Ok(())
    }

    fn proposing<C, S>(
        &mut self,
        spec: RoleSpec,
        build: impl Fn(S) -> C + Send + 'static,
    ) -> Result<(), Self::Error>
    where
        C: Proposing + Unpin,
        C::Message: WireMessage,
        C::Persist: Clone,
        S: Schema<Op = C::Persist>,
    {
        self.push(spec, build, Some(C::propose), Some(C::read_index));
        Ok(())
    }
}

impl Replica {
    /// Node `id` of `protocol` starting from what `disk` holds (a restart after a crash), for
    /// values of about `value_bytes` (0: short ones).
    pub fn start(
        protocol: Protocol,
        id: NodeId,
        nodes: &[NodeId],
        seed: u64,
        value_bytes: usize,
        disk: &mut Disk,
    ) -> Self {
        let start = StartSim {
            id,
            nodes,
            seed,
            value_bytes,
            disk,
        };
        synod_registry::visit(protocol.name(), start).unwrap_or(Replica { roles: Vec::new() })
    }

    /// A message for one of its roles.
    pub fn deliver(&mut self, from: ActorAddr, to: Role, payload: Payload) {
        if let Some(role) = self.roles.iter_mut().find(|r| r.spec().role == to) {
            role.deliver(from, payload);
        }
    }

    /// One tick of its clock, for every role.
    pub fn tick(&mut self) {
        for role in &mut self.roles {
            role.tick();
        }
    }

    /// A client command, to the role that takes them (the front role refuses it, naming the
    /// leader, on a node without one).
    pub fn propose(&mut self, command: Command) -> Result<(), NotLeader> {
        let proposing = self.roles.iter().position(|r| r.takes_commands());
        let role = proposing.or_else(|| self.roles.iter().position(|r| r.spec().front));
        match role.map(|i| &mut self.roles[i]) {
            Some(front) => front.propose(command),
            None => Err(NotLeader { leader: None }),
        }
    }

    /// A linearizable read point (Raft's ReadIndex, the Paxos leader's read barrier).
    pub fn read(&mut self, id: u64) -> Result<(), NotLeader> {
        match self.roles.iter_mut().find(|r| r.spec().reads) {
            Some(role) => role.read(id),
            None => Err(NotLeader { leader: None }),
        }
    }

    /// The state machine was snapshotted: the roles that compact their logs hear of it.
    pub fn compact(&mut self, snapshot: Snapshot) {
        for role in self.roles.iter_mut().filter(|r| r.spec().compacts) {
            role.compact(snapshot.clone());
        }
    }

    /// The front role's status.
    pub fn status(&self) -> Option<Status> {
        self.roles
            .iter()
            .find(|r| r.spec().front)
            .map(|r| r.status())
    }

    /// Who leads, as far as it knows.
    pub fn leader(&self) -> Option<NodeId> {
        self.status().and_then(|s| s.leader)
    }

    /// Its roles' cores, for the invariants.
    pub fn cores(&self) -> Vec<(Role, &dyn Any)> {
        self.roles
            .iter()
            .map(|r| (r.spec().role, r.core()))
            .collect()
    }

    /// Takes the outputs of every role through the driver, persisting what they asked for on
    /// their disks first. With `crash_in_persist`, the process dies in the first step any role
    /// has: only what may be sent before its persist (Raft's eager messages) leaves, nothing is
    /// written, the other roles' outputs are lost with it, and this returns true.
    pub fn drain(&mut self, id: NodeId, out: &mut Output, crash_in_persist: bool) -> bool {
        for role in &mut self.roles {
            if role.drain(id, out, crash_in_persist) {
                return true;
            }
        }
        false
    }
}

/// A snapshot of `bytes`.
pub fn snapshot(index: u64, bytes: Vec<u8>) -> Snapshot {
    Snapshot {
        index,
        data: bytes::Bytes::from(bytes),
    }
}
