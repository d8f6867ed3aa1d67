//! Three real `synod node` processes talking TCP, for each protocol: writes survive `kill -9` of the leader, and a
//! garbage frame on a peer port is refused without disturbing the node.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cluster::{tail, Cluster};
use common::wait_for;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn over_tcp_survives_kill_9_of_the_leader_and_garbage_frames() {
    for protocol in common::linearizable_protocols() {
        survives_kill_9_of_the_leader_and_garbage_frames(protocol);
    }
}

fn survives_kill_9_of_the_leader_and_garbage_frames(protocol: &str) {
    let mut c = Cluster::start(protocol, 3);
    let leader = c.leader(&[1, 2, 3]);
    let follower = if leader == 1 { 2 } else { 1 };
    assert_eq!(
        c.put(follower, "a", "1"),
        Ok(200),
        "write through a follower"
    );
    assert_eq!(c.get(leader, "a").as_deref(), Some("1"));

    // kill -9 the leader: the others elect a new one and the write path works again.
    c.kill9(leader);
    let alive: Vec<usize> = (1..=3).filter(|&i| i != leader).collect();
    let new_leader = c.leader(&alive);
    assert_ne!(new_leader, leader);
    let writer = alive[0];
    wait_for(
        Duration::from_secs(20),
        "a write after the leader died",
        || c.put(writer, "b", "2").ok(),
    );
    for &id in &alive {
        assert_eq!(
            c.get(id, "a").as_deref(),
            Some("1"),
            "node {id} lost an acknowledged write"
        );
        assert_eq!(c.get(id, "b").as_deref(), Some("2"));
    }

    // A garbage frame on a peer port: that connection is closed, the node keeps serving.
    let target = alive[1];
    let mut s = TcpStream::connect(&c.peer[target - 1]).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[0, 0, 0, 12]).unwrap();
    s.write_all(b"hello, raft!").unwrap();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the node should close a connection that sent garbage");
    assert_eq!(c.put(target, "c", "3"), Ok(200));
    assert_eq!(c.get(writer, "c").as_deref(), Some("3"));
    let logs = std::fs::read_to_string(c.dir.join(format!("node-{target}.log"))).unwrap();
    assert!(
        logs.to_lowercase().contains("handshake"),
        "the refusal is logged with its reason:\n{}",
        tail(&logs, 20)
    );

    // The killed node comes back (empty memory storage for now) and catches up.
    let revived = c.spawn(leader);
    c.children[leader - 1] = Some(revived);
    wait_for(
        Duration::from_secs(20),
        "the restarted node to catch up",
        || {
            c.status(leader)
                .filter(|s| {
                    s["applied_index"].as_u64()
                        >= c.status(writer).and_then(|w| w["applied_index"].as_u64())
                })
                .map(|_| ())
        },
    );
    assert_eq!(
        ureq::get(&format!("{}/v1/kv/c?consistency=stale", c.http[leader - 1]))
            .call()
            .unwrap()
            .into_string()
            .unwrap(),
        "3"
    );
}

#[test]
fn every_protocol_keeps_every_acknowledged_write_through_kill_9_of_every_node() {
    for protocol in common::linearizable_protocols() {
        every_acknowledged_write_survives_kill_9_of_every_node(protocol, "");
    }
}

#[test]
fn raft_on_redb_keeps_every_acknowledged_write_and_a_directory_is_not_read_as_another_backend() {
    let c = every_acknowledged_write_survives_kill_9_of_every_node("raft", "backend = \"redb\"");
    // The same directory opened with the log-file backend would look empty: refused.
    let mut c = c;
    c.kill9(1);
    let status = c
        .spawn_with(1, &[("SYNOD_STORAGE__BACKEND", "wal")])
        .wait()
        .unwrap();
    assert!(!status.success());
    let logs = c.logs();
    assert!(
        logs.contains("another storage backend") && logs.contains("synod.redb"),
        "{}",
        tail(&logs, 20)
    );
}

/// Writes keys from several clients, kills every node with SIGKILL, restarts them all from
/// their data directories, and reads every acknowledged key back.
fn every_acknowledged_write_survives_kill_9_of_every_node(
    protocol: &str,
    storage: &str,
) -> Cluster {
    let mut c = Cluster::start_with(protocol, 3, storage);
    c.leader(&[1, 2, 3]);
    let acknowledged = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for client in 0..4usize {
            let (c, acknowledged) = (&c, &acknowledged);
            s.spawn(move || {
                for i in 0..40 {
                    let key = format!("k{client}-{i}");
                    let node = (client + i) % 3 + 1;
                    if c.put(node, &key, &format!("v{i}")) == Ok(200) {
                        acknowledged.lock().unwrap().push((key, format!("v{i}")));
                    }
                }
            });
        }
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(
        acknowledged.len() >= 150,
        "only {} of 160 writes were acknowledged",
        acknowledged.len()
    );

    for id in 1..=3 {
        c.kill9(id);
    }
    for id in 1..=3 {
        let child = c.spawn(id);
        c.children[id - 1] = Some(child);
    }
    c.leader(&[1, 2, 3]);
    for (i, (key, value)) in acknowledged.iter().enumerate() {
        let node = i % 3 + 1;
        let got = wait_for(Duration::from_secs(20), "a read after the restart", || {
            c.get(node, key)
        });
        assert_eq!(
            &got, value,
            "acknowledged write {key} lost after kill -9 of every node"
        );
    }
    c
}

#[test]
fn a_node_kept_down_while_the_others_compact_catches_up_through_a_snapshot() {
    for protocol in common::linearizable_protocols() {
        lagging_node_catches_up_through_a_snapshot(protocol);
    }
}

fn lagging_node_catches_up_through_a_snapshot(protocol: &str) {
    let mut c = Cluster::start_with(
        protocol,
        3,
        // Images encoded five keys per step, between writes: the lagging node must get the
        // store as it was at the snapshot's position, whatever was written meanwhile.
        "snapshot_entries = 20\nsnapshot_chunk_bytes = 4096\nsnapshot_keys_per_step = 5",
    );
    let leader = c.leader(&[1, 2, 3]);
    let down = if leader == 3 { 2 } else { 3 };
    let up: Vec<usize> = (1..=3).filter(|&i| i != down).collect();
    c.kill9(down);
    for i in 0..120 {
        let node = up[i % 2];
        let value = format!("{i}-{}", "x".repeat(100));
        wait_for(Duration::from_secs(10), "a write", || {
            c.put(node, &format!("key{i}"), &value).ok()
        });
    }
    // The down node missed everything after the first entries; any compaction past them
    // means it can only catch up through a snapshot. (A store snapshots at most once per as
    // many entries as it holds keys, so after 120 keys the last snapshot is somewhere past 20.)
    for &id in &up {
        let s = c.status(id).unwrap();
        assert!(
            s["snapshot_index"].as_u64() >= Some(20),
            "node {id} did not compact: {s}"
        );
    }
    let child = c.spawn(down);
    c.children[down - 1] = Some(child);
    let target = c.status(up[0]).unwrap()["applied_index"].as_u64().unwrap();
    wait_for(
        Duration::from_secs(30),
        "the restarted node to catch up",
        || {
            let s = c.status(down)?;
            (s["applied_index"].as_u64()? >= target).then_some(())
        },
    );
    let s = c.status(down).unwrap();
    assert!(
        s["snapshot_index"].as_u64() >= Some(20),
        "it caught up without a snapshot: {s}"
    );
    let logs = std::fs::read_to_string(c.dir.join(format!("node-{down}.log"))).unwrap();
    assert!(logs.contains("installed a snapshot"), "{}", tail(&logs, 20));
    for i in 0..120 {
        let url = format!("{}/v1/kv/key{i}?consistency=stale", c.http[down - 1]);
        let got = ureq::get(&url).call().unwrap().into_string().unwrap();
        assert_eq!(
            got,
            format!("{i}-{}", "x".repeat(100)),
            "key{i} on the caught-up node"
        );
    }
}

/// Bad HTTP requests get a clear error and change nothing; the node goes on serving. Review
/// finding: `%FF` and `%FE` were both decoded to U+FFFD, two keys silently made one.
#[test]
fn bad_http_requests_get_clear_errors_and_change_nothing() {
    let cluster = Cluster::start("raft", 3);
    let leader = cluster.leader(&[1, 2, 3]);
    let url = |path: &str| format!("{}{path}", cluster.http[leader - 1]);
    let status = |r: Result<ureq::Response, ureq::Error>| match r {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{e}"),
    };
    let put = |path: &str, body: &str| status(ureq::put(&url(path)).send_string(body));
    let long_key = "k".repeat(2000);
    for (what, (code, body), want, error) in [
        (
            "a key past max_key_bytes",
            put(&format!("/v1/kv/{long_key}"), "v"),
            400,
            "bad_key",
        ),
        (
            "a key that is not UTF-8",
            put("/v1/kv/%FF", "v"),
            400,
            "bad_key",
        ),
        (
            "a value past max_value_bytes",
            put("/v1/kv/big", &"v".repeat(1_100_000)),
            413,
            "",
        ),
        (
            "a bad request id",
            status(
                ureq::put(&url("/v1/kv/a"))
                    .set("synod-request-id", "x")
                    .send_string("v"),
            ),
            400,
            "bad_request_id",
        ),
        (
            "a cas that is not JSON",
            status(ureq::post(&url("/v1/kv/a/cas")).send_string("{not json")),
            400,
            "",
        ),
        (
            "a key never written",
            status(ureq::get(&url("/v1/kv/nothing")).call()),
            404,
            "",
        ),
    ] {
        assert_eq!(code, want, "{what}: {body}");
        assert!(body.contains(error), "{what}: {body}");
    }
    assert_eq!(cluster.put(leader, "a", "fine"), Ok(200));
    assert_eq!(cluster.get(leader, "a").as_deref(), Some("fine"));
    assert_eq!(
        cluster.get(leader, "big"),
        None,
        "the refused value was not written"
    );
}

/// Sends the head of a PUT and all but the last byte of its `len`-byte body, then stalls.
fn slow_put(http: &str, key: &str, len: usize) -> TcpStream {
    let addr = http.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    let head =
        format!("PUT /v1/kv/{key} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&vec![b'a'; len - 1]).unwrap();
    stream
}

/// The response on `stream`, as text, read until the end of its JSON body (or EOF).
fn response(mut stream: TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"}") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Found by a review of what breaks at scale: the HTTP server had no deadline on a body and
/// no bound on the bodies it held, so slow or many large requests could hold a node's memory
/// without limit. Now a stalled body gets 408 after `request_timeout_ms`, and past
/// `limits.max_pending_bytes` a write gets 503 `overloaded`; neither is executed, and the node
/// serves again once the bodies are gone.
#[test]
fn stalled_bodies_time_out_and_past_the_budget_writes_are_refused_not_held() {
    let mut c = Cluster::start("raft", 1);
    c.leader(&[1]);
    c.kill9(1);
    let env = [
        ("SYNOD_LIMITS__MAX_VALUE_BYTES", "1000"),
        // The least allowed: the largest cas body, two 1000-byte values in base64 plus 1024.
        ("SYNOD_LIMITS__MAX_PENDING_BYTES", "3696"),
    ];
    c.children[0] = Some(c.spawn_with(1, &env));
    c.leader(&[1]);

    let stalled: Vec<TcpStream> = (0..3)
        .map(|i| slow_put(&c.http[0], &format!("slow{i}"), 1000))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // 2,997 bytes held: 800 more do not fit.
    let refused = ureq::put(&format!("{}/v1/kv/other", c.http[0])).send_string(&"c".repeat(800));
    match refused {
        Err(ureq::Error::Status(503, r)) => {
            let body = r.into_string().unwrap_or_default();
            assert!(body.contains("overloaded"), "{body}");
        }
        other => panic!("expected 503 overloaded past the budget, got {other:?}"),
    }

    for stream in stalled {
        let text = response(stream);
        assert!(
            text.starts_with("HTTP/1.1 408") && text.contains("body_timeout"),
            "a stalled body: {text}"
        );
    }
    // Nothing refused was written, and the budget is back: the node takes writes again.
    assert_eq!(c.get(1, "other"), None, "the refused write was executed");
    assert_eq!(c.put(1, "other", &"b".repeat(800)), Ok(200));
    for key in ["slow0", "slow1", "slow2"] {
        assert_eq!(c.get(1, key), None, "{key} was never complete");
    }
}

/// Found by a review: a cas's JSON carried values as strings only, so a value that is not UTF-8
/// came back altered (U+FFFD) in a 409 and could not be compared or set by a cas at all. Now
/// such values go as base64 both ways.
#[test]
fn a_cas_on_a_value_that_is_not_utf8_goes_by_base64_and_loses_nothing() {
    let c = Cluster::start("raft", 1);
    c.leader(&[1]);
    let url = |path: &str| format!("{}{path}", c.http[0]);
    let binary: &[u8] = &[0xff, 0x00, 0xfe];
    assert_eq!(
        ureq::put(&url("/v1/kv/bin"))
            .send_bytes(binary)
            .unwrap()
            .status(),
        200
    );
    let cas = |body: &str| match ureq::post(&url("/v1/kv/bin/cas"))
        .set("Content-Type", "application/json")
        .send_string(body)
    {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{e}"),
    };
    let (code, body) = cas(r#"{"expected": "x", "value": "y"}"#);
    assert_eq!(code, 409, "{body}");
    assert!(body.contains(r#""current_base64":"/wD+""#), "{body}");
    assert!(!body.contains('\u{fffd}'), "{body}");

    let (code, body) = cas(r#"{"expected": "x", "expected_base64": "/wD+"}"#);
    assert_eq!((code, body.contains("not both")), (400, true), "{body}");
    let (code, body) = cas(r#"{"expected_base64": "not base64!"}"#);
    assert_eq!((code, body.contains("bad_json")), (400, true), "{body}");

    let (code, body) = cas(r#"{"expected_base64": "/wD+", "value_base64": "AQI="}"#);
    assert_eq!(code, 200, "{body}");
    let mut got = Vec::new();
    ureq::get(&url("/v1/kv/bin"))
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, [1, 2]);
    // A UTF-8 value still comes back as a string.
    let (code, body) = cas(r#"{"expected_base64": "/wD+", "value": "z"}"#);
    assert_eq!(code, 409, "{body}");
    assert!(body.contains(r#""current":"\u0001\u0002""#), "{body}");

    // Review finding: the body limit counted raw values, so a cas of two values of the
    // largest size in base64 (4 bytes per 3) was refused with 413.
    use base64::Engine;
    let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
    let (old, new) = (vec![0xff; 1 << 20], vec![0xfe; 1 << 20]);
    ureq::put(&url("/v1/kv/bin")).send_bytes(&old).unwrap();
    let (code, body) = cas(&format!(
        r#"{{"expected_base64": "{}", "value_base64": "{}"}}"#,
        b64(&old),
        b64(&new)
    ));
    assert_eq!(code, 200, "{}", &body[..body.len().min(200)]);
}

/// `/health` answers while the process serves; `/ready` only while the node can serve a
/// linearizable request: with a majority down it says why it is not.
#[test]
fn health_and_ready_tell_a_serving_node_from_one_that_can_serve_linearizably() {
    for protocol in common::linearizable_protocols() {
        let mut c = Cluster::start(protocol, 3);
        c.leader(&[1, 2, 3]);
        let http = c.http.clone();
        let get = |id: usize, path: &str| match ureq::get(&format!("{}{path}", http[id - 1])).call()
        {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        };
        for id in 1..=3 {
            let (code, body) = wait_for(Duration::from_secs(10), "every node ready", || {
                let answer = get(id, "/ready");
                (answer.0 == 200).then_some(answer)
            });
            assert!(
                body.contains("\"ready\":true"),
                "{protocol} node {id}: {code} {body}"
            );
            assert_eq!(get(id, "/health").0, 200, "{protocol} node {id}");
        }
        c.kill9(2);
        c.kill9(3);
        let (code, body) = wait_for(Duration::from_secs(10), "node 1 not ready", || {
            let answer = get(1, "/ready");
            (answer.0 == 503).then_some(answer)
        });
        assert!(
            body.contains("\"ready\":false") && body.contains("reason"),
            "{protocol}: {code} {body}"
        );
        assert_eq!(get(1, "/health").0, 200, "{protocol}: node 1 still serves");
    }
}

/// `GET /metrics` of a real node is Prometheus text a parser reads, and its numbers follow
/// what the cluster did: requests by route and status, persists, applies, the leader.
#[test]
fn metrics_are_prometheus_text_that_follows_the_cluster() {
    let c = Cluster::start("raft", 3);
    let leader = c.leader(&[1, 2, 3]);
    for i in 0..20 {
        assert_eq!(c.put(leader, &format!("m{i}"), "v"), Ok(200));
    }
    let text = ureq::get(&format!("{}/metrics", c.http[leader - 1]))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => *v,
                prometheus_parse::Value::Histogram(buckets) => {
                    buckets.iter().map(|b| b.count).fold(0.0, f64::max)
                }
                other => panic!("{name}: unexpected {other:?}"),
            })
            .sum()
    };
    let node = leader.to_string();
    let puts = value(
        "synod_http_requests_total",
        &[
            ("route", "/v1/kv/:key"),
            ("method", "PUT"),
            ("status", "200"),
            ("node", &node),
        ],
    );
    assert!(puts >= 20.0, "PUT 200 counted {puts} times:\n{text}");
    assert_eq!(value("synod_is_leader", &[]), 1.0, "{text}");
    assert!(value("synod_applied_total", &[]) >= 20.0, "{text}");
    assert!(value("synod_applied_index", &[]) >= 20.0, "{text}");
    assert!(
        value("synod_persist_duration_seconds", &[("role", "raft")]) >= 1.0,
        "no persist recorded:\n{text}"
    );
    assert!(
        value("synod_messages_total", &[("path", "queued_tcp")]) > 0.0,
        "{text}"
    );
    assert!(
        value("synod_http_request_duration_seconds", &[]) >= 20.0,
        "{text}"
    );
}
