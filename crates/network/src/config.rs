//! The router's configuration and its error type.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use synod_messages::NodeId;

/// How one node's router is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    /// This node's id.
    pub node: NodeId,
    /// The cluster this node belongs to; peers of another cluster are refused at handshake.
    pub cluster_id: String,
    /// Where to accept peer connections (`None`: in-process only, no listener).
    pub listen: Option<SocketAddr>,
    /// Every *other* node's peer address. Only these node ids may connect to us, and envelopes to
    /// nodes that are neither local, in the [`LocalHub`](crate::LocalHub) nor listed here are
    /// dropped.
    pub peers: BTreeMap<NodeId, SocketAddr>,
    /// The largest frame body, in bytes, we send or accept.
    pub max_frame: usize,
    /// First delay before reconnecting to a peer; doubles after each failure...
    pub reconnect_min: Duration,
    /// ... up to this cap.
    pub reconnect_max: Duration,
    /// Capacity of each peer's outbound queue; when full, new envelopes to that peer are dropped.
    pub outbound_queue: usize,
    /// Bytes of frames each peer's outbound queue holds (plus at most one frame) before new
    /// envelopes to that peer are dropped.
    pub outbound_queue_bytes: usize,
    /// How long an accepted connection may take to send its handshake before it is closed.
    pub handshake_timeout: Duration,
    /// The protocol this node runs (`protocol` in the config); peers must run the same.
    pub protocol: String,
}

impl NetworkConfig {
    /// Default maximum frame size: 16 MiB.
    pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

    /// A config for `node` of `cluster_id` with no listener, no peers and default limits:
    /// 16 MiB frames, reconnect backoff 50 ms .. 2 s, queues of 4096 envelopes and 64 MiB, 5 s
    /// handshake timeout.
    pub fn new(node: NodeId, cluster_id: impl Into<String>) -> Self {
        Self {
            node,
            cluster_id: cluster_id.into(),
            listen: None,
            peers: BTreeMap::new(),
            max_frame: Self::DEFAULT_MAX_FRAME,
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
            outbound_queue: 4096,
            outbound_queue_bytes: 4 * Self::DEFAULT_MAX_FRAME,
            handshake_timeout: Duration::from_secs(5),
            protocol: String::new(),
        }
    }
}

/// Why the router could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The peer listener could not bind its address.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from the config.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The config is unusable.
    #[error("invalid network config: {0}")]
    Config(String),
}

impl NetworkConfig {
    /// Checks the config for values the router cannot work with.
    pub fn validate(&self) -> Result<(), NetworkError> {
        if self.peers.contains_key(&self.node) {
            return Err(NetworkError::Config(format!(
                "peers must list only other nodes, but it lists this node ({})",
                self.node
            )));
        }
        if self.max_frame == 0 || self.max_frame > u32::MAX as usize {
            return Err(NetworkError::Config(format!(
                "max_frame must be in 1..={}, got {}",
                u32::MAX,
                self.max_frame
            )));
        }
        if self.outbound_queue == 0 || self.outbound_queue_bytes == 0 {
            return Err(NetworkError::Config(
                "outbound_queue and outbound_queue_bytes must be at least 1".into(),
            ));
        }
        if self.reconnect_min.is_zero() || self.reconnect_min > self.reconnect_max {
            return Err(NetworkError::Config(format!(
                "need 0 < reconnect_min <= reconnect_max, got {:?} and {:?}",
                self.reconnect_min, self.reconnect_max
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid_and_bad_ones_are_refused() {
        let good = NetworkConfig::new(1, "c");
        assert!(good.validate().is_ok());

        let mut own = good.clone();
        own.peers.insert(1, "127.0.0.1:1".parse().unwrap());
        assert!(matches!(own.validate(), Err(NetworkError::Config(_))));

        let mut queue = good.clone();
        queue.outbound_queue = 0;
        assert!(queue.validate().is_err());

        let mut bytes = good.clone();
        bytes.outbound_queue_bytes = 0;
        assert!(bytes.validate().is_err());

        let mut frame = good.clone();
        frame.max_frame = 0;
        assert!(frame.validate().is_err());

        let mut backoff = good;
        backoff.reconnect_min = backoff.reconnect_max * 2;
        assert!(backoff.validate().is_err());
    }
}
