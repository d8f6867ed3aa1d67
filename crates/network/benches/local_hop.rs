//! Messages per second through one hop of the network actor's local path: `Send` to the
//! router, through the fault filter, `Deliver` to the registered actor. The cost of actor
//! message passing has sunk earlier actix consensus libraries; this is ours.

#![allow(missing_docs, clippy::unwrap_used)]

use actix::{Actor, Context, Handler};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::{Duration, Instant};
use synod_messages::service::ServiceMessage;
use synod_messages::{ActorAddr, Envelope, Payload, Role};
use synod_network::{Deliver, Faults, LocalHub, NetworkConfig, Register, Router};
use tokio::sync::oneshot;

const BATCH: u64 = 10_000;

/// Counts deliveries and says when `BATCH` arrived.
struct Counter {
    seen: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

impl Handler<Deliver> for Counter {
    type Result = ();
    fn handle(&mut self, _: Deliver, _: &mut Context<Self>) {
        self.seen += 1;
        if self.seen.is_multiple_of(BATCH) {
            if let Some(done) = self.done.take() {
                let _ = done.send(());
            }
        }
    }
}

#[derive(actix::Message)]
#[rtype(result = "()")]
struct Arm(oneshot::Sender<()>);

impl Handler<Arm> for Counter {
    type Result = ();
    fn handle(&mut self, Arm(done): Arm, _: &mut Context<Self>) {
        self.done = Some(done);
    }
}

fn bench(c: &mut Criterion) {
    let system = actix::System::new();
    let (router, counter) = system.block_on(async {
        let router = Router::start(
            NetworkConfig::new(1, "bench"),
            Faults::new(0),
            Some(LocalHub::new()),
        )
        .await
        .unwrap();
        let counter = Counter {
            seen: 0,
            done: None,
        }
        .start();
        router
            .send(Register {
                role: Role::SERVICE,
                recipient: counter.clone().recipient(),
            })
            .await
            .unwrap();
        (router, counter)
    });
    let envelope = Envelope {
        from: ActorAddr::new(1, Role::named("raft")),
        to: ActorAddr::new(1, Role::SERVICE),
        payload: Payload::Service(ServiceMessage::Redirect {
            ids: Vec::new(),
            leader: None,
        }),
    };
    let mut group = c.benchmark_group("network_local_hop");
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("send_route_deliver", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                total += system.block_on(async {
                    let (tx, rx) = oneshot::channel();
                    counter.send(Arm(tx)).await.unwrap();
                    let start = Instant::now();
                    for _ in 0..BATCH {
                        router.do_send(synod_network::Send(envelope.clone()));
                    }
                    rx.await.unwrap();
                    start.elapsed()
                });
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
