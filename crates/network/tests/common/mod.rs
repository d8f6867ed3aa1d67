//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use actix::{Actor, Addr, Context, Handler};
use std::time::Duration;
use synod_messages::service::ServiceMessage;
use synod_messages::{ActorAddr, Envelope, NodeId, Payload, Role};
use synod_network::{Deliver, Register, Router};
use tokio::sync::mpsc;

/// Forwards every delivered envelope to a channel.
pub struct Collector(mpsc::UnboundedSender<Envelope>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<Deliver> for Collector {
    type Result = ();

    fn handle(&mut self, Deliver(envelope): Deliver, _ctx: &mut Context<Self>) {
        let _ = self.0.send(envelope);
    }
}

/// Registers a collector for `role` on `router` and returns what it receives.
pub async fn collect(router: &Addr<Router>, role: Role) -> mpsc::UnboundedReceiver<Envelope> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let collector = Collector(sender).start();
    router
        .send(Register {
            role,
            recipient: collector.recipient(),
        })
        .await
        .unwrap();
    receiver
}

/// An envelope from `from`'s Raft role to `to`'s Raft role, tagged with `tag`.
pub fn envelope(from: NodeId, to: NodeId, tag: u64) -> Envelope {
    Envelope {
        from: ActorAddr::new(from, Role::named("raft")),
        to: ActorAddr::new(to, Role::named("raft")),
        payload: Payload::Service(ServiceMessage::Redirect {
            ids: vec![],
            leader: Some(tag),
        }),
    }
}

/// The tag of an envelope made by [`envelope`].
pub fn tag(envelope: &Envelope) -> u64 {
    match &envelope.payload {
        Payload::Service(ServiceMessage::Redirect {
            leader: Some(tag), ..
        }) => *tag,
        other => panic!("unexpected payload {other:?}"),
    }
}

/// The next envelope, or a panic after `wait`.
pub async fn next(receiver: &mut mpsc::UnboundedReceiver<Envelope>, wait: Duration) -> Envelope {
    tokio::time::timeout(wait, receiver.recv())
        .await
        .expect("no envelope arrived in time")
        .expect("collector gone")
}

/// Asserts nothing arrives within `wait`.
pub async fn nothing(receiver: &mut mpsc::UnboundedReceiver<Envelope>, wait: Duration) {
    if let Ok(Some(envelope)) = tokio::time::timeout(wait, receiver.recv()).await {
        panic!("unexpected envelope {envelope:?}");
    }
}
