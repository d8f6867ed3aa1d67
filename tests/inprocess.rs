//! Real nodes (shells, service, network actor) in one process, connected through the network
//! actor's in-process hub and its fault filter. Every scenario runs for Raft and for Paxos.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};
use synod::config::Config;
use synod::node::{start_node, NodeHandle, Transport};
use synod_messages::{KvOp, KvResult, NodeId};
use synod_network::{Faults, LocalHub};
use synod_runtime::{ClientError, ClientRequest, Consistency, GetNodeStatus, NodeStatus};

async fn cluster(protocol: &str, n: usize) -> (Vec<NodeHandle>, Faults) {
    cluster_from(&common::config_toml(protocol, n, 10, 1500)).await
}

async fn cluster_from(toml: &str) -> (Vec<NodeHandle>, Faults) {
    let cfg = Config::from_toml(toml).unwrap();
    let hub = LocalHub::new();
    let faults = Faults::new(42);
    let mut nodes = Vec::new();
    for node in &cfg.nodes {
        let h = start_node(
            &cfg,
            node.id,
            Transport::InProcess(hub.clone()),
            faults.clone(),
            false,
        )
        .await
        .unwrap();
        nodes.push(h);
    }
    (nodes, faults)
}

async fn status(node: &NodeHandle) -> NodeStatus {
    node.service.send(GetNodeStatus).await.unwrap().unwrap()
}

async fn request(
    node: &NodeHandle,
    op: KvOp,
    consistency: Consistency,
) -> Result<KvResult, ClientError> {
    node.service
        .send(ClientRequest {
            op,
            id: None,
            consistency,
            held: None,
        })
        .await
        .unwrap()
}

async fn put(node: &NodeHandle, key: &str, value: &str) -> Result<KvResult, ClientError> {
    let op = KvOp::Put {
        key: key.into(),
        value: value.into(),
    };
    request(node, op, Consistency::Linearizable).await
}

async fn get(node: &NodeHandle, key: &str, consistency: Consistency) -> Option<Vec<u8>> {
    match request(node, KvOp::Get { key: key.into() }, consistency).await {
        Ok(KvResult::Value(v)) => v,
        other => panic!("get {key}: {other:?}"),
    }
}

/// Waits until exactly one of `among` leads and the others agree; returns it.
async fn leader(nodes: &[NodeHandle], among: &[NodeId]) -> NodeId {
    let start = Instant::now();
    loop {
        let mut leaders = Vec::new();
        let mut views = Vec::new();
        for n in nodes.iter().filter(|n| among.contains(&n.id)) {
            let s = status(n).await;
            if s.role == "leader" {
                leaders.push(s.node_id);
            }
            views.push(s.leader_id);
        }
        if let [l] = leaders[..] {
            if views.iter().all(|v| *v == Some(l)) {
                return l;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no stable leader among {among:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn node(nodes: &[NodeHandle], id: NodeId) -> &NodeHandle {
    nodes.iter().find(|n| n.id == id).unwrap()
}

/// Runs `scenario` on every registered protocol that promises linearizable results.
macro_rules! for_each_protocol {
    ($scenario:ident) => {
        mod $scenario {
            #[actix_rt::test]
            async fn on_every_linearizable_protocol() {
                for protocol in super::common::linearizable_protocols() {
                    super::$scenario(protocol).await;
                }
            }
        }
    };
}

for_each_protocol!(write_on_one_node_read_linearizably_on_another);
for_each_protocol!(isolated_leader_is_replaced_and_its_uncommitted_entries_are_overwritten);
for_each_protocol!(a_minority_cannot_write_and_says_so);
for_each_protocol!(large_values_written_on_every_node_are_read_whole_on_every_node);
for_each_protocol!(five_nodes_write_with_two_followers_cut_off_and_all_catch_up);

/// Five nodes lose two followers, get them back, then lose the other two: a majority is left
/// each time, writes go on under the same leader, and every node applies every write. (Paxos's
/// leader feeds its Accepts to a majority and one spare, four of five acceptors: whichever one
/// is left out, the second cut leaves it and one fed acceptor, so it must take a silent one's
/// place, since resends, which go to every acceptor, come only after the requests' timeout.
/// Long election timeouts keep the followers cut off from campaigning within a round.)
async fn five_nodes_write_with_two_followers_cut_off_and_all_catch_up(protocol: &str) {
    let all = [1, 2, 3, 4, 5];
    let elections = "election_ticks_min = 150\nelection_ticks_max = 200\n";
    // Paxos resends to every acceptor only after the requests' timeout.
    let resend = if protocol == "paxos" {
        "resend_ticks = 1000\n"
    } else {
        ""
    };
    let section = format!("[{protocol}]\ntick_ms = 10\n");
    let toml = common::config_toml(protocol, 5, 10, 1500).replacen(
        &section,
        &format!("{section}{elections}{resend}"),
        1,
    );
    assert!(toml.matches(elections).count() == 1);
    let (nodes, faults) = cluster_from(&toml).await;
    let l = leader(&nodes, &all).await;
    let term = status(node(&nodes, l)).await.term;
    let followers: Vec<NodeId> = all.into_iter().filter(|&n| n != l).collect();
    let mut keys = Vec::new();
    for (round, cut) in followers.chunks(2).enumerate() {
        for &n in cut {
            faults.isolate(n);
        }
        for i in 0..10 {
            let key = format!("r{round}k{i}");
            assert_eq!(
                put(node(&nodes, l), &key, "v").await,
                Ok(KvResult::Done),
                "{key} with {cut:?} cut off"
            );
            keys.push(key);
        }
        // Without a stall: a leader that gets nothing chosen for an election timeout steps
        // down.
        let s = status(node(&nodes, l)).await;
        assert_eq!((s.role, s.term), ("leader", term), "node {l} kept leading");
        // It writes to every node (Raft), or to four acceptors, every one still reachable
        // among them (Paxos).
        let reachable = all.iter().filter(|n| !cut.contains(n));
        assert!(
            reachable.clone().all(|n| s.writes_to.contains(n)),
            "writes to {:?} with {cut:?} cut off",
            s.writes_to
        );
        assert_eq!(s.writes_to.len(), if protocol == "raft" { 5 } else { 4 });
        // It knows how far each of them is: the ones cut off lag behind what it wrote.
        assert_eq!(
            s.replicated.keys().copied().collect::<Vec<_>>(),
            {
                let mut fed = s.writes_to.clone();
                fed.sort();
                fed
            },
            "{s:?}"
        );
        for n in cut.iter().filter(|n| s.replicated.contains_key(n)) {
            assert!(
                s.replicated[n] < s.last_log_index,
                "node {n} is cut off, yet holds all the leader wrote: {s:?}"
            );
        }
        faults.heal();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for n in &nodes {
        for key in &keys {
            while get(n, key, Consistency::Stale).await.is_none() {
                assert!(
                    Instant::now() < deadline,
                    "node {} never applied {key}",
                    n.id
                );
                actix_rt::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    for n in nodes {
        n.stop().await;
    }
}

/// Values past 1 KiB take Paxos's by-slot path to the learners (the leader names the slot, a
/// node's acceptor tells its learner the value, through the node's router): every node must
/// still apply every value whole.
async fn large_values_written_on_every_node_are_read_whole_on_every_node(protocol: &str) {
    let (nodes, _faults) = cluster(protocol, 3).await;
    leader(&nodes, &[1, 2, 3]).await;
    let value = |n: usize| -> Vec<u8> { (0..4096 + n).map(|i| (i * 7 + n) as u8).collect() };
    for (n, writer) in nodes.iter().enumerate() {
        let op = KvOp::Put {
            key: format!("big{n}"),
            value: value(n),
        };
        assert_eq!(
            request(writer, op, Consistency::Linearizable).await,
            Ok(KvResult::Done)
        );
    }
    for reader in &nodes {
        for n in 0..nodes.len() {
            let got = get(reader, &format!("big{n}"), Consistency::Linearizable).await;
            assert!(
                got == Some(value(n)),
                "node {} read big{n} wrong",
                reader.id
            );
        }
    }
    for n in nodes {
        n.stop().await;
    }
}

async fn write_on_one_node_read_linearizably_on_another(protocol: &str) {
    let (nodes, _faults) = cluster(protocol, 3).await;
    leader(&nodes, &[1, 2, 3]).await;
    assert_eq!(put(&nodes[0], "x", "1").await, Ok(KvResult::Done));
    assert_eq!(
        get(&nodes[1], "x", Consistency::Linearizable).await,
        Some(b"1".to_vec())
    );
    assert_eq!(
        get(&nodes[2], "x", Consistency::Linearizable).await,
        Some(b"1".to_vec())
    );
    // The writing node answered after applying, so its own stale read sees the write.
    assert_eq!(
        get(&nodes[0], "x", Consistency::Stale).await,
        Some(b"1".to_vec())
    );
    for n in nodes {
        n.stop().await;
    }
}

async fn isolated_leader_is_replaced_and_its_uncommitted_entries_are_overwritten(protocol: &str) {
    let (nodes, faults) = cluster(protocol, 3).await;
    let old = leader(&nodes, &[1, 2, 3]).await;
    assert_eq!(
        put(node(&nodes, old), "before", "1").await,
        Ok(KvResult::Done)
    );

    // Cut the leader off; a write sent to it is appended to its log but can never commit.
    faults.isolate(old);
    let lost = put(node(&nodes, old), "lost", "x").await;
    assert!(
        matches!(lost, Err(ClientError::Timeout)),
        "a write the isolated leader accepted has an unknown outcome: {lost:?}"
    );
    if protocol == "raft" {
        let s = status(node(&nodes, old)).await;
        assert!(
            s.last_log_index > s.commit_index,
            "the entry sits uncommitted: {s:?}"
        );
    }

    // The majority elects a new leader and keeps accepting writes.
    let rest: Vec<NodeId> = [1, 2, 3].into_iter().filter(|&n| n != old).collect();
    let new = leader(&nodes, &rest).await;
    assert_ne!(new, old);
    let other = rest.iter().copied().find(|&n| n != new).unwrap();
    assert_eq!(
        put(node(&nodes, other), "after", "2").await,
        Ok(KvResult::Done)
    );

    // Heal: the old leader rejoins as a follower and its uncommitted entry is replaced.
    faults.heal();
    let l = leader(&nodes, &[1, 2, 3]).await;
    if protocol == "raft" {
        assert_ne!(
            l, old,
            "the old leader's log lacks committed entries, it cannot win"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s: Vec<NodeStatus> = futures_join(&nodes).await;
        // Raft's logs must end up identical; every protocol's applied prefixes must.
        let converged = s.windows(2).all(|w| {
            w[0].applied_index == w[1].applied_index
                && (protocol != "raft" || w[0].last_log_index == w[1].last_log_index)
        });
        if converged {
            break;
        }
        assert!(Instant::now() < deadline, "logs did not converge: {s:?}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    for n in &nodes {
        assert_eq!(
            get(n, "lost", Consistency::Stale).await,
            None,
            "node {}",
            n.id
        );
        assert_eq!(
            get(n, "after", Consistency::Stale).await,
            Some(b"2".to_vec()),
            "node {}",
            n.id
        );
        assert_eq!(
            get(n, "before", Consistency::Stale).await,
            Some(b"1".to_vec()),
            "node {}",
            n.id
        );
    }
    // Writes continue through the old leader too (forwarded).
    assert_eq!(
        put(node(&nodes, old), "again", "3").await,
        Ok(KvResult::Done)
    );
    for n in nodes {
        n.stop().await;
    }
}

async fn futures_join(nodes: &[NodeHandle]) -> Vec<NodeStatus> {
    let mut out = Vec::new();
    for n in nodes {
        out.push(status(n).await);
    }
    out
}

async fn a_minority_cannot_write_and_says_so(protocol: &str) {
    let (nodes, faults) = cluster(protocol, 3).await;
    leader(&nodes, &[1, 2, 3]).await;
    // Every node on its own: nobody can reach a quorum.
    faults.partition(vec![vec![1], vec![2], vec![3]]);
    actix_rt::time::sleep(Duration::from_millis(400)).await; // check-quorum deposes the leader
    let err = put(&nodes[0], "k", "v").await.unwrap_err();
    assert!(
        matches!(err, ClientError::NoLeader { .. } | ClientError::Timeout),
        "{err:?}"
    );
    faults.heal();
    leader(&nodes, &[1, 2, 3]).await;
    assert_eq!(put(&nodes[0], "k", "v").await, Ok(KvResult::Done));
    for n in nodes {
        n.stop().await;
    }
}

/// A Paxos observer: a node hosting only a learner applies the log without voting, and its
/// clients' writes are forwarded to the leader.
#[actix_rt::test]
async fn paxos_learner_only_node_serves_clients() {
    let mut toml = common::config_toml("paxos", 4, 10, 1500);
    // The last [[nodes]] entry is node 4: make it an observer.
    toml.push_str("roles = [\"learner\"]\n");
    let (nodes, faults) = cluster_from(&toml).await;
    leader(&nodes, &[1, 2, 3]).await;
    let observer = node(&nodes, 4);
    assert_eq!(put(observer, "seen", "yes").await, Ok(KvResult::Done));
    assert_eq!(
        get(observer, "seen", Consistency::Linearizable).await,
        Some(b"yes".to_vec())
    );
    assert_eq!(
        get(node(&nodes, 1), "seen", Consistency::Stale).await,
        Some(b"yes".to_vec())
    );
    let s = status(observer).await;
    assert_eq!(
        (s.role, s.roles.clone()),
        ("learner", vec![synod_messages::Role::named("learner")])
    );
    // It does not vote: with node 3 cut off, nodes 1, 2 still form the majority of 3 acceptors.
    faults.isolate(3);
    assert_eq!(put(observer, "still", "ok").await, Ok(KvResult::Done));
    for n in nodes {
        n.stop().await;
    }
}

for_each_protocol!(writes_that_arrive_while_snapshots_are_written_are_all_applied);

/// Snapshots are encoded a few keys at a time while committed batches go on being applied
/// (three keys per step here, so writes land behind, at and ahead of the image's cursor), and
/// written off the node's thread: none may be lost or applied twice.
async fn writes_that_arrive_while_snapshots_are_written_are_all_applied(protocol: &str) {
    let dir = std::env::temp_dir().join(format!(
        "synod-inprocess-snap-{protocol}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let storage = format!(
        "data_dir = {:?}\nsnapshot_entries = 10\nsnapshot_keys_per_step = 3",
        dir.join("data")
    );
    let (nodes, _faults) =
        cluster_from(&common::config_toml_with(protocol, 3, 10, 5000, &storage)).await;
    leader(&nodes, &[1, 2, 3]).await;
    // Waves of concurrent writes through every node, so batches keep arriving while a
    // snapshot is being written.
    const WAVES: usize = 12;
    const PER_WAVE: usize = 30;
    for wave in 0..WAVES {
        let writes = (0..PER_WAVE).map(|i| {
            let key = format!("k{}", wave * PER_WAVE + i);
            let value = format!("v{wave}");
            let node = &nodes[i % nodes.len()];
            async move { (put(node, &key, &value).await, key) }
        });
        for (result, key) in futures::future::join_all(writes).await {
            assert_eq!(result, Ok(KvResult::Done), "put {key}");
        }
    }
    let keys = WAVES * PER_WAVE;
    for n in &nodes {
        for wave in [0, WAVES / 2, WAVES - 1] {
            let key = format!("k{}", wave * PER_WAVE + 7);
            assert_eq!(
                get(n, &key, Consistency::Linearizable).await,
                Some(format!("v{wave}").into_bytes()),
                "node {} key {key}",
                n.id
            );
        }
        let s = status(n).await;
        assert_eq!(s.keys, keys, "node {}: keys", n.id);
        assert!(s.snapshot_index > 0, "node {} never snapshotted", n.id);
    }
    for n in nodes {
        n.stop().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
