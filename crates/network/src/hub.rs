//! The in-process registry of routers, so several nodes in one process reach each other without
//! TCP.

use crate::router::Router;
use actix::Addr;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use synod_messages::NodeId;

/// Routers of one process by node id. Cloning is cheap and clones share the registry.
/// [`Router::start`] registers the router in the hub it is given; a stopped router removes itself.
#[derive(Clone, Default)]
pub struct LocalHub {
    routers: Arc<Mutex<HashMap<NodeId, Addr<Router>>>>,
}

impl LocalHub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<NodeId, Addr<Router>>> {
        self.routers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers `router` as node `node`, replacing any earlier router of that node.
    pub fn register(&self, node: NodeId, router: Addr<Router>) {
        self.lock().insert(node, router);
    }

    /// Removes node `node`, but only if it is still registered as `router` (a restarted node's
    /// new router is left in place).
    pub fn unregister(&self, node: NodeId, router: &Addr<Router>) {
        let mut routers = self.lock();
        if routers.get(&node) == Some(router) {
            routers.remove(&node);
        }
    }

    /// The running router of node `node`, if it is in this hub.
    pub fn get(&self, node: NodeId) -> Option<Addr<Router>> {
        self.lock()
            .get(&node)
            .filter(|router| router.connected())
            .cloned()
    }

    /// The node ids registered in this hub, in ascending order.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut nodes: Vec<NodeId> = self.lock().keys().copied().collect();
        nodes.sort_unstable();
        nodes
    }
}

impl std::fmt::Debug for LocalHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalHub")
            .field("nodes", &self.nodes())
            .finish()
    }
}
