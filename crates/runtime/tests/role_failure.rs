//! A storage failure in any role of a node shows in its status, not only one in the role the
//! service proposes to (a Paxos acceptor or learner stores; the proposer does not).

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use actix::prelude::*;
use std::time::Duration;
use synod_core::{Standing, Status};
use synod_network::{Faults, LocalHub, NetworkConfig, Router};
use synod_runtime::{GetNodeStatus, GetStatus, Service, ServiceConfig, SnapshotPolicy};

/// A role that answers its status, failed or not.
struct Role(Status);

impl Actor for Role {
    type Context = Context<Self>;
}

impl Handler<GetStatus> for Role {
    type Result = MessageResult<GetStatus>;
    fn handle(&mut self, _: GetStatus, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.0.clone())
    }
}

async fn node_role(other_failed: bool) -> &'static str {
    let router = Router::start(
        NetworkConfig::new(1, "roles"),
        Faults::new(1),
        Some(LocalHub::new()),
    )
    .await
    .unwrap();
    let front = Role(common::status(Standing::Leader, 1, 1)).start();
    let mut other = common::status(Standing::Acceptor, 1, 1);
    other.storage_failed = other_failed;
    let other = Role(other).start();
    let cfg = ServiceConfig {
        node: 1,
        request_timeout: Duration::from_secs(1),
        max_forward_bytes: 1 << 20,
        retry_interval: Duration::from_millis(5),
        resend_after: Duration::from_millis(100),
        roles: Vec::new(),
        snapshot: SnapshotPolicy {
            every: 0,
            max_log_bytes: 0,
            keys_per_step: 1,
        },
    };
    let service = Service::new(cfg, router, None, front.clone().recipient())
        .watch_roles(vec![front.recipient(), other.recipient()])
        .start();
    service.send(GetNodeStatus).await.unwrap().unwrap().role
}

#[actix_rt::test]
async fn a_failed_acceptor_makes_the_node_report_failed() {
    assert_eq!(node_role(false).await, "leader");
    assert_eq!(node_role(true).await, "failed");
}
