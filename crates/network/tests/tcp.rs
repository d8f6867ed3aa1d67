//! Routers talking over TCP on the loopback interface.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use common::{collect, envelope, next, nothing, tag};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use synod_messages::codec;
use synod_messages::{Handshake, NodeId, Role};
use synod_network::{
    Faults, GetLocalAddr, GetStats, NetworkConfig, NetworkError, Router, Shutdown,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(2);
const QUIET: Duration = Duration::from_millis(150);
const CLUSTER: &str = "tcp-test";
const MAX_FRAME: usize = 64 * 1024;

/// An address nothing listens on (port 9, discard, is not served on test machines).
fn nowhere() -> SocketAddr {
    "127.0.0.1:9".parse().unwrap()
}

fn config(
    node: NodeId,
    listen: Option<SocketAddr>,
    peers: &[(NodeId, SocketAddr)],
) -> NetworkConfig {
    let mut config = NetworkConfig::new(node, CLUSTER);
    config.listen = listen;
    config.peers = peers.iter().copied().collect();
    config.max_frame = MAX_FRAME;
    config.reconnect_min = Duration::from_millis(10);
    config.reconnect_max = Duration::from_millis(100);
    config.handshake_timeout = Duration::from_secs(1);
    config
}

/// Starts node 2 listening on an ephemeral port, accepting node 1.
async fn receiver() -> (actix::Addr<Router>, SocketAddr) {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let router = Router::start(
        config(2, Some(any), &[(1, nowhere())]),
        Faults::new(2),
        None,
    )
    .await
    .unwrap();
    let addr = router.send(GetLocalAddr).await.unwrap().unwrap();
    assert_ne!(addr.port(), 0);
    (router, addr)
}

/// Node 1, dialing node 2 at `addr`, without a listener.
async fn sender(addr: SocketAddr, faults: Faults) -> actix::Addr<Router> {
    Router::start(config(1, None, &[(2, addr)]), faults, None)
        .await
        .unwrap()
}

fn handshake(cluster_id: &str, node: NodeId) -> Vec<u8> {
    let handshake = Handshake {
        version: Handshake::VERSION,
        cluster_id: cluster_id.into(),
        protocol: String::new(),
        node,
        max_frame: MAX_FRAME as u64,
    };
    codec::encode_frame(&handshake, MAX_FRAME).unwrap()
}

/// Connects, writes `bytes`, and tells whether the server closed the connection within `wait`.
async fn closed_after(addr: SocketAddr, bytes: &[u8], wait: Duration) -> (bool, TcpStream) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let closed = is_closed(&mut stream, wait).await;
    (closed, stream)
}

async fn is_closed(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 16];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(n)) => panic!("server sent {n} unexpected bytes"),
        Err(_) => false,
    }
}

#[actix_rt::test]
async fn envelopes_cross_tcp_both_ways() {
    // Node 1 must listen on a port known before node 2 starts: borrow a free one.
    let a_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let r2 = Router::start(config(2, Some(any), &[(1, a_addr)]), Faults::new(2), None)
        .await
        .unwrap();
    let b_addr = r2.send(GetLocalAddr).await.unwrap().unwrap();
    let r1 = Router::start(
        config(1, Some(a_addr), &[(2, b_addr)]),
        Faults::new(1),
        None,
    )
    .await
    .unwrap();
    let mut at1 = collect(&r1, Role::named("raft")).await;
    let mut at2 = collect(&r2, Role::named("raft")).await;

    for i in 0..100 {
        r1.do_send(synod_network::Send(envelope(1, 2, i)));
    }
    for i in 0..100 {
        assert_eq!(tag(&next(&mut at2, WAIT).await), i, "in order");
    }
    r2.send(synod_network::Send(envelope(2, 1, 500)))
        .await
        .unwrap();
    assert_eq!(next(&mut at1, WAIT).await, envelope(2, 1, 500));

    let stats = r1.send(GetStats).await.unwrap();
    assert_eq!((stats.queued_tcp, stats.received), (100, 1));
    let stats = r2.send(GetStats).await.unwrap();
    assert_eq!((stats.queued_tcp, stats.received), (1, 100));
}

#[actix_rt::test]
async fn sender_side_filter_applies_to_tcp_links() {
    let (r2, addr) = receiver().await;
    let mut at2 = collect(&r2, Role::named("raft")).await;
    let faults = Faults::new(1);
    let r1 = sender(addr, faults.clone()).await;
    faults.partition(vec![vec![1], vec![2]]);
    r1.send(synod_network::Send(envelope(1, 2, 1)))
        .await
        .unwrap();
    nothing(&mut at2, QUIET).await;
    faults.heal();
    r1.send(synod_network::Send(envelope(1, 2, 2)))
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at2, WAIT).await), 2);
}

#[actix_rt::test]
async fn bad_handshakes_are_refused() {
    let (_r2, addr) = receiver().await;

    // Control: a valid handshake keeps the connection open.
    let (closed, _keep) = closed_after(addr, &handshake(CLUSTER, 1), QUIET).await;
    assert!(!closed, "a valid handshake was refused");
    // ... and so does a caller whose frames are smaller than the receiver takes.
    let smaller_frames = codec::encode_frame(
        &Handshake {
            version: Handshake::VERSION,
            cluster_id: CLUSTER.into(),
            protocol: String::new(),
            node: 1,
            max_frame: MAX_FRAME as u64 / 2,
        },
        MAX_FRAME,
    )
    .unwrap();
    let (closed, _keep_too) = closed_after(addr, &smaller_frames, QUIET).await;
    assert!(!closed, "a caller with a smaller frame limit was refused");

    let wrong_version = codec::encode_frame(
        &Handshake {
            version: Handshake::VERSION + 1,
            cluster_id: CLUSTER.into(),
            protocol: String::new(),
            node: 1,
            max_frame: MAX_FRAME as u64,
        },
        MAX_FRAME,
    )
    .unwrap();
    let larger_frames = codec::encode_frame(
        &Handshake {
            version: Handshake::VERSION,
            cluster_id: CLUSTER.into(),
            protocol: String::new(),
            node: 1,
            max_frame: MAX_FRAME as u64 + 1,
        },
        MAX_FRAME,
    )
    .unwrap();
    let another_protocol = codec::encode_frame(
        &Handshake {
            version: Handshake::VERSION,
            cluster_id: CLUSTER.into(),
            protocol: "paxos".into(),
            node: 1,
            max_frame: MAX_FRAME as u64,
        },
        MAX_FRAME,
    )
    .unwrap();
    let cases: [(&str, Vec<u8>); 7] = [
        ("wrong cluster id", handshake("another-cluster", 1)),
        ("another protocol", another_protocol),
        ("unknown node id", handshake(CLUSTER, 7)),
        ("the receiver's own id", handshake(CLUSTER, 2)),
        ("wrong version", wrong_version),
        ("frames larger than the receiver takes", larger_frames),
        ("not a handshake", vec![0, 0, 0, 3, 0xff, 0xff, 0xff]),
    ];
    for (name, bytes) in cases {
        let (closed, _) = closed_after(addr, &bytes, WAIT).await;
        assert!(closed, "{name}: connection not closed");
    }
}

#[actix_rt::test]
async fn a_silent_caller_is_closed_after_the_handshake_timeout() {
    let (_r2, addr) = receiver().await;
    let (closed, _) = closed_after(addr, &[], WAIT).await;
    assert!(closed);
}

#[actix_rt::test]
async fn bad_frames_close_only_their_connection() {
    let (r2, addr) = receiver().await;
    let mut at2 = collect(&r2, Role::named("raft")).await;
    let r1 = sender(addr, Faults::new(1)).await;
    r1.send(synod_network::Send(envelope(1, 2, 1)))
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at2, WAIT).await), 1);

    // A raw connection as node 1: a well-formed envelope is accepted ...
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(&handshake(CLUSTER, 1)).await.unwrap();
    raw.write_all(&codec::encode_frame(&envelope(1, 2, 10), MAX_FRAME).unwrap())
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at2, WAIT).await), 10);
    // ... one claiming another sender or another receiver is dropped, the connection kept ...
    raw.write_all(&codec::encode_frame(&envelope(3, 2, 11), MAX_FRAME).unwrap())
        .await
        .unwrap();
    raw.write_all(&codec::encode_frame(&envelope(1, 3, 12), MAX_FRAME).unwrap())
        .await
        .unwrap();
    raw.write_all(&codec::encode_frame(&envelope(1, 2, 13), MAX_FRAME).unwrap())
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at2, WAIT).await), 13);
    assert!(!is_closed(&mut raw, QUIET).await);
    // ... and garbage closes it.
    raw.write_all(&[0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    assert!(
        is_closed(&mut raw, WAIT).await,
        "garbage did not close the connection"
    );

    // An oversized frame header closes its connection too, before any body is sent.
    let mut big = handshake(CLUSTER, 1);
    big.extend_from_slice(&(MAX_FRAME as u32 + 1).to_be_bytes());
    let (closed, _) = closed_after(addr, &big, WAIT).await;
    assert!(closed, "oversized frame did not close the connection");

    // The router and the real peer's connection are unaffected.
    r1.send(synod_network::Send(envelope(1, 2, 2)))
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at2, WAIT).await), 2);
    nothing(&mut at2, QUIET).await;
    // And new connections are still accepted.
    let (closed, _keep) = closed_after(addr, &handshake(CLUSTER, 1), QUIET).await;
    assert!(!closed);
}

#[actix_rt::test]
async fn bind_failure_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let result = Router::start(config(2, Some(addr), &[]), Faults::new(0), None).await;
    match result {
        Err(NetworkError::Bind { addr: failed, .. }) => assert_eq!(failed, addr),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("bound a taken port"),
    }
}

#[actix_rt::test]
async fn sender_reconnects_after_the_receiver_restarts() {
    let (r2, addr) = receiver().await;
    let mut at2 = collect(&r2, Role::named("raft")).await;
    let r1 = sender(addr, Faults::new(1)).await;
    r1.send(synod_network::Send(envelope(1, 2, 1)))
        .await
        .unwrap();
    assert_eq!(tag(&next(&mut at2, WAIT).await), 1);

    r2.send(Shutdown).await.unwrap();
    // Restart on the same port, as soon as the old listener is gone.
    let deadline = Instant::now() + WAIT;
    let r2 = loop {
        match Router::start(
            config(2, Some(addr), &[(1, nowhere())]),
            Faults::new(2),
            None,
        )
        .await
        {
            Ok(router) => break router,
            Err(error) => {
                assert!(Instant::now() < deadline, "cannot rebind {addr}: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let mut at2 = collect(&r2, Role::named("raft")).await;

    // Envelopes sent while reconnecting may be lost; keep sending until one arrives.
    let deadline = Instant::now() + WAIT;
    let mut tag_sent = 100;
    let got = loop {
        r1.send(synod_network::Send(envelope(1, 2, tag_sent)))
            .await
            .unwrap();
        if let Ok(Some(got)) = tokio::time::timeout(Duration::from_millis(20), at2.recv()).await {
            break got;
        }
        assert!(Instant::now() < deadline, "no envelope after the restart");
        tag_sent += 1;
    };
    assert!(tag(&got) >= 100);
    // The same outbound session reconnected: nothing was dropped as undeliverable.
    assert_eq!(r1.send(GetStats).await.unwrap().dropped_unknown_node, 0);
}

/// A snapshot chunk of `len` bytes from node 1 to node 2.
fn chunk(len: usize) -> synod_messages::Envelope {
    synod_messages::Envelope {
        from: synod_messages::ActorAddr::new(1, Role::named("raft")),
        to: synod_messages::ActorAddr::new(2, Role::named("raft")),
        payload: synod_messages::Payload::protocol(
            synod_messages::raft::RaftMessage::InstallSnapshot {
                term: 1,
                leader_id: 1,
                last_included_index: 1,
                last_included_term: 1,
                offset: 0,
                data: vec![7; len],
                done: false,
            },
        ),
    }
}

/// Found with a follower stopped by SIGSTOP under 64 KiB writes: the queue was bounded by
/// messages only, so a peer that stops reading made the sender hold everything sent to it
/// (the leader grew to 8 GiB). Now a peer's queue holds at most its byte bound plus one frame.
#[actix_rt::test]
async fn a_peer_that_stops_reading_costs_the_sender_its_byte_bound_not_everything_sent() {
    // A "peer" that accepts and then reads nothing until told to.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (start_reading, reading) = tokio::sync::oneshot::channel::<()>();
    let drained = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let _ = reading.await;
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0usize;
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });

    let mut cfg = config(1, None, &[(2, addr)]);
    cfg.outbound_queue = 1_000_000;
    cfg.outbound_queue_bytes = 1 << 20;
    let r1 = Router::start(cfg, Faults::new(1), None).await.unwrap();
    // 2,000 chunks of 32 KiB: 64 MiB, far past what loopback buffers take.
    for _ in 0..2000 {
        r1.send(synod_network::Send(chunk(32 * 1024)))
            .await
            .unwrap();
        tokio::task::yield_now().await;
    }
    let stats = r1.send(GetStats).await.unwrap();
    assert!(
        stats.dropped_queue_full >= 1000,
        "dropped {} of 2000 (queued {})",
        stats.dropped_queue_full,
        stats.queued_tcp
    );

    // Once the peer reads again, the queue empties and takes new envelopes.
    start_reading.send(()).unwrap();
    let deadline = Instant::now() + WAIT;
    let queued = stats.queued_tcp;
    loop {
        r1.send(synod_network::Send(chunk(16))).await.unwrap();
        if r1.send(GetStats).await.unwrap().queued_tcp > queued {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the queue never took envelopes again"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    r1.send(Shutdown).await.unwrap();
    assert!(drained.await.unwrap() > 0);
}
