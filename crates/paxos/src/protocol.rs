//! Multi-Paxos as a plug-in: its config section `[paxos]` and the roles a node hosts.
//!
//! ```text
//!   [paxos] section, [[nodes]] roles ──► PaxosProtocol::start ──► host.role(acceptor)
//!                                                               host.proposing(proposer: front, reads)
//!                                                               host.role(learner: applies, compacts;
//!                                                                         front on an observer)
//! ```

use crate::invariants::PaxosInvariants;
use crate::{Acceptor, AcceptorState, Learner, LearnerState, PaxosConfig, Proposer};
use serde::Deserialize;
use synod_core::protocol::{check_role_names, check_timing};
use synod_core::{
    Guarantee, Host, Invariants, Member, Protocol, RoleSpec, Scenario, Setup, Stateless,
};

/// `[paxos]`: timing and batching of Multi-Paxos, in ticks of `tick_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaxosSection {
    /// Length of one logical tick in milliseconds.
    pub tick_ms: u64,
    /// A follower proposer starts phase 1 after `[election_ticks_min, election_ticks_max)`
    /// ticks without hearing from the leader.
    pub election_ticks_min: u32,
    /// See `election_ticks_min`.
    pub election_ticks_max: u32,
    /// The leader sends heartbeats every this many ticks.
    pub heartbeat_ticks: u32,
    /// An Accept not chosen after this many ticks is resent to every acceptor.
    pub resend_ticks: u32,
    /// Most slots in one Accept or Chosen message.
    pub max_batch: usize,
    /// Most unanswered Accept messages per acceptor; slots proposed meanwhile go in its next.
    pub max_inflight: usize,
    /// Acceptors the leader sends its Accepts to beyond a majority; the others' learners get
    /// the chosen values (0: thrifty; the acceptors beyond a majority, 2 of 5, or more: all).
    pub spare_acceptors: usize,
}

impl Default for PaxosSection {
    fn default() -> Self {
        Self {
            tick_ms: 50,
            election_ticks_min: 10,
            election_ticks_max: 20,
            heartbeat_ticks: 2,
            resend_ticks: 6,
            max_batch: 512,
            max_inflight: 1,
            spare_acceptors: 1,
        }
    }
}

/// Multi-Paxos: a proposer, an acceptor and a learner per node unless `[[nodes]] roles`
/// narrows it (`["learner"]`: an observer that applies and serves but does not vote).
#[derive(Debug, Clone, Copy)]
pub struct PaxosProtocol;

const PROPOSER: &str = "proposer";
const ACCEPTOR: &str = "acceptor";
const LEARNER: &str = "learner";

impl Protocol for PaxosProtocol {
    const NAME: &'static str = "paxos";
    const GUARANTEE: Guarantee = Guarantee::Linearizable;
    const ROLES: &'static [&'static str] = &[PROPOSER, ACCEPTOR, LEARNER];
    /// The learner's state holds the snapshots.
    const SNAPSHOT_STATE: &'static str = LEARNER;
    /// The acceptor's votes and the learner's chosen values.
    const LOG_COPIES: u64 = 2;
    type Section = PaxosSection;

    fn validate(p: &PaxosSection, members: &[Member]) -> Result<(), String> {
        check_timing(
            "paxos",
            p.tick_ms,
            p.heartbeat_ticks,
            p.election_ticks_min,
            p.election_ticks_max,
        )?;
        if p.max_batch == 0 || p.resend_ticks == 0 || p.max_inflight == 0 {
            return Err(
                "`paxos.max_batch`, `paxos.resend_ticks` and `paxos.max_inflight` must be at least 1"
                    .into(),
            );
        }
        check_role_names("paxos", Self::ROLES, members)?;
        if let Some(m) = members.iter().find(|m| !m.hosts(LEARNER)) {
            return Err(format!(
                "`nodes.roles` of node {} must include \"learner\": the learner feeds the node's KV store (allowed roles: \"proposer\", \"acceptor\", \"learner\")",
                m.id
            ));
        }
        for role in [PROPOSER, ACCEPTOR] {
            if !members.iter().any(|m| m.hosts(role)) {
                return Err(format!(
                    "`nodes.roles`: no node hosts a {role}; at least one must"
                ));
            }
        }
        Ok(())
    }

    fn tick_ms(section: &PaxosSection) -> u64 {
        section.tick_ms
    }

    fn start<H: Host>(setup: &Setup<'_, PaxosSection>, host: &mut H) -> Result<(), H::Error> {
        let p = setup.section;
        let id = setup.id;
        let max_batch_bytes = setup.max_batch_bytes;
        let pc = PaxosConfig {
            id,
            proposers: setup.hosting(PROPOSER),
            acceptors: setup.hosting(ACCEPTOR),
            learners: setup.hosting(LEARNER),
            election_ticks: (p.election_ticks_min, p.election_ticks_max),
            heartbeat_ticks: p.heartbeat_ticks,
            resend_ticks: p.resend_ticks,
            max_batch: p.max_batch,
            max_batch_bytes,
            max_inflight: p.max_inflight,
            spare_acceptors: p.spare_acceptors,
            seed: setup.seed,
            snapshot_chunk: setup.snapshot_chunk,
        };
        if pc.acceptors.contains(&id) {
            // No compaction from the service: the acceptor forgets votes when its learner's
            // snapshot is durable (`Snapshotted`).
            host.role(
                RoleSpec::new(crate::ACCEPTOR, ACCEPTOR),
                move |state: AcceptorState| {
                    Acceptor::new(id, state).with_max_batch_bytes(max_batch_bytes)
                },
            )?;
        }
        let proposes = pc.proposers.contains(&id);
        if proposes {
            let config = pc.clone();
            let spec = RoleSpec {
                front: true,
                reads: true,
                applies: true,
                reports: true,
                ..RoleSpec::new(crate::PROPOSER, PROPOSER)
            };
            host.proposing(spec, move |_: Stateless| Proposer::new(config.clone()))?;
        }
        // On an observer (no proposer) the learner is the front: the service reads the leader
        // it knows from the heartbeats and forwards every command there.
        let spec = RoleSpec {
            front: !proposes,
            reports: !proposes,
            applies: true,
            compacts: true,
            ..RoleSpec::new(crate::LEARNER, LEARNER)
        };
        host.role(spec, move |state: LearnerState| {
            Learner::new(pc.clone(), state)
        })
    }

    fn scenarios() -> Vec<Scenario> {
        crate::scenario::scenarios()
    }

    /// Batches of a few slots, windows of 1 to 4 Accepts per acceptor, and 0 (thrifty), 1 or
    /// 2 spare acceptors, by seed.
    fn sim_section(seed: u64) -> PaxosSection {
        PaxosSection {
            max_batch: 16,
            max_inflight: 1 + (seed % 4) as usize,
            spare_acceptors: ((seed / 7) % 3) as usize,
            ..PaxosSection::default()
        }
    }

    fn invariants(voters: usize) -> Box<dyn Invariants> {
        Box::new(PaxosInvariants::new(voters))
    }
}
