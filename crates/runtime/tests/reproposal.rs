//! The service hands a command to its own leading protocol once per term: proposing it again
//! while the term lasts only puts it in the log twice. The same holds for a command another
//! node forwards again. A pending command keeps its share of the node's body budget.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use actix::prelude::*;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use synod_core::{Core, NotLeader, Proposing, Ready, Status};
use synod_messages::raft::RaftMessage;
use synod_messages::service::ServiceMessage;
use synod_messages::{ActorAddr, Command, KvOp, Role};
use synod_messages::{Envelope, Payload, RequestId};
use synod_network::{Faults, LocalHub, NetworkConfig, Register, Router, Send};
use synod_runtime::{ClientRequest, Consistency, Service};

/// A core that leads in term `term`, takes every proposal (but refuses the first `refuse`)
/// and never commits one.
struct SlowLeader {
    proposals: Arc<AtomicU64>,
    term: Arc<AtomicU64>,
    refuse: Arc<AtomicU64>,
}

impl Core for SlowLeader {
    type Message = RaftMessage;
    type Persist = Infallible;

    fn on_message(&mut self, _: ActorAddr, _: RaftMessage) {}
    fn on_tick(&mut self) {}
    fn take_ready(&mut self) -> Ready<RaftMessage, Infallible> {
        Ready::default()
    }
    fn status(&self) -> Status {
        common::status(
            synod_core::Standing::Leader,
            self.term.load(Ordering::SeqCst),
            1,
        )
    }
}

impl Proposing for SlowLeader {
    fn propose(&mut self, commands: Vec<Command>) -> Result<(), NotLeader> {
        if self.refuse.load(Ordering::SeqCst) > 0 {
            self.refuse.fetch_sub(1, Ordering::SeqCst);
            return Err(NotLeader { leader: None });
        }
        self.proposals
            .fetch_add(commands.len() as u64, Ordering::SeqCst);
        Ok(())
    }
    fn read_index(&mut self, _: u64) -> Result<(), NotLeader> {
        Err(NotLeader { leader: None })
    }
    fn writes_to(&self) -> Vec<(synod_messages::NodeId, u64)> {
        Vec::new()
    }
}

/// Counts the commands said `Taken` to the service it stands for.
struct TakenCounter(Arc<AtomicU64>);

impl Actor for TakenCounter {
    type Context = Context<Self>;
}

impl Handler<synod_network::Deliver> for TakenCounter {
    type Result = ();

    fn handle(&mut self, msg: synod_network::Deliver, _: &mut Context<Self>) {
        if let Payload::Service(ServiceMessage::Taken { ids, term: 1 }) = msg.0.payload {
            self.0.fetch_add(ids.len() as u64, Ordering::SeqCst);
        }
    }
}

/// A service in front of a [`SlowLeader`] whose first `refuse` proposals are refused, a
/// client request sent to it; returns the proposal count and the term to change.
async fn slow_leader(refuse: u64) -> (Arc<AtomicU64>, Arc<AtomicU64>) {
    let (service, _, proposals, term) = start_slow_leader(refuse).await;
    common::request_in_background(&service, KvOp::Delete { key: "k".into() });
    (proposals, term)
}

/// A service (registered with its router) in front of a [`SlowLeader`] whose first `refuse`
/// proposals are refused; with the proposal count and the term to change.
async fn start_slow_leader(
    refuse: u64,
) -> (Addr<Service>, Addr<Router>, Arc<AtomicU64>, Arc<AtomicU64>) {
    start_slow_leader_on(refuse, LocalHub::new()).await
}

/// [`start_slow_leader`] on `hub`, where other nodes' routers may be.
async fn start_slow_leader_on(
    refuse: u64,
    hub: LocalHub,
) -> (Addr<Service>, Addr<Router>, Arc<AtomicU64>, Arc<AtomicU64>) {
    let router = Router::start(NetworkConfig::new(1, "slow"), Faults::new(1), Some(hub))
        .await
        .unwrap();
    let (proposals, term) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(1)));
    let core = (
        proposals.clone(),
        term.clone(),
        Arc::new(AtomicU64::new(refuse)),
    );
    let service = common::service_in_front_of(
        &router,
        move |_| SlowLeader {
            proposals: core.0.clone(),
            term: core.1.clone(),
            refuse: core.2.clone(),
        },
        Duration::from_millis(20),
    )
    .await;
    (service, router, proposals, term)
}

/// Review finding: a command not applied within `resend_after` (a quarter of the request
/// timeout) was proposed again to this node's own leading protocol, and again at every
/// `resend_after`: under a load of large values (commits taking seconds) the log carried each
/// command several times, which slowed the commits further.
#[actix_rt::test]
async fn a_command_goes_to_the_local_leader_once_per_term() {
    let (proposals, term) = slow_leader(0).await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        proposals.load(Ordering::SeqCst),
        1,
        "15 resend periods, one proposal"
    );
    // A new term: what the last one took may be gone, so it goes again, once.
    term.store(2, Ordering::SeqCst);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(proposals.load(Ordering::SeqCst), 2);
}

/// Review finding: a refusal (`NotLeader`) older than the last leadership report made the
/// service forget who leads; a leader that stays leader reports nothing more, so this node's
/// clients got no leader until leadership changed. The service now asks the protocol.
#[actix_rt::test]
async fn a_stale_refusal_does_not_make_the_service_forget_its_leader() {
    let (proposals, _) = slow_leader(1).await;
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        proposals.load(Ordering::SeqCst),
        1,
        "proposed again after the refusal"
    );
}

/// Review finding: a follower forwards a command again when it is not applied within
/// `resend_after` (the message may have been lost), and the leader proposed every copy: under
/// a load of large values the log carried each command several times. The leader's service
/// now proposes a forwarded command once per term until it is applied.
#[actix_rt::test]
async fn a_command_forwarded_again_goes_to_the_protocol_once_per_term() {
    let hub = LocalHub::new();
    let (_, router, proposals, term) = start_slow_leader_on(0, hub.clone()).await;
    // Node 2, the forwarding node, counts the commands the leader says it took.
    let taken = Arc::new(AtomicU64::new(0));
    let node2 = Router::start(NetworkConfig::new(2, "slow"), Faults::new(1), Some(hub))
        .await
        .unwrap();
    node2.do_send(Register {
        role: Role::SERVICE,
        recipient: TakenCounter(taken.clone()).start().recipient(),
    });
    let forward = |seq| {
        Send(Envelope {
            from: ActorAddr::new(2, Role::SERVICE),
            to: ActorAddr::new(1, Role::SERVICE),
            payload: Payload::Service(ServiceMessage::Forward {
                commands: vec![Command {
                    id: RequestId { client: 9, seq },
                    op: KvOp::Delete { key: "k".into() },
                }],
            }),
        })
    };
    for _ in 0..5 {
        router.do_send(forward(1));
        actix_rt::time::sleep(Duration::from_millis(30)).await;
    }
    assert_eq!(
        proposals.load(Ordering::SeqCst),
        1,
        "five copies, one proposal"
    );
    assert_eq!(
        taken.load(Ordering::SeqCst),
        5,
        "every copy is answered Taken, the first once proposed, the others at once"
    );
    router.do_send(forward(2));
    actix_rt::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(proposals.load(Ordering::SeqCst), 2, "another command goes");
    // A new term: what the last one took may be gone, so a copy forwarded again goes again.
    term.store(2, Ordering::SeqCst);
    actix_rt::time::sleep(Duration::from_millis(100)).await;
    router.do_send(forward(1));
    actix_rt::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(proposals.load(Ordering::SeqCst), 3);
}

/// Review finding: a request body's share of the node's budget was given back when the HTTP
/// handler ended, also when the client went away while its command was still pending: clients
/// that send a body and hang up could make a node hold any number of commands. The share now
/// stays with the pending command.
#[actix_rt::test]
async fn a_pending_command_keeps_its_share_of_the_body_budget_after_its_client_left() {
    let (service, _, _, _) = start_slow_leader(0).await;
    let admission = synod_runtime::admission::Admission::new(1000);
    let mut held = admission.reserve();
    held.grow(100).unwrap();
    // Sent and not waited for: the client is gone.
    service.do_send(ClientRequest {
        op: KvOp::Put {
            key: "k".into(),
            value: vec![0; 100],
        },
        id: None,
        consistency: Consistency::Linearizable,
        held: Some(held),
    });
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        admission.held(),
        100,
        "the command is pending (never committed)"
    );
}
