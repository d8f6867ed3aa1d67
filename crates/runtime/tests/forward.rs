//! A follower forwards its clients' commands to the leader's service and sends them again
//! when no result comes within `resend_after` (the message may have been lost), but not once
//! the leader said its protocol took them (`Taken`) in the term the follower sees, unless that
//! term changes or a snapshot replaces the follower's store.

#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use actix::prelude::*;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use synod_core::{Core, NotLeader, Proposing, Ready, Snapshot, Status};
use synod_kv::KvStore;
use synod_messages::raft::RaftMessage;
use synod_messages::service::ServiceMessage;
use synod_messages::RequestId;
use synod_messages::{ActorAddr, Command, Envelope, KvOp, Payload, Role};
use synod_network::{Deliver, Faults, LocalHub, NetworkConfig, Register, Router, Send};
use synod_runtime::{ApplyBatch, Service};

/// A core that follows node 2 in the term it is given and never commits anything.
struct Follower(Arc<AtomicU64>);

impl Core for Follower {
    type Message = RaftMessage;
    type Persist = Infallible;

    fn on_message(&mut self, _: ActorAddr, _: RaftMessage) {}
    fn on_tick(&mut self) {}
    fn take_ready(&mut self) -> Ready<RaftMessage, Infallible> {
        Ready::default()
    }
    fn status(&self) -> Status {
        common::status(
            synod_core::Standing::Follower,
            self.0.load(Ordering::SeqCst),
            2,
        )
    }
}

impl Proposing for Follower {
    fn propose(&mut self, _: Vec<Command>) -> Result<(), NotLeader> {
        Err(NotLeader { leader: Some(2) })
    }
    fn read_index(&mut self, _: u64) -> Result<(), NotLeader> {
        Err(NotLeader { leader: None })
    }
    fn writes_to(&self) -> Vec<(synod_messages::NodeId, u64)> {
        Vec::new()
    }
}

/// Node 2's service: counts the commands forwarded to it and, if `answer`, says each one was
/// taken in term 1.
struct Leader {
    forwarded: Arc<AtomicU64>,
    answer: Arc<AtomicBool>,
    router: Addr<Router>,
}

impl Actor for Leader {
    type Context = Context<Self>;
}

impl Handler<Deliver> for Leader {
    type Result = ();

    fn handle(&mut self, Deliver(envelope): Deliver, _: &mut Context<Self>) {
        let Payload::Service(ServiceMessage::Forward { commands }) = envelope.payload else {
            return;
        };
        self.forwarded
            .fetch_add(commands.len() as u64, Ordering::SeqCst);
        if self.answer.load(Ordering::SeqCst) {
            let ids = commands.iter().map(|c| c.id).collect();
            self.router.do_send(Send(Envelope {
                from: envelope.to,
                to: envelope.from,
                payload: Payload::Service(ServiceMessage::Taken { ids, term: 1 }),
            }));
        }
    }
}

/// What a test holds of the two nodes.
struct Nodes {
    /// Commands node 2 received.
    forwarded: Arc<AtomicU64>,
    /// The term node 1's protocol reports.
    term: Arc<AtomicU64>,
    /// Node 1's service.
    service: Addr<Service>,
}

/// A router for `node` on `hub`.
async fn on_hub(hub: &LocalHub, node: u64) -> Addr<Router> {
    Router::start(
        NetworkConfig::new(node, "fwd"),
        Faults::new(1),
        Some(hub.clone()),
    )
    .await
    .unwrap()
}

/// Node 1's service in front of a [`Follower`] in term 1, node 2's a [`Leader`]; a client
/// request sent to node 1, and 300 ms for it to be forwarded.
async fn forward_one(answer: bool) -> Nodes {
    let hub = LocalHub::new();
    let router = |node| on_hub(&hub, node);
    let (router1, router2) = (router(1).await, router(2).await);
    let forwarded = Arc::new(AtomicU64::new(0));
    let leader = Leader {
        forwarded: forwarded.clone(),
        answer: Arc::new(AtomicBool::new(answer)),
        router: router2.clone(),
    }
    .start();
    router2.do_send(Register {
        role: Role::SERVICE,
        recipient: leader.recipient(),
    });
    let term = Arc::new(AtomicU64::new(1));
    let core_term = term.clone();
    let service = common::service_in_front_of(
        &router1,
        move |_| Follower(core_term.clone()),
        Duration::from_millis(40),
    )
    .await;
    let op = KvOp::Put {
        key: "k".into(),
        value: vec![7; 100_000],
    };
    common::request_in_background(&service, op);
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    Nodes {
        forwarded,
        term,
        service,
    }
}

/// Review of what breaks at scale: a command not applied within `resend_after` went to the
/// leader again at every `resend_after`, its value with it, so under a load of large values
/// (commits taking seconds) the followers sent each value several times.
#[actix_rt::test]
async fn a_command_the_leader_took_is_not_forwarded_again_in_that_term() {
    let unanswered = forward_one(false).await.forwarded.load(Ordering::SeqCst);
    assert!(
        unanswered >= 4,
        "without an answer the command goes again every 40 ms: {unanswered} copies in 300 ms"
    );
    let nodes = forward_one(true).await;
    assert_eq!(
        nodes.forwarded.load(Ordering::SeqCst),
        1,
        "taken in the term the follower sees: sent once"
    );
    // A new term: what the last one took may be gone, so it goes again.
    nodes.term.store(2, Ordering::SeqCst);
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    assert!(nodes.forwarded.load(Ordering::SeqCst) >= 2);
}

/// Review finding: a command the leader took and committed may reach a lagging follower inside
/// a snapshot, which does not show it one by one; with the resend suppressed the client waited
/// for its timeout. After a snapshot the command goes again (its copy's apply answers it).
#[actix_rt::test]
async fn a_command_taken_goes_again_once_a_snapshot_replaced_the_store() {
    let nodes = forward_one(true).await;
    assert_eq!(nodes.forwarded.load(Ordering::SeqCst), 1);
    let mut kv = KvStore::new();
    let other = Command {
        id: RequestId { client: 5, seq: 1 },
        op: KvOp::Delete { key: "x".into() },
    };
    kv.apply(1, &other);
    nodes.service.do_send(ApplyBatch {
        snapshot: Some(Snapshot {
            index: 1,
            data: kv.snapshot().unwrap().into(),
        }),
        entries: Vec::new(),
        reads: Vec::new(),
    });
    actix_rt::time::sleep(Duration::from_millis(200)).await;
    assert!(
        nodes.forwarded.load(Ordering::SeqCst) >= 2,
        "sent again after the snapshot"
    );
}

/// A protocol that refuses every proposal and answers who leads late, with what was true
/// before: node 2, in term 1.
struct StaleProtocol;

impl Actor for StaleProtocol {
    type Context = Context<Self>;
}

impl Handler<synod_runtime::Propose> for StaleProtocol {
    type Result = Result<(), NotLeader>;

    fn handle(&mut self, _: synod_runtime::Propose, _: &mut Context<Self>) -> Self::Result {
        Err(NotLeader { leader: None })
    }
}

impl Handler<synod_runtime::GetStatus> for StaleProtocol {
    type Result = ResponseFuture<Status>;

    fn handle(&mut self, _: synod_runtime::GetStatus, _: &mut Context<Self>) -> Self::Result {
        Box::pin(async {
            actix_rt::time::sleep(Duration::from_millis(100)).await;
            common::status(synod_core::Standing::Follower, 1, 2)
        })
    }
}

/// Counts what reaches the service it stands for.
struct Count(Arc<AtomicU64>);

impl Actor for Count {
    type Context = Context<Self>;
}

impl Handler<Deliver> for Count {
    type Result = ();

    fn handle(&mut self, _: Deliver, _: &mut Context<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Review finding: after a refusal the service asks its protocol who leads, and an answer
/// that arrived after a newer leadership report rolled the service's view back to the older
/// leader and term (and a command that leader answered `Taken` for would then wait).
#[actix_rt::test]
async fn an_answer_about_an_older_term_does_not_roll_back_who_leads() {
    let hub = LocalHub::new();
    let router = |node| on_hub(&hub, node);
    let router1 = router(1).await;
    let mut heard = Vec::new();
    let mut others = Vec::new();
    for node in [2, 3] {
        let count = Arc::new(AtomicU64::new(0));
        let r = router(node).await;
        r.do_send(Register {
            role: Role::SERVICE,
            recipient: Count(count.clone()).start().recipient(),
        });
        heard.push(count);
        others.push(r);
    }
    let protocol = StaleProtocol.start();
    let service = common::start_service(
        &router1,
        Some(protocol.clone().recipient()),
        protocol.recipient(),
        Duration::from_millis(40),
        Context::new(),
    );
    let status =
        |role, term, leader| synod_runtime::RoleChanged(common::status(role, term, leader));
    service.do_send(status(synod_core::Standing::Leader, 1, 1));
    common::request_in_background(&service, KvOp::Delete { key: "k".into() });
    // The proposal is refused and the service asks who leads; meanwhile node 3 is elected.
    actix_rt::time::sleep(Duration::from_millis(30)).await;
    service.do_send(status(synod_core::Standing::Follower, 2, 3));
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    let (to2, to3) = (
        heard[0].load(Ordering::SeqCst),
        heard[1].load(Ordering::SeqCst),
    );
    assert!(to3 >= 1, "the command goes to node 3, the leader of term 2");
    assert_eq!(to2, 0, "nothing goes to node 2, the leader of term 1");
}
