//! The config file: TOML, with `SYNOD_`-prefixed environment overrides (`SYNOD_PROTOCOL=raft`,
//! `SYNOD_RAFT__TICK_MS=20`, `SYNOD_LIMITS__REQUEST_TIMEOUT_MS=2000`).

use serde::Deserialize;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
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

/// Which consensus protocol runs the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Raft: leader, candidate, follower.
    Raft,
}

impl Protocol {
    /// The name used in configs and in `/v1/status`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Raft => "raft",
        }
    }
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
}

/// `[raft]`: timing and batching of Raft, in ticks of `tick_ms`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftSection {
    /// Length of one logical tick in milliseconds.
    pub tick_ms: u64,
    /// Election timeouts are drawn from `[election_ticks_min, election_ticks_max)`.
    pub election_ticks_min: u32,
    /// See `election_ticks_min`.
    pub election_ticks_max: u32,
    /// The leader sends heartbeats every this many ticks.
    pub heartbeat_ticks: u32,
    /// Most entries in one AppendEntries.
    pub max_batch: usize,
    /// Most AppendEntries in flight per follower.
    pub max_inflight: usize,
}

impl Default for RaftSection {
    fn default() -> Self {
        Self {
            tick_ms: 50,
            election_ticks_min: 10,
            election_ticks_max: 20,
            heartbeat_ticks: 2,
            max_batch: 512,
            max_inflight: 8,
        }
    }
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
}

impl Default for NetworkSection {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024 * 1024,
            reconnect_min_ms: 50,
            reconnect_max_ms: 2000,
            outbound_queue: 65536,
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
    /// How long a request waits for its outcome (then 503 or 504).
    pub request_timeout_ms: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        Self {
            max_value_bytes: 1024 * 1024,
            max_key_bytes: 1024,
            request_timeout_ms: 5000,
        }
    }
}

/// The whole config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Nodes refuse peers of another cluster.
    #[serde(default = "default_cluster_id")]
    pub cluster_id: String,
    /// `"raft"` (`"paxos"` arrives with the Multi-Paxos roles).
    pub protocol: Protocol,
    /// Seed of the protocol's RNG (random if absent).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Every node of the cluster.
    pub nodes: Vec<NodeConfig>,
    /// Raft tuning.
    #[serde(default)]
    pub raft: RaftSection,
    /// Peer transport.
    #[serde(default)]
    pub network: NetworkSection,
    /// Client limits.
    #[serde(default)]
    pub limits: LimitsSection,
}

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
        let cfg: Config = raw.try_deserialize().map_err(|e| err(explain(e)))?;
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
        let cfg: Config = raw.try_deserialize().map_err(|e| err(explain(e)))?;
        cfg.validate().map_err(err)?;
        Ok(cfg)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), String> {
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
        let r = &self.raft;
        if r.tick_ms == 0 {
            return Err("`raft.tick_ms` must be at least 1".into());
        }
        if r.heartbeat_ticks == 0 || r.election_ticks_min <= r.heartbeat_ticks {
            return Err(format!(
                "`raft.election_ticks_min` ({}) must exceed `raft.heartbeat_ticks` ({}), which must be at least 1",
                r.election_ticks_min, r.heartbeat_ticks
            ));
        }
        if r.election_ticks_max <= r.election_ticks_min {
            return Err(format!(
                "`raft.election_ticks_max` ({}) must exceed `raft.election_ticks_min` ({})",
                r.election_ticks_max, r.election_ticks_min
            ));
        }
        if r.max_batch == 0 || r.max_inflight == 0 {
            return Err("`raft.max_batch` and `raft.max_inflight` must be at least 1".into());
        }
        if self.limits.max_value_bytes + 4096 > self.network.max_frame_bytes {
            return Err(format!(
                "`network.max_frame_bytes` ({}) must exceed `limits.max_value_bytes` ({}) by at least 4096",
                self.network.max_frame_bytes, self.limits.max_value_bytes
            ));
        }
        if self.limits.request_timeout_ms == 0 {
            return Err("`limits.request_timeout_ms` must be at least 1".into());
        }
        if self.network.reconnect_min_ms == 0
            || self.network.reconnect_max_ms < self.network.reconnect_min_ms
        {
            return Err("`network.reconnect_min_ms` must be at least 1 and at most `network.reconnect_max_ms`".into());
        }
        Ok(())
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

/// Makes serde's message name the allowed protocols when the value is wrong.
fn explain(e: config::ConfigError) -> String {
    let text = e.to_string();
    if text.contains("`protocol`") && text.contains("variant") {
        format!("{text} (allowed values of `protocol`: \"raft\")")
    } else {
        text
    }
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
        assert_eq!(cfg.protocol, Protocol::Raft);
        assert_eq!(cfg.raft.tick_ms, 50);
        assert_eq!(cfg.cluster_id, "synod");
    }

    #[test]
    fn a_wrong_protocol_names_the_field_and_the_allowed_values() {
        let err = Config::from_toml(&GOOD.replace("\"raft\"", "\"rafft\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("protocol"), "{err}");
        assert!(err.contains("rafft"), "{err}");
        assert!(err.contains("\"raft\""), "{err}");
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
        let err = Config::from_toml(&GOOD.replace("127.0.0.1:7001", "nowhere"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("peer_addr"), "{err}");
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
        for name in ["raft.toml", "raft-5.toml"] {
            let cfg = Config::load(&Path::new(dir).join(name)).unwrap();
            assert!(cfg.nodes.len() >= 3, "{name}");
        }
    }
}
