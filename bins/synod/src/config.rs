//! The config file: TOML, with `SYNOD_`-prefixed environment overrides (`SYNOD_PROTOCOL=raft`,
//! `SYNOD_RAFT__TICK_MS=20`, `SYNOD_LIMITS__REQUEST_TIMEOUT_MS=2000`).

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use synod_core::{Member, Protocol, Visitor};
use synod_messages::NodeId;

/// A config that cannot be used, with the field and what is allowed.
#[derive(Debug, thiserror::Error)]
#[error("config {path}: {message}")]
pub struct ConfigError {
    /// The file.
    pub path: String,
    /// What is wrong, naming the field.
    pub message: String,
}

/// One node of the cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's id: a positive integer, unique in the cluster.
    pub id: NodeId,
    /// Where other nodes reach it (TCP).
    pub peer_addr: SocketAddr,
    /// Where clients reach it (HTTP).
    pub http_addr: SocketAddr,
    /// This node's own data directory (default: under `storage.data_dir`).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// The roles the node hosts, for protocols with more than one (Paxos: default all three;
    /// every node hosts a learner, which feeds its KV store; `["learner"]` makes an observer
    /// that does not vote). The protocol checks the names.
    #[serde(default)]
    pub roles: Option<Vec<String>>,
}

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

/// The whole config.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// Nodes refuse peers of another cluster.
    #[serde(default = "default_cluster_id")]
    pub cluster_id: String,
    /// The protocol's name, one of the registry's (`"raft"`, `"paxos"`).
    pub protocol: String,
    /// Seed of the protocol's RNG (random if absent).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Every node of the cluster.
    pub nodes: Vec<NodeConfig>,
    /// Durable state.
    #[serde(default)]
    pub storage: StorageSection,
    /// Peer transport.
    #[serde(default)]
    pub network: NetworkSection,
    /// Client limits.
    #[serde(default)]
    pub limits: LimitsSection,
    /// The client API's server.
    #[serde(default)]
    pub http: HttpSection,
    /// Test-only switches.
    #[serde(default)]
    pub admin: AdminSection,
    /// Every other table: the protocols' own sections (`[raft]`, `[paxos]`), each read by its
    /// protocol; a table no registered protocol owns is refused by name.
    #[serde(flatten)]
    pub sections: BTreeMap<String, config::Value>,
}

/// Most HTTP worker threads per node.
const MAX_HTTP_WORKERS: usize = 256;

fn default_cluster_id() -> String {
    "synod".into()
}

impl Config {
    /// Reads `path` with environment overrides and checks it.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError {
            path: path.display().to_string(),
            message,
        };
        if !path.is_file() {
            return Err(err("no such file".into()));
        }
        let raw = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("SYNOD")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| err(e.to_string()))?;
        let cfg: Config = raw.try_deserialize().map_err(|e| err(e.to_string()))?;
        cfg.validate().map_err(err)?;
        Ok(cfg)
    }

    /// Parses a TOML string (no environment), for tests.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError {
            path: "<inline>".into(),
            message,
        };
        let raw = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Toml))
            .build()
            .map_err(|e| err(e.to_string()))?;
        let cfg: Config = raw.try_deserialize().map_err(|e| err(e.to_string()))?;
        cfg.validate().map_err(err)?;
        Ok(cfg)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok = !self.cluster_id.is_empty()
            && self.cluster_id != "."
            && self.cluster_id != ".."
            && self
                .cluster_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !id_ok {
            return Err(format!(
                "`cluster_id` {:?} must be letters, digits, '-', '_' or '.' (it names the data directory)",
                self.cluster_id
            ));
        }
        if self.nodes.is_empty() {
            return Err(
                "`nodes` is empty: list at least one [[nodes]] with id, peer_addr, http_addr"
                    .into(),
            );
        }
        let mut ids = BTreeSet::new();
        let mut addrs = BTreeSet::new();
        for n in &self.nodes {
            if n.id == 0 {
                return Err("`nodes.id` must be a positive integer, got 0".into());
            }
            if !ids.insert(n.id) {
                return Err(format!("`nodes.id` {} appears twice", n.id));
            }
            for addr in [n.peer_addr, n.http_addr] {
                if !addrs.insert(addr) {
                    return Err(format!(
                        "address {addr} (node {}) is used twice in `nodes`",
                        n.id
                    ));
                }
            }
        }
        self.validate_protocol()?;
        // The largest command, a cas with an expected value and a new one, fits one frame.
        let largest = self
            .limits
            .max_value_bytes
            .saturating_mul(2)
            .saturating_add(self.limits.max_key_bytes)
            .saturating_add(4096);
        if self.network.max_frame_bytes > synod_messages::codec::DECODE_LIMIT {
            return Err(format!(
                "`network.max_frame_bytes` ({}) must be at most {} (what a receiver decodes)",
                self.network.max_frame_bytes,
                synod_messages::codec::DECODE_LIMIT
            ));
        }
        if largest > self.network.max_frame_bytes {
            return Err(format!(
                "`network.max_frame_bytes` ({}) must be at least twice `limits.max_value_bytes` ({}) plus `limits.max_key_bytes` ({}) plus 4096 (the largest cas)",
                self.network.max_frame_bytes, self.limits.max_value_bytes, self.limits.max_key_bytes
            ));
        }
        if self.storage.snapshot_chunk_bytes == 0
            || self.storage.snapshot_chunk_bytes + 4096 > self.network.max_frame_bytes
        {
            return Err(format!(
                "`storage.snapshot_chunk_bytes` ({}) must be at least 1 and at most `network.max_frame_bytes` ({}) - 4096",
                self.storage.snapshot_chunk_bytes, self.network.max_frame_bytes
            ));
        }
        if self.storage.snapshot_keys_per_step == 0 {
            return Err("`storage.snapshot_keys_per_step` must be at least 1".into());
        }
        if self.limits.request_timeout_ms == 0 {
            return Err("`limits.request_timeout_ms` must be at least 1".into());
        }
        if self.network.reconnect_min_ms == 0
            || self.network.reconnect_max_ms < self.network.reconnect_min_ms
        {
            return Err("`network.reconnect_min_ms` must be at least 1 and at most `network.reconnect_max_ms`".into());
        }
        let largest_body = synod_runtime::http::max_cas_body(self.limits.max_value_bytes);
        if self.limits.max_pending_bytes < largest_body {
            return Err(format!(
                "`limits.max_pending_bytes` ({}) must hold the largest cas body, two values of `limits.max_value_bytes` in base64 plus 1024 ({largest_body})",
                self.limits.max_pending_bytes
            ));
        }
        if self.network.outbound_queue == 0 || self.network.outbound_queue_bytes == 0 {
            return Err(
                "`network.outbound_queue` and `network.outbound_queue_bytes` must be at least 1"
                    .into(),
            );
        }
        if !(1..=MAX_HTTP_WORKERS).contains(&self.http.workers) {
            return Err(format!(
                "`http.workers` ({}) must be between 1 and {MAX_HTTP_WORKERS}",
                self.http.workers
            ));
        }
        Ok(())
    }

    /// The protocol is registered, the other tables are protocol sections, and the chosen
    /// protocol accepts its section and the nodes' roles (other protocols' sections must parse).
    fn validate_protocol(&self) -> Result<(), String> {
        if synod_registry::visit(&self.protocol, Noop).is_none() {
            return Err(format!(
                "`protocol` {:?} is not a protocol of this build (allowed values of `protocol`: {})",
                self.protocol,
                synod_registry::allowed()
            ));
        }
        for name in self.sections.keys() {
            if !synod_registry::NAMES.contains(&name.as_str()) {
                return Err(format!(
                    "unknown field `{name}`, expected one of `cluster_id`, `protocol`, `seed`, `nodes`, `storage`, `network`, `limits`, `http`, `admin`, or a protocol's section ({})",
                    synod_registry::allowed()
                ));
            }
            let chosen = *name == self.protocol;
            let check = CheckSection {
                cfg: self,
                members: chosen.then(|| self.members()),
            };
            synod_registry::visit(name, check).unwrap_or(Ok(()))?;
        }
        if !self.sections.contains_key(&self.protocol) {
            let check = CheckSection {
                cfg: self,
                members: Some(self.members()),
            };
            synod_registry::visit(&self.protocol, check).unwrap_or(Ok(()))?;
        }
        Ok(())
    }

    /// The protocol `P`'s section, `[P::NAME]`, with defaults for what it leaves out.
    pub fn section<P: Protocol>(&self) -> Result<P::Section, String> {
        match self.sections.get(P::NAME) {
            None => Ok(P::Section::default()),
            Some(value) => value
                .clone()
                .try_deserialize()
                .map_err(|e| format!("`[{}]`: {e}", P::NAME)),
        }
    }

    /// The nodes as the protocols see them.
    pub fn members(&self) -> Vec<Member> {
        self.nodes
            .iter()
            .map(|n| Member {
                id: n.id,
                roles: n.roles.clone(),
            })
            .collect()
    }

    /// Most bytes of commands in one message between nodes (an AppendEntries, an Accept, a
    /// Chosen, a forward to the leader): a quarter of a frame, so batches of large values
    /// never outgrow one. A single command always fits (see the validation).
    pub fn max_batch_bytes(&self) -> usize {
        (self.network.max_frame_bytes / 4).max(1)
    }

    /// The tick of the configured protocol (validated configs only).
    pub fn tick(&self) -> std::time::Duration {
        let ms = synod_registry::visit(&self.protocol, TickMs(self))
            .and_then(Result::ok)
            .unwrap_or(50);
        std::time::Duration::from_millis(ms)
    }

    /// The directory of node `id`'s state.
    pub fn data_dir(&self, node: &NodeConfig) -> PathBuf {
        node.data_dir.clone().unwrap_or_else(|| {
            self.storage
                .data_dir
                .join(&self.cluster_id)
                .join(format!("node-{}", node.id))
        })
    }

    /// The node with `id`.
    pub fn node(&self, id: NodeId) -> Result<&NodeConfig, ConfigError> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or_else(|| ConfigError {
                path: "--id".into(),
                message: format!(
                    "node {id} is not in the config; its nodes are {:?}",
                    self.nodes.iter().map(|n| n.id).collect::<Vec<_>>()
                ),
            })
    }
}

/// Parses (and with members, validates) one protocol's section.
#[derive(Clone)]
struct CheckSection<'a> {
    cfg: &'a Config,
    /// The nodes, for the chosen protocol; `None` for another protocol's section.
    members: Option<Vec<Member>>,
}

impl Visitor for CheckSection<'_> {
    type Output = Result<(), String>;
    fn visit<P: Protocol>(self) -> Self::Output {
        let section = self.cfg.section::<P>()?;
        match self.members {
            Some(members) => P::validate(&section, &members),
            None => Ok(()),
        }
    }
}

/// The configured protocol's tick.
#[derive(Clone)]
struct TickMs<'a>(&'a Config);

impl Visitor for TickMs<'_> {
    type Output = Result<u64, String>;
    fn visit<P: Protocol>(self) -> Self::Output {
        Ok(P::tick_ms(&self.0.section::<P>()?))
    }
}

/// Asks only whether a protocol is registered.
#[derive(Clone)]
struct Noop;

impl Visitor for Noop {
    type Output = ();
    fn visit<P: Protocol>(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        protocol = "raft"
        [[nodes]]
        id = 1
        peer_addr = "127.0.0.1:7001"
        http_addr = "127.0.0.1:8001"
    "#;

    #[test]
    fn a_minimal_config_gets_defaults() {
        let cfg = Config::from_toml(GOOD).unwrap();
        assert_eq!(cfg.protocol, "raft");
        assert_eq!(cfg.tick(), std::time::Duration::from_millis(50));
        assert_eq!(cfg.cluster_id, "synod");
        assert_eq!(cfg.storage.backend, Backend::Wal);
        assert_eq!(cfg.data_dir(&cfg.nodes[0]), Path::new("data/synod/node-1"));
    }

    #[test]
    fn a_wrong_protocol_names_the_field_and_the_allowed_values() {
        let err = Config::from_toml(&GOOD.replace("\"raft\"", "\"rafft\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("protocol"), "{err}");
        assert!(err.contains("rafft"), "{err}");
        assert!(err.contains("\"raft\""), "{err}");
        assert!(err.contains("\"paxos\""), "{err}");
    }

    #[test]
    fn paxos_roles_are_checked() {
        let paxos = GOOD.replace("\"raft\"", "\"paxos\"");
        let observer = paxos.replace(
            "http_addr = \"127.0.0.1:8001\"",
            "http_addr = \"127.0.0.1:8001\"\nroles = [\"learner\", \"acceptor\", \"proposer\"]",
        );
        assert!(Config::from_toml(&observer).is_ok());
        let no_learner = paxos.replace(
            "http_addr = \"127.0.0.1:8001\"",
            "http_addr = \"127.0.0.1:8001\"\nroles = [\"acceptor\", \"proposer\"]",
        );
        let err = Config::from_toml(&no_learner).unwrap_err().to_string();
        assert!(err.contains("must include \"learner\""), "{err}");
        let bad = paxos.replace(
            "http_addr = \"127.0.0.1:8001\"",
            "http_addr = \"127.0.0.1:8001\"\nroles = [\"scribe\"]",
        );
        let err = Config::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains("scribe"), "{err}");
        let raft_roles = GOOD.replace(
            "http_addr = \"127.0.0.1:8001\"",
            "http_addr = \"127.0.0.1:8001\"\nroles = [\"learner\"]",
        );
        let err = Config::from_toml(&raft_roles).unwrap_err().to_string();
        assert!(err.contains("roles"), "{err}");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused_by_name() {
        let err = Config::from_toml(&format!("{GOOD}\n[raft]\ntick_msec = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tick_msec"), "{err}");
        let err = Config::from_toml(&format!("{GOOD}\n[raft]\nelection_ticks_min = 30\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("election_ticks_max"), "{err}");
        let paxos = GOOD.replace("\"raft\"", "\"paxos\"");
        let err = Config::from_toml(&format!("{paxos}\n[paxos]\nmax_inflight = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("paxos.max_inflight"), "{err}");
        let err = Config::from_toml(&format!("{GOOD}\n[storage]\nsnapshot_keys_per_step = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("snapshot_keys_per_step"), "{err}");
        let err = Config::from_toml(&format!("{GOOD}\n[network]\noutbound_queue_bytes = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("outbound_queue_bytes"), "{err}");
        let err = Config::from_toml(&format!("{GOOD}\n[http]\nworkers = 0\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.workers"), "{err}");
        let err = Config::from_toml(&format!("{GOOD}\n[limits]\nmax_pending_bytes = 1000\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_pending_bytes"), "{err}");
        // A cas of two 1 MiB values does not fit a 2 MiB frame.
        let err = Config::from_toml(&format!(
            "{GOOD}\n[network]\nmax_frame_bytes = 2097152\n[limits]\nmax_value_bytes = 1048576\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("max_frame_bytes") && err.contains("cas"),
            "{err}"
        );
        let err = Config::from_toml(&format!(
            "{GOOD}\n[network]\nmax_frame_bytes = 1073741824\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("at most"), "{err}");
        let err = Config::from_toml(&GOOD.replace("127.0.0.1:7001", "nowhere"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("peer_addr"), "{err}");
    }

    #[test]
    fn tables_no_protocol_owns_and_typos_in_any_protocol_section_are_refused() {
        let err = Config::from_toml(&format!("{GOOD}\n[rafft]\ntick_ms = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`rafft`") && err.contains("\"paxos\""),
            "{err}"
        );
        // Another protocol's section is read too, so switching protocols finds no surprise.
        let err = Config::from_toml(&format!("{GOOD}\n[paxos]\nresend_tick = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("resend_tick") && err.contains("[paxos]"),
            "{err}"
        );
        let cfg = Config::from_toml(&format!("{GOOD}\n[paxos]\nresend_ticks = 3\n")).unwrap();
        let paxos = cfg.sections["paxos"].clone().into_table().unwrap();
        assert_eq!(paxos["resend_ticks"].clone().into_int().unwrap(), 3);
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let twice = format!(
            "{GOOD}{}",
            GOOD.replace("protocol = \"raft\"", "")
                .replace("7001", "7002")
                .replace("8001", "8002")
        );
        let err = Config::from_toml(&twice).unwrap_err().to_string();
        assert!(err.contains("appears twice"), "{err}");
    }

    #[test]
    fn the_shipped_configs_load() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../configs");
        for name in ["raft.toml", "raft-5.toml", "paxos.toml", "paxos-5.toml"] {
            let cfg = Config::load(&Path::new(dir).join(name)).unwrap();
            assert!(cfg.nodes.len() >= 3, "{name}");
        }
    }
}
