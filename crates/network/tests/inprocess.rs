//! Routers of one process, linked by a `LocalHub`, through the fault filter.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use common::{collect, envelope, next, nothing, tag};
use std::time::{Duration, Instant};
use synod_messages::{ActorAddr, Role};
use synod_network::{Faults, GetStats, LocalHub, NetworkConfig, Router, Shutdown};

const WAIT: Duration = Duration::from_secs(1);
const QUIET: Duration = Duration::from_millis(100);

async fn pair(faults: &Faults) -> (actix::Addr<Router>, actix::Addr<Router>, LocalHub) {
    let hub = LocalHub::new();
    let r1 = Router::start(
        NetworkConfig::new(1, "test"),
        faults.clone(),
        Some(hub.clone()),
    )
    .await
    .unwrap();
    let r2 = Router::start(
        NetworkConfig::new(2, "test"),
        faults.clone(),
        Some(hub.clone()),
    )
    .await
    .unwrap();
    (r1, r2, hub)
}

#[actix_rt::test]
async fn envelope_reaches_other_node_unless_partitioned_and_again_after_heal() {
    let faults = Faults::new(1);
    let (r1, r2, hub) = pair(&faults).await;
    assert_eq!(hub.nodes(), vec![1, 2]);
    let mut at2 = collect(&r2, Role::named("raft")).await;

    r1.send(synod_network::Send(envelope(1, 2, 1)))
        .await
        .unwrap();
    let got = next(&mut at2, WAIT).await;
    assert_eq!(got, envelope(1, 2, 1));

    faults.partition(vec![vec![1], vec![2]]);
    r1.send(synod_network::Send(envelope(1, 2, 2)))
        .await
        .unwrap();
    nothing(&mut at2, QUIET).await;

    faults.heal();
    r1.send(synod_network::Send(envelope(1, 2, 3)))
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at2, WAIT).await), 3);

    let stats = r1.send(GetStats).await.unwrap();
    assert_eq!((stats.sent_hub, stats.dropped_by_faults), (2, 1));
    assert_eq!(r2.send(GetStats).await.unwrap().received, 2);
}

#[actix_rt::test]
async fn block_is_one_way_between_routers() {
    let faults = Faults::new(1);
    let (r1, r2, _hub) = pair(&faults).await;
    let mut at1 = collect(&r1, Role::named("raft")).await;
    let mut at2 = collect(&r2, Role::named("raft")).await;
    faults.block(1, 2);
    r1.send(synod_network::Send(envelope(1, 2, 1)))
        .await
        .unwrap();
    r2.send(synod_network::Send(envelope(2, 1, 2)))
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at1, WAIT).await), 2);
    nothing(&mut at2, QUIET).await;
}

#[actix_rt::test]
async fn self_messages_pass_the_filter() {
    let faults = Faults::new(1);
    let (r1, _r2, _hub) = pair(&faults).await;
    let mut at1 = collect(&r1, Role::named("raft")).await;
    // Partitions and isolation never cut a node from itself ...
    faults.isolate(1);
    r1.send(synod_network::Send(envelope(1, 1, 1)))
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at1, WAIT).await), 1);
    // ... but a fault naming the self-link does.
    faults.block(1, 1);
    r1.send(synod_network::Send(envelope(1, 1, 2)))
        .await
        .unwrap();
    nothing(&mut at1, QUIET).await;
}

#[actix_rt::test]
async fn delay_and_duplicate_apply_to_in_process_links() {
    let faults = Faults::new(1);
    let (r1, r2, _hub) = pair(&faults).await;
    let mut at2 = collect(&r2, Role::named("raft")).await;
    faults.set_delay(1, 2, Duration::from_millis(150), Duration::from_millis(150));
    faults.set_duplicate(1, 2, 1.0);
    let sent = Instant::now();
    r1.send(synod_network::Send(envelope(1, 2, 7)))
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at2, WAIT).await), 7);
    assert_eq!(tag(&next(&mut at2, WAIT).await), 7);
    assert!(
        sent.elapsed() >= Duration::from_millis(150),
        "arrived after {:?}",
        sent.elapsed()
    );
    nothing(&mut at2, QUIET).await;
}

#[actix_rt::test]
async fn unknown_roles_and_nodes_are_dropped_and_counted() {
    let faults = Faults::new(1);
    let (r1, r2, hub) = pair(&faults).await;
    let mut at2 = collect(&r2, Role::named("raft")).await;
    let mut to_acceptor = envelope(1, 2, 1);
    to_acceptor.to = ActorAddr::new(2, Role::named("acceptor"));
    r1.send(synod_network::Send(to_acceptor)).await.unwrap();
    r1.send(synod_network::Send(envelope(1, 9, 2)))
        .await
        .unwrap();
    r1.send(synod_network::Send(envelope(1, 2, 3)))
        .await
        .unwrap();
    // The valid one still arrives, and only it.
    assert_eq!(tag(&next(&mut at2, WAIT).await), 3);
    nothing(&mut at2, QUIET).await;
    assert_eq!(r1.send(GetStats).await.unwrap().dropped_unknown_node, 1);
    assert_eq!(r2.send(GetStats).await.unwrap().dropped_unknown_role, 1);

    // A stopped router leaves the hub; envelopes to it are then for an unknown node.
    r2.send(Shutdown).await.unwrap();
    let deadline = Instant::now() + WAIT;
    while hub.nodes() != vec![1] {
        assert!(Instant::now() < deadline, "router 2 still in hub");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    r1.send(synod_network::Send(envelope(1, 2, 4)))
        .await
        .unwrap();
    assert_eq!(r1.send(GetStats).await.unwrap().dropped_unknown_node, 2);
}
