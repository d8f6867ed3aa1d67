//! Deterministic simulation of Synod's pure protocol cores under faults.
//!
//! ```text
//!   seed ─► StdRng ─► schedule of faults (scenario)      clients ─► put/get/delete/cas
//!                          │                                │          (history)
//!                          ▼                                ▼
//!   event loop: earliest of { fault, message, tick(node), client } ─► step one node
//!                          │
//!          after every step: Invariants::observe ─► first broken invariant = failure
//!   at the end: liveness after the faults stop, linearizability of the history, then
//!   a quiet time (no clients, no faults) after which every node that is up applied as much
//! ```
//!
//! No actix, no threads, no clocks: nodes run the same role cores the real nodes run, started
//! by each registered protocol ([`synod_core::Protocol::start`]) and checked by its own
//! invariants ([`synod_core::Protocol::invariants`]), their storage is [`synod_core::MemoryStorage`] (a crash keeps only what
//! was persisted), and the network is a priority queue of messages with loss, duplication,
//! heavy-tailed delays, partitions and one-way cuts. The same seed gives the same run; a failure
//! prints the seed and the command that replays it.

mod client;
mod faults;
pub mod invariants;
pub mod net;
mod reads;
pub mod replica;
pub mod run;
pub mod scenario;
pub mod workload;

pub use replica::Protocol;
pub use run::{run, run_seeds, Failure, Report, SimConfig};
pub use scenario::Scenario;
