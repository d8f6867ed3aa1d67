//! Raft as a plug-in: its config section `[raft]` and its one role on every node.
//!
//! ```text
//!   [raft] section ──► RaftProtocol::start ──► host.proposing(raft: front, reads, compacts,
//!                                                       applies, reports)
//! ```

use crate::invariants::RaftInvariants;
use crate::{Raft, RaftConfig, RaftState};
use serde::Deserialize;
use synod_core::protocol::{check_role_names, check_timing};
use synod_core::{Guarantee, Host, Invariants, Member, Protocol, RoleSpec, Scenario, Setup};

/// `[raft]`: timing and batching of Raft, in ticks of `tick_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftSection {
    /// Length of one logical tick in milliseconds.
    pub tick_ms: u64,
    /// Election timeouts are drawn from `[election_ticks_min, election_ticks_max)`.
    pub election_ticks_min: u32,
    /// See `election_ticks_min`.
    pub election_ticks_max: u32,
    /// The leader sends heartbeats every this many ticks.
    pub heartbeat_ticks: u32,
    /// Most entries in one AppendEntries.
    pub max_batch: usize,
    /// Most AppendEntries in flight per follower.
    pub max_inflight: usize,
    /// Ask for pre-votes before raising the term (dissertation §9.6).
    pub pre_vote: bool,
}

impl Default for RaftSection {
    fn default() -> Self {
        Self {
            tick_ms: 50,
            election_ticks_min: 10,
            election_ticks_max: 20,
            heartbeat_ticks: 2,
            max_batch: 512,
            max_inflight: 1,
            pre_vote: true,
        }
    }
}

/// Raft: leader, candidate, follower; one actor per node.
#[derive(Debug, Clone, Copy)]
pub struct RaftProtocol;

/// The name Raft's state is stored under.
const STATE: &str = "raft";

impl Protocol for RaftProtocol {
    const NAME: &'static str = "raft";
    const GUARANTEE: Guarantee = Guarantee::Linearizable;
    const ROLES: &'static [&'static str] = &["raft"];
    const SNAPSHOT_STATE: &'static str = STATE;
    type Section = RaftSection;

    fn validate(r: &RaftSection, members: &[Member]) -> Result<(), String> {
        check_timing(
            "raft",
            r.tick_ms,
            r.heartbeat_ticks,
            r.election_ticks_min,
            r.election_ticks_max,
        )?;
        if r.max_batch == 0 || r.max_inflight == 0 {
            return Err("`raft.max_batch` and `raft.max_inflight` must be at least 1".into());
        }
        if let Some(m) = members.iter().find(|m| m.roles.is_some()) {
            check_role_names("raft", Self::ROLES, members)?;
            return Err(format!(
                "`nodes.roles` (node {}) is not for protocol = \"raft\": a Raft node plays one role",
                m.id
            ));
        }
        Ok(())
    }

    fn tick_ms(section: &RaftSection) -> u64 {
        section.tick_ms
    }

    fn start<H: Host>(setup: &Setup<'_, RaftSection>, host: &mut H) -> Result<(), H::Error> {
        let r = setup.section;
        let mut rc = RaftConfig::new(setup.id, setup.ids());
        rc.election_ticks = (r.election_ticks_min, r.election_ticks_max);
        rc.heartbeat_ticks = r.heartbeat_ticks;
        rc.max_batch = r.max_batch;
        rc.max_batch_bytes = setup.max_batch_bytes;
        rc.max_inflight = r.max_inflight;
        rc.pre_vote = r.pre_vote;
        rc.seed = setup.seed;
        rc.snapshot_chunk = setup.snapshot_chunk;
        let spec = RoleSpec {
            front: true,
            reads: true,
            compacts: true,
            applies: true,
            reports: true,
            ..RoleSpec::new(crate::RAFT, STATE)
        };
        host.proposing(spec, move |state: RaftState| Raft::new(rc.clone(), state))
    }

    /// Batches of a few entries (so batching paths run), and windows of 1 to 4 AppendEntries
    /// in flight per follower, by seed.
    fn sim_section(seed: u64) -> RaftSection {
        RaftSection {
            max_batch: 16,
            max_inflight: 1 + (seed % 4) as usize,
            ..RaftSection::default()
        }
    }

    fn scenarios() -> Vec<Scenario> {
        crate::scenario::scenarios()
    }

    fn invariants(_voters: usize) -> Box<dyn Invariants> {
        Box::<RaftInvariants>::default()
    }
}
