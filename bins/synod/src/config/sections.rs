//! The sections of the config with their defaults: `[storage]`, `[http]`, `[admin]`,
//! `[network]`, `[limits]`.

use serde::Deserialize;
use std::path::PathBuf;

/// Where nodes keep their state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// One redb file per node: checksummed, fsync'd before anything depending on it is sent.
    Redb,
    /// One append-only log file per role's state, each persist one record and one
    /// `fdatasync` into space allocated ahead: the cheapest durable write.
    Wal,
    /// Memory only: a restarted node has forgotten everything (tests, demos).
    Memory,
}

/// `[storage]`: the durable state of every node.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// `"wal"` (default), `"redb"` or `"memory"`.
    pub backend: Backend,
    /// Node `N` keeps its state in `{data_dir}/{cluster_id}/node-N/` unless the node sets its
    /// own `data_dir`. Relative paths are relative to the working directory.
    pub data_dir: PathBuf,
    /// Snapshot the state machine and compact the log every this many applied entries
    /// (0: never).
    pub snapshot_entries: u64,
    /// ...and, after `snapshot_entries`, as soon as the log since the last snapshot holds about
    /// this many MiB of commands (the log is kept in memory).
    pub snapshot_log_mb: u64,
    /// Bytes per chunk when a snapshot is sent to a lagging node.
    pub snapshot_chunk_bytes: usize,
    /// Keys of a snapshot image encoded per step of the node's thread, between which it goes on
    /// applying and serving (a step also ends once it holds
    /// [`synod_runtime::service::STEP_BYTES`]).
    pub snapshot_keys_per_step: usize,
    /// MiB of page cache for the node's database file.
    pub cache_mb: usize,
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            backend: Backend::Wal,
            data_dir: PathBuf::from("data"),
            snapshot_entries: 10_000,
            snapshot_log_mb: 32,
            snapshot_chunk_bytes: 1024 * 1024,
            snapshot_keys_per_step: 1024,
            cache_mb: 16,
        }
    }
}

/// `[http]`: the client API's server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Threads that parse HTTP and answer clients (the protocol and the store run on the node's
    /// own thread whatever this says).
    pub workers: usize,
    /// Record metrics and serve them at `GET /metrics` (off: `/metrics` answers 503).
    pub metrics: bool,
}

/// One worker: on a small machine a second one per node only adds thread switches (measured
/// on 2 cores in alternating pairs: 3-node writes no slower, 5-node writes +3 % (Raft) and
/// +10 % (Paxos) in the median; see docs/performance-history.md).
impl Default for HttpSection {
    fn default() -> Self {
        Self {
            workers: 1,
            metrics: true,
        }
    }
}

/// `[admin]`: test-only switches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSection {
    /// Serve `POST /v1/admin/faults`, which cuts this node's links (for fault tests only).
    pub enabled: bool,
}

/// `[network]`: the peer transport.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSection {
    /// Largest frame accepted or sent on a peer connection.
    pub max_frame_bytes: usize,
    /// First reconnect delay.
    pub reconnect_min_ms: u64,
    /// Longest reconnect delay.
    pub reconnect_max_ms: u64,
    /// Messages queued per peer before new ones are dropped.
    pub outbound_queue: usize,
    /// Bytes queued per peer (plus one message) before new messages are dropped: what a peer
    /// that stopped reading can cost this node's memory.
    pub outbound_queue_bytes: usize,
}

impl Default for NetworkSection {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024 * 1024,
            reconnect_min_ms: 50,
            reconnect_max_ms: 2000,
            outbound_queue: 65536,
            outbound_queue_bytes: 128 * 1024 * 1024,
        }
    }
}

/// `[limits]`: what clients may send and how long they wait.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// Largest value, in bytes (larger: 413).
    pub max_value_bytes: usize,
    /// Largest key, in bytes (larger: 400).
    pub max_key_bytes: usize,
    /// How long a request waits for its outcome (then 503 or 504), and for its body to arrive
    /// (then 408).
    pub request_timeout_ms: u64,
    /// Bytes of request bodies (values, cas JSON) a node holds at once, from their first byte
    /// until their command is answered or expires (past it: 503 `overloaded`, nothing done).
    pub max_pending_bytes: usize,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            max_value_bytes: 1024 * 1024,
            max_key_bytes: 1024,
            request_timeout_ms: 5000,
            max_pending_bytes: 256 * 1024 * 1024,
        }
    }
}
