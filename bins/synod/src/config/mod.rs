//! The config file: TOML, with `SYNOD_`-prefixed environment overrides (`SYNOD_PROTOCOL=raft`,
//! `SYNOD_RAFT__TICK_MS=20`, `SYNOD_LIMITS__REQUEST_TIMEOUT_MS=2000`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use synod_core::{Member, Protocol};
use synod_messages::NodeId;

mod sections;
#[cfg(test)]
mod tests;
mod validate;

pub use sections::{
    AdminSection, Backend, HttpSection, LimitsSection, NetworkSection, StorageSection,
};
use validate::TickMs;

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
