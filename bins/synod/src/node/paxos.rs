//! Multi-Paxos on a node: a shell per hosted role. The service proposes to the node's
//! proposer and hears the learner's applied log; an observer (learner only) forwards to the
//! leader, whom its learner knows from the heartbeats.

use super::{ProtocolHandles, ServiceInbox, StartError, Stores};
use crate::config::{Config, PaxosRole};
use actix::dev::ArbiterHandle;
use actix::Addr;
use synod_core::Stateless;
use synod_messages::{ActorAddr, NodeId, Role};
use synod_network::Router;
use synod_paxos::{Acceptor, AcceptorState, Learner, LearnerState, PaxosConfig, Proposer};
use synod_runtime::Shell;

/// The name the learner's state (which holds the snapshots) is stored under.
const LEARNER_STATE: &str = "learner";

pub(crate) fn start(
    cfg: &Config,
    id: NodeId,
    seed: u64,
    router: &Addr<Router>,
    stores: &Stores,
    inbox: ServiceInbox,
    arbiter: &ArbiterHandle,
) -> Result<ProtocolHandles, StartError> {
    let p = &cfg.paxos;
    let max_batch_bytes = cfg.max_batch_bytes();
    let pc = PaxosConfig {
        id,
        proposers: cfg.hosting(PaxosRole::Proposer),
        acceptors: cfg.hosting(PaxosRole::Acceptor),
        learners: cfg.hosting(PaxosRole::Learner),
        election_ticks: (p.election_ticks_min, p.election_ticks_max),
        heartbeat_ticks: p.heartbeat_ticks,
        resend_ticks: p.resend_ticks,
        max_batch: p.max_batch,
        max_batch_bytes,
        max_inflight: p.max_inflight,
        spare_acceptors: p.spare_acceptors,
        seed,
        snapshot_chunk: cfg.storage.snapshot_chunk_bytes,
    };
    let tick = cfg.tick();
    let addr = |role| ActorAddr::new(id, role);
    let mut roles = Vec::new();
    let mut actors = Vec::new();
    let mut compact = Vec::new();

    if pc.acceptors.contains(&id) {
        let acceptor = Shell::recover(
            addr(Role::Acceptor),
            stores.get::<AcceptorState>("acceptor"),
            move |state| Acceptor::new(id, state).with_max_batch_bytes(max_batch_bytes),
            router.clone(),
            tick,
        )?
        .start_on(arbiter);
        roles.push("acceptor");
        // No compaction from the service: the acceptor forgets votes when its learner's
        // snapshot is durable (`Snapshotted`).
        actors.push(acceptor.recipient());
    }
    let proposer = if pc.proposers.contains(&id) {
        let config = pc.clone();
        let proposer = Shell::recover(
            addr(Role::Proposer),
            stores.get::<Stateless>("proposer"),
            move |_| Proposer::new(config.clone()),
            router.clone(),
            tick,
        )?
        .report_roles_to(inbox.roles.clone())
        .apply_to(inbox.apply.clone())
        .start_on(arbiter);
        roles.push("proposer");
        actors.push(proposer.clone().recipient());
        Some(proposer)
    } else {
        None
    };
    let learner = Shell::recover(
        addr(Role::Learner),
        stores.get::<LearnerState>(LEARNER_STATE),
        move |state| Learner::new(pc.clone(), state),
        router.clone(),
        tick,
    )?
    .apply_to(inbox.apply);
    roles.push("learner");
    let read = proposer.as_ref().map(|p| p.clone().recipient());
    let (propose, status) = match proposer {
        Some(proposer) => {
            let learner = learner.start_on(arbiter);
            compact.push(learner.clone().recipient());
            actors.push(learner.recipient());
            (proposer.clone().recipient(), proposer.recipient())
        }
        None => {
            // An observer: the learner answers proposals with the leader it knows.
            let learner = learner.report_roles_to(inbox.roles).start_on(arbiter);
            compact.push(learner.clone().recipient());
            actors.push(learner.clone().recipient());
            (learner.clone().recipient(), learner.recipient())
        }
    };
    Ok(ProtocolHandles {
        propose,
        status,
        roles,
        actors,
        compact,
        read,
        snapshot_state: LEARNER_STATE,
        // The acceptor's votes and the learner's chosen values.
        log_copies: 2,
    })
}
