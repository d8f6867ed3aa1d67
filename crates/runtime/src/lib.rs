//! The actor side of Synod: one generic shell that drives any pure core, the KV service actor
//! that clients talk to, and the HTTP API in front of it.
//!
//! ```text
//!  HTTP (actix-web) ──► Service ──Propose──► Shell<Core> ──Send──► Router ──► peers
//!                          ▲  ▲                  │  ▲                  │
//!                          │  └── ApplyBatch ────┘  └──── Deliver ─────┘
//!                          └── Deliver(Forward / Redirect / ReadIndex / ReadIndexReply) ◄─ Router
//! ```
//!
//! * [`shell::Shell`] feeds a [`synod_core::Core`] its inputs (messages, ticks, proposals) and
//!   carries out its outputs in the safe order: persist (one sync), then send, then apply.
//! * [`service::Service`] owns the KV state machine, answers clients, forwards commands to the
//!   leader and waits for them to be applied locally. It snapshots the store when
//!   `snapshot_policy` says so and, given a [`SnapshotWriter`], streams the snapshot into a file
//!   and makes it durable before handing it to the protocol.
//! * A node runs its shells ([`Shell::start_on`]) and its service on its router's thread, so a
//!   message between them wakes no other thread. The service encodes a snapshot of the store a
//!   few keys per step while it goes on applying and serving (the image stays that of its
//!   start), and a blocking thread writes it to disk.
//! * Linearizable reads go to the core as [`msg::Read`] (Raft's ReadIndex, the Paxos read
//!   barrier); a follower's service asks the leader's for the read point (`ReadIndex`).
//! * [`http`] maps the REST API onto the service, bounding the request bodies a node holds at
//!   once ([`admission`]) and how long one may take to arrive; [`admin`] is the test-only fault
//!   switch.

pub mod admin;
pub mod admission;
pub mod health;
pub mod http;
pub mod metrics;
pub mod msg;
mod reads;
pub mod service;
pub mod shell;
mod snapshot_policy;

pub use msg::{
    ApplyBatch, ClientError, ClientRequest, Compact, Consistency, GetNodeStatus, GetStatus,
    NodeStatus, Propose, Read, RoleChanged, Stop,
};
pub use service::{Service, ServiceConfig, SnapshotChunks, SnapshotWriter};
pub use shell::Shell;
pub use snapshot_policy::SnapshotPolicy;
