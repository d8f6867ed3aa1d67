//! Multi-Paxos on a node: a shell per hosted role. The service proposes to the node's
//! proposer and hears the learner's applied log; an observer (learner only) forwards to the
//! leader, whom its learner knows from the heartbeats.

use super::{ProtocolHandles, ServiceInbox};
use crate::config::{Config, PaxosRole};
use actix::{Actor, Addr};
use synod_core::{MemoryStorage, Stateless};
use synod_messages::{ActorAddr, NodeId, Role};
use synod_network::Router;
use synod_paxos::{Acceptor, AcceptorState, Learner, LearnerState, PaxosConfig, Proposer};
use synod_runtime::Shell;

pub(crate) fn start(
    cfg: &Config,
    id: NodeId,
    seed: u64,
    router: &Addr<Router>,
    inbox: ServiceInbox,
) -> ProtocolHandles {
    let p = &cfg.paxos;
    let pc = PaxosConfig {
        id,
        proposers: cfg.hosting(PaxosRole::Proposer),
        acceptors: cfg.hosting(PaxosRole::Acceptor),
        learners: cfg.hosting(PaxosRole::Learner),
        election_ticks: (p.election_ticks_min, p.election_ticks_max),
        heartbeat_ticks: p.heartbeat_ticks,
        resend_ticks: p.resend_ticks,
        max_batch: p.max_batch,
        seed,
    };
    let tick = cfg.tick();
    let mut roles = Vec::new();
    if pc.acceptors.contains(&id) {
        Shell::new(
            Acceptor::new(id, AcceptorState::default()),
            ActorAddr::new(id, Role::Acceptor),
            Box::new(MemoryStorage::<AcceptorState>::new()),
            router.clone(),
            tick,
        )
        .start();
        roles.push("acceptor");
    }
    let proposer = pc.proposers.contains(&id).then(|| {
        roles.push("proposer");
        Shell::new(
            Proposer::new(pc.clone()),
            ActorAddr::new(id, Role::Proposer),
            Box::new(MemoryStorage::<Stateless>::new()),
            router.clone(),
            tick,
        )
        .report_roles_to(inbox.roles.clone())
        .start()
    });
    let learner = Shell::new(
        Learner::new(pc, LearnerState::default()),
        ActorAddr::new(id, Role::Learner),
        Box::new(MemoryStorage::<LearnerState>::new()),
        router.clone(),
        tick,
    )
    .apply_to(inbox.apply);
    roles.push("learner");
    match proposer {
        Some(proposer) => {
            learner.start();
            ProtocolHandles {
                propose: proposer.clone().recipient(),
                status: proposer.recipient(),
                roles,
            }
        }
        None => {
            let learner = learner.report_roles_to(inbox.roles).start();
            ProtocolHandles {
                propose: learner.clone().recipient(),
                status: learner.recipient(),
                roles,
            }
        }
    }
}
