//! The network actor of a Synod node: it routes [`Envelope`](synod_messages::Envelope)s between
//! actors addressed as `(node, role)`, wherever they live, through one fault filter.
//!
//! ```text
//!  local actor ──Send(env)──▶ Router ──▶ Faults::decide(from, to)
//!                                            │  [] = drop; one delay per copy
//!                                            ▼
//!                      ┌──── to.node == own node ──▶ local recipient of to.role ──Deliver──▶ actor
//!         after delay  ├──── to.node in LocalHub ──▶ that Router ──Inbound──▶ its local recipient
//!                      └──── to.node in peers ────▶ per-peer queue ─▶ outbound TCP session
//!                                                                          │ Handshake, frames
//!                                                                          ▼
//!                        peer's listener ─▶ inbound session ─Inbound─▶ peer's Router ─Deliver─▶
//! ```
//!
//! * The filter runs once, on the sending side, for every destination (even the node itself), so
//!   a test cuts a link the same way whether the nodes share a process or not. Envelopes arriving
//!   from another router ([`LocalHub`] or TCP) are delivered without filtering again.
//! * TCP: each node dials every peer it sends to (one connection per peer, a queue of frames
//!   bounded by count and by bytes, batched writes, capped exponential reconnect backoff) and accepts its peers' connections. The first
//!   frame is a [`Handshake`](synod_messages::Handshake); a wrong version, cluster id or an
//!   unknown node id closes the connection, as does any undecodable or oversized frame.
//! * Loss is allowed everywhere (full queues, broken connections): the protocols above tolerate
//!   it.

mod config;
mod faults;
mod hub;
mod message;
mod queue;
mod router;
mod tcp;
pub mod throttle;

pub use config::{NetworkConfig, NetworkError};
pub use faults::Faults;
pub use hub::LocalHub;
pub use message::{
    Deliver, GetLocalAddr, GetQueued, GetStats, NetworkStats, Register, Send, Shutdown, Unregister,
};
pub use router::Router;
