//! Raft on a node: one shell around the Raft core.

use super::{ProtocolHandles, ServiceInbox, StartError, Stores};
use crate::config::Config;
use actix::dev::ArbiterHandle;
use actix::Addr;
use synod_messages::{ActorAddr, NodeId, Role};
use synod_network::Router;
use synod_raft::{Raft, RaftConfig, RaftState};
use synod_runtime::Shell;

/// The name Raft's state is stored under.
const STATE: &str = "raft";

pub(crate) fn start(
    cfg: &Config,
    id: NodeId,
    seed: u64,
    router: &Addr<Router>,
    stores: &Stores,
    inbox: ServiceInbox,
    arbiter: &ArbiterHandle,
) -> Result<ProtocolHandles, StartError> {
    let r = &cfg.raft;
    let mut rc = RaftConfig::new(id, cfg.nodes.iter().map(|n| n.id).collect());
    rc.election_ticks = (r.election_ticks_min, r.election_ticks_max);
    rc.heartbeat_ticks = r.heartbeat_ticks;
    rc.max_batch = r.max_batch;
    rc.max_batch_bytes = cfg.max_batch_bytes();
    rc.max_inflight = r.max_inflight;
    rc.pre_vote = r.pre_vote;
    rc.seed = seed;
    rc.snapshot_chunk = cfg.storage.snapshot_chunk_bytes;
    let shell = Shell::recover(
        ActorAddr::new(id, Role::Raft),
        stores.get::<RaftState>(STATE),
        move |state| Raft::new(rc.clone(), state),
        router.clone(),
        cfg.tick(),
    )?
    .apply_to(inbox.apply)
    .report_roles_to(inbox.roles)
    .start_on(arbiter);
    Ok(ProtocolHandles {
        propose: shell.clone().recipient(),
        status: shell.clone().recipient(),
        roles: vec!["raft"],
        compact: vec![shell.clone().recipient()],
        read: Some(shell.clone().recipient()),
        actors: vec![shell.recipient()],
        snapshot_state: STATE,
        log_copies: 1,
    })
}
