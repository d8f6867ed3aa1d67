//! Shared by the service tests: node 1's service in front of a stub protocol core.

#![allow(dead_code)]

use actix::prelude::*;
use std::convert::Infallible;
use std::time::Duration;
use synod_core::{MemoryStorage, Proposing, Stateless};
use synod_messages::raft::RaftMessage;
use synod_messages::{ActorAddr, Role};
use synod_network::{Register, Router};
use synod_runtime::{GetStatus, Propose, Service, ServiceConfig, Shell, SnapshotPolicy};

/// Node 1's service, registered with `router`, in front of the core `build` makes (its shell
/// applies to the service and reports roles to it), sending forwards again after
/// `resend_after`. Returns once the service has had time to learn who leads.
pub async fn service_in_front_of<C>(
    router: &Addr<Router>,
    build: impl Fn(Stateless) -> C + Send + 'static,
    resend_after: Duration,
) -> Addr<Service>
where
    C: Proposing<Message = RaftMessage, Persist = Infallible> + Unpin + 'static,
{
    let service_ctx = Context::<Service>::new();
    let shell = Shell::recover(
        ActorAddr::new(1, Role::named("raft")),
        Box::new(MemoryStorage::<Stateless>::new()),
        build,
        router.clone(),
        Duration::from_millis(5),
    )
    .expect("a memory store loads")
    .apply_to(service_ctx.address().recipient())
    .report_roles_to(service_ctx.address().recipient())
    .start();
    let service = start_service(
        router,
        Some(shell.clone().recipient()),
        shell.recipient(),
        resend_after,
        service_ctx,
    );
    actix_rt::time::sleep(Duration::from_millis(50)).await; // the service learns who leads
    service
}

/// Node 1's service on `ctx`, registered with `router`, proposing to `protocol` and asking
/// `status` who leads, sending forwards again after `resend_after`.
pub fn start_service(
    router: &Addr<Router>,
    protocol: Option<Recipient<Propose>>,
    status: Recipient<GetStatus>,
    resend_after: Duration,
    ctx: Context<Service>,
) -> Addr<Service> {
    let cfg = ServiceConfig {
        node: 1,
        request_timeout: Duration::from_secs(5),
        max_forward_bytes: 1 << 20,
        retry_interval: Duration::from_millis(5),
        resend_after,
        roles: vec![Role::named("raft")],
        snapshot: SnapshotPolicy {
            every: 0,
            max_log_bytes: 0,
            keys_per_step: 1,
        },
    };
    let service = ctx.run(Service::new(cfg, router.clone(), protocol, status));
    router.do_send(Register {
        role: Role::SERVICE,
        recipient: service.clone().recipient(),
    });
    service
}

/// A stub protocol's status: standing `standing` in `epoch`, following `leader`.
pub fn status(standing: synod_core::Standing, epoch: u64, leader: u64) -> synod_core::Status {
    synod_core::Status {
        protocol: "stub",
        standing,
        epoch,
        leader: Some(leader),
        commit_index: 0,
        last_index: 0,
        ballot: None,
        writes_to: Vec::new(),
        storage_failed: false,
    }
}

/// Sends `service` a client request for `op` without waiting for its answer.
pub fn request_in_background(service: &Addr<Service>, op: synod_messages::KvOp) {
    let request = service.send(synod_runtime::ClientRequest {
        op,
        id: None,
        consistency: synod_runtime::Consistency::Linearizable,
        held: None,
    });
    actix_rt::spawn(async move {
        let _ = request.await;
    });
}
