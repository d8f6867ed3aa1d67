//! Checking a config beyond what serde checks, and the visitors that ask the protocols.

use super::Config;
use std::collections::BTreeSet;
use synod_core::{Member, Protocol, Visitor};

/// Most HTTP worker threads per node.
const MAX_HTTP_WORKERS: usize = 256;

impl Config {
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
pub(super) struct TickMs<'a>(pub(super) &'a Config);

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
