//! Raft on a node: one shell around the Raft core.

use super::{ProtocolHandles, ServiceInbox};
use crate::config::Config;
use actix::{Actor, Addr};
use synod_core::MemoryStorage;
use synod_messages::{ActorAddr, NodeId, Role};
use synod_network::Router;
use synod_raft::{Raft, RaftConfig, RaftState};
use synod_runtime::Shell;

pub(crate) fn start(
    cfg: &Config,
    id: NodeId,
    seed: u64,
    router: &Addr<Router>,
    inbox: ServiceInbox,
) -> ProtocolHandles {
    let r = &cfg.raft;
    let mut rc = RaftConfig::new(id, cfg.nodes.iter().map(|n| n.id).collect());
    rc.election_ticks = (r.election_ticks_min, r.election_ticks_max);
    rc.heartbeat_ticks = r.heartbeat_ticks;
    rc.max_batch = r.max_batch;
    rc.max_inflight = r.max_inflight;
    rc.seed = seed;
    let storage = MemoryStorage::<RaftState>::new();
    let shell = Shell::new(
        Raft::new(rc, RaftState::default()),
        ActorAddr::new(id, Role::Raft),
        Box::new(storage),
        router.clone(),
        cfg.tick(),
    )
    .apply_to(inbox.apply)
    .report_roles_to(inbox.roles)
    .start();
    ProtocolHandles {
        propose: shell.clone().recipient(),
        status: shell.recipient(),
        roles: vec!["raft"],
    }
}
