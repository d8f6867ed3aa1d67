//! Helpers shared by the end-to-end suites.

#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

pub mod cluster;

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// Ports the OS says are free right now.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// The registered protocols that promise linearizable results: every suite runs its
/// scenarios on each of them.
pub fn linearizable_protocols() -> Vec<&'static str> {
    #[derive(Clone)]
    struct Promises;
    impl synod_core::Visitor for Promises {
        type Output = synod_core::Guarantee;
        fn visit<P: synod_core::Protocol>(self) -> synod_core::Guarantee {
            P::GUARANTEE
        }
    }
    synod_registry::NAMES
        .iter()
        .copied()
        .filter(|name| {
            synod_registry::visit(name, Promises) == Some(synod_core::Guarantee::Linearizable)
        })
        .collect()
}

/// A config for `n` nodes on loopback with fast ticks, kept in memory.
pub fn config_toml(protocol: &str, n: usize, tick_ms: u64, timeout_ms: u64) -> String {
    config_toml_with(protocol, n, tick_ms, timeout_ms, "backend = \"memory\"")
}

/// The same with `storage` as the body of the `[storage]` section.
pub fn config_toml_with(
    protocol: &str,
    n: usize,
    tick_ms: u64,
    timeout_ms: u64,
    storage: &str,
) -> String {
    let ports = free_ports(2 * n);
    let mut s = format!(
        "cluster_id = \"e2e\"\nprotocol = \"{protocol}\"\n\n[{protocol}]\ntick_ms = {tick_ms}\n\n[limits]\nrequest_timeout_ms = {timeout_ms}\n\n[storage]\n{storage}\n\n"
    );
    for i in 0..n {
        s += &format!(
            "[[nodes]]\nid = {}\npeer_addr = \"127.0.0.1:{}\"\nhttp_addr = \"127.0.0.1:{}\"\n\n",
            i + 1,
            ports[2 * i],
            ports[2 * i + 1]
        );
    }
    s
}

/// Polls `f` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
