//! The shell's clock: a thread that stood still does not replay the ticks it missed.

#![allow(missing_docs, clippy::unwrap_used)]

use actix::Actor;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use synod_core::{Core, MemoryStorage, Ready, Stateless, Status};
use synod_messages::raft::RaftMessage;
use synod_messages::{ActorAddr, Role};
use synod_network::{Faults, LocalHub, NetworkConfig, Router};
use synod_runtime::Shell;

/// A core that only counts its ticks.
struct Ticks(Arc<AtomicU64>);

impl Core for Ticks {
    type Message = RaftMessage;
    type Persist = Infallible;

    fn on_message(&mut self, _: ActorAddr, _: RaftMessage) {}
    fn on_tick(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn take_ready(&mut self) -> Ready<RaftMessage, Infallible> {
        Ready::default()
    }
    fn status(&self) -> Status {
        Status {
            protocol: "ticks",
            standing: synod_core::Standing::Follower,
            epoch: 0,
            leader: None,
            commit_index: 0,
            last_index: 0,
            ballot: None,
            writes_to: Vec::new(),
            storage_failed: false,
        }
    }
}

#[actix_rt::test]
async fn a_stalled_thread_gets_one_tick_not_every_missed_one() {
    let router = Router::start(
        NetworkConfig::new(1, "ticks"),
        Faults::new(1),
        Some(LocalHub::new()),
    )
    .await
    .unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let ticks = count.clone();
    let _shell = Shell::recover(
        ActorAddr::new(1, Role::named("raft")),
        Box::new(MemoryStorage::<Stateless>::new()),
        move |_| Ticks(ticks.clone()),
        router,
        Duration::from_millis(10),
    )
    .unwrap()
    .start();
    actix_rt::time::sleep(Duration::from_millis(100)).await;
    let before = count.load(Ordering::SeqCst);
    assert!(before >= 1, "the clock runs");
    // The thread stands still for 30 ticks' time (as under SIGSTOP), then runs again.
    std::thread::sleep(Duration::from_millis(300));
    let resumed = std::time::Instant::now();
    actix_rt::time::sleep(Duration::from_millis(5)).await;
    let after = count.load(Ordering::SeqCst);
    // One tick for the stall, and the ticks that fit in the time since (a loaded machine may
    // have taken longer than 5 ms to come back here).
    let allowed = 2 + resumed.elapsed().as_millis() as u64 / 10;
    assert!(
        after - before <= allowed,
        "{} ticks after the stall, {allowed} allowed: missed ticks were replayed",
        after - before
    );
}
