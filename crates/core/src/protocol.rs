//! How a protocol plugs in: it says what it is and which roles a node runs, and a host (the
//! actor runtime, the simulator, a test) starts them. Nothing outside the protocol's crate and
//! the one registry names a protocol.
//!
//! ```text
//!   registry ──visit──► P: Protocol ──start(setup, host)──► host.role(spec, build) per role
//!                        NAME, GUARANTEE,                     │
//!                        Section (its config),                ├─ node: a Shell on the network thread
//!                        validate, tick_ms                    └─ simulator / tests: a driven core
//!                        sim_section, invariants ──► what the simulator varies and checks
//! ```

use crate::{Core, Invariants, Proposing, Schema};
use synod_messages::{NodeId, Role, WireMessage};

/// What a protocol promises its clients; the shared suites check what it promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    /// Every operation seems to take effect at one instant between its call and its answer.
    Linearizable,
    /// Replicas converge once the writes stop; a read may be stale.
    Eventual,
}

/// One node of the cluster as the config lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its id.
    pub id: NodeId,
    /// The roles it hosts, by name (`[[nodes]] roles`); `None`: the protocol's default.
    pub roles: Option<Vec<String>>,
}

impl Member {
    /// Whether the member hosts `role`: every role when its config names none.
    pub fn hosts(&self, role: &str) -> bool {
        self.roles
            .as_ref()
            .is_none_or(|roles| roles.iter().any(|r| r == role))
    }
}

/// What a protocol needs to start its roles on one node.
#[derive(Debug, Clone)]
pub struct Setup<'a, T> {
    /// The node being started.
    pub id: NodeId,
    /// Every node of the cluster.
    pub members: &'a [Member],
    /// The seed of the protocol's random choices (election timeouts).
    pub seed: u64,
    /// The protocol's own config section.
    pub section: &'a T,
    /// Most bytes of commands in one message between nodes.
    pub max_batch_bytes: usize,
    /// Bytes of one snapshot chunk sent between nodes.
    pub snapshot_chunk: usize,
}

impl<T> Setup<'_, T> {
    /// The ids of the members that host `role`.
    pub fn hosting(&self, role: &str) -> Vec<NodeId> {
        self.members
            .iter()
            .filter(|m| m.hosts(role))
            .map(|m| m.id)
            .collect()
    }

    /// The ids of every member.
    pub fn ids(&self) -> Vec<NodeId> {
        self.members.iter().map(|m| m.id).collect()
    }
}

/// What a role does on its node besides exchanging messages with other actors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleSpec {
    /// Its address on the node.
    pub role: Role,
    /// The name its durable state is stored under.
    pub state: &'static str,
    /// The node's front role: the KV service reads the node's status (who leads, the epoch)
    /// from it. Exactly one role per node; on a node without a proposing role (a Paxos
    /// observer) the service forwards every command to the leader the front role knows.
    pub front: bool,
    /// A proposing role that gives linearizable read points (ReadIndex, read barrier).
    pub reads: bool,
    /// It compacts its log when the state machine is snapshotted.
    pub compacts: bool,
    /// What it applies (entries, snapshots, read points) goes to the KV service.
    pub applies: bool,
    /// It tells the KV service when the leader, term or role changes.
    pub reports: bool,
}

impl RoleSpec {
    /// A role that only exchanges messages.
    pub const fn new(role: Role, state: &'static str) -> Self {
        Self {
            role,
            state,
            front: false,
            reads: false,
            compacts: false,
            applies: false,
            reports: false,
        }
    }
}

/// Where a protocol's roles run: the actor runtime, the simulator, a test.
pub trait Host {
    /// Why a role could not start (e.g. its stored state is unreadable).
    type Error;
    /// Runs one role: `build` makes its core from its durable state `S`, at start and after
    /// the storage failed and recovered.
    fn role<C, S>(
        &mut self,
        spec: RoleSpec,
        build: impl Fn(S) -> C + Send + 'static,
    ) -> Result<(), Self::Error>
    where
        C: Core + Unpin,
        C::Message: WireMessage,
        C::Persist: Clone,
        S: Schema<Op = C::Persist>;
    /// Runs one role that takes client commands ([`Proposing`]): the node's KV service
    /// proposes to it (and reads through it, with `spec.reads`). One per node at most.
    fn proposing<C, S>(
        &mut self,
        spec: RoleSpec,
        build: impl Fn(S) -> C + Send + 'static,
    ) -> Result<(), Self::Error>
    where
        C: Proposing + Unpin,
        C::Message: WireMessage,
        C::Persist: Clone,
        S: Schema<Op = C::Persist>;
}

/// A worked example a protocol replays on its real cores and prints step by step
/// (`synod scenario NAME`).
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its name on the command line.
    pub name: &'static str,
    /// One line saying what it shows.
    pub title: &'static str,
    /// Runs it, handing each line to print to `out`; `Err` says where it went off script.
    pub run: RunScenario,
}

/// Runs a scenario, handing each line to print to the writer it gets.
pub type RunScenario = fn(out: &mut dyn FnMut(&str)) -> Result<(), String>;

/// A consensus (or not) protocol: what it is, its config section, and how a node runs it.
pub trait Protocol: 'static {
    /// Its name in configs (`protocol = "..."`), in `/v1/status` and in its config section's
    /// title (`[name]`).
    const NAME: &'static str;
    /// What it promises.
    const GUARANTEE: Guarantee;
    /// The roles a node may host (`[[nodes]] roles`), by name.
    const ROLES: &'static [&'static str];
    /// The stored state whose snapshots the service writes ahead.
    const SNAPSHOT_STATE: &'static str;
    /// How many copies of the log since the last snapshot a node's roles keep in memory (the
    /// log budget is shared between them).
    const LOG_COPIES: u64 = 1;
    /// Its config section, `[NAME]`: every field has a default.
    type Section: serde::de::DeserializeOwned + Default + Clone + std::fmt::Debug + Send + 'static;

    /// Checks the section and the members' roles; the message names the field.
    fn validate(section: &Self::Section, members: &[Member]) -> Result<(), String>;
    /// The length of one logical tick, in milliseconds.
    fn tick_ms(section: &Self::Section) -> u64;
    /// Starts the roles node `setup.id` hosts.
    fn start<H: Host>(setup: &Setup<'_, Self::Section>, host: &mut H) -> Result<(), H::Error>;
    /// Its worked examples.
    fn scenarios() -> Vec<Scenario> {
        Vec::new()
    }
    /// The section the simulator runs seed `seed` with: the protocol's knobs (windows,
    /// fanouts, batch counts) varied by seed so that many seeds try each.
    fn sim_section(seed: u64) -> Self::Section {
        let _ = seed;
        Self::Section::default()
    }
    /// Its safety invariants, for a cluster of `voters` voting nodes.
    fn invariants(voters: usize) -> Box<dyn Invariants>;
}

/// Something to do with one protocol, whichever it is (the registry calls it with the one
/// named).
pub trait Visitor {
    /// What it gives back.
    type Output;
    /// Does it with protocol `P`.
    fn visit<P: Protocol>(self) -> Self::Output;
}

/// Checks the timing fields every ticking protocol has; the message names `section.field`.
pub fn check_timing(
    section: &str,
    tick_ms: u64,
    heartbeat: u32,
    min: u32,
    max: u32,
) -> Result<(), String> {
    if tick_ms == 0 {
        return Err(format!("`{section}.tick_ms` must be at least 1"));
    }
    if heartbeat == 0 || min <= heartbeat {
        return Err(format!(
            "`{section}.election_ticks_min` ({min}) must exceed `{section}.heartbeat_ticks` ({heartbeat}), which must be at least 1"
        ));
    }
    if max <= min {
        return Err(format!(
            "`{section}.election_ticks_max` ({max}) must exceed `{section}.election_ticks_min` ({min})"
        ));
    }
    Ok(())
}

/// Refuses role names a protocol does not know, naming the node and the allowed ones.
pub fn check_role_names(
    protocol: &str,
    allowed: &[&str],
    members: &[Member],
) -> Result<(), String> {
    for m in members {
        for role in m.roles.iter().flatten() {
            if !allowed.contains(&role.as_str()) {
                return Err(format!(
                    "`nodes.roles` of node {}: unknown role {role:?} for protocol = {protocol:?} (allowed roles: {})",
                    m.id,
                    allowed
                        .iter()
                        .map(|r| format!("{r:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: NodeId, roles: Option<&[&str]>) -> Member {
        Member {
            id,
            roles: roles.map(|r| r.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn a_member_without_roles_hosts_every_role() {
        assert!(member(1, None).hosts("acceptor"));
        assert!(member(1, Some(&["learner"])).hosts("learner"));
        assert!(!member(1, Some(&["learner"])).hosts("acceptor"));
    }

    #[test]
    fn unknown_roles_and_bad_timing_are_named() {
        let err =
            check_role_names("paxos", &["learner"], &[member(2, Some(&["scribe"]))]).unwrap_err();
        assert!(err.contains("node 2") && err.contains("scribe") && err.contains("\"learner\""));
        assert!(check_timing("raft", 50, 2, 10, 20).is_ok());
        assert!(check_timing("raft", 50, 2, 10, 10)
            .unwrap_err()
            .contains("raft.election_ticks_max"));
        assert!(check_timing("raft", 0, 2, 10, 20)
            .unwrap_err()
            .contains("raft.tick_ms"));
    }
}
