//! The router actor: local recipients, in-process routers, TCP peers, one fault filter.

use crate::config::{NetworkConfig, NetworkError};
use crate::faults::Faults;
use crate::hub::LocalHub;
use crate::message::{
    self, Deliver, GetLocalAddr, GetStats, Inbound, NetworkStats, Register, Shutdown, Unregister,
};
use crate::queue::{outbound_queue, OutboundQueue, Refused};
use crate::tcp::{self, InboundPolicy, OutboundConfig};
use crate::throttle::Throttle;
use actix::{Actor, ActorContext, AsyncContext, Context, Handler, MessageResult, Recipient};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use synod_messages::codec;
use synod_messages::{Envelope, Handshake, NodeId, Role};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::{debug, info, trace, warn};

/// The network actor of one node. See the [crate documentation](crate) for the routing rules.
pub struct Router {
    config: NetworkConfig,
    faults: Faults,
    hub: Option<LocalHub>,
    local_addr: Option<SocketAddr>,
    handshake: Arc<[u8]>,
    locals: HashMap<Role, Recipient<Deliver>>,
    peers: HashMap<NodeId, OutboundQueue>,
    /// The listener and the outbound sessions; dropping the set aborts them.
    tasks: JoinSet<()>,
    stats: NetworkStats,
    /// Warnings that could repeat once per envelope.
    throttled: Throttled,
    /// Our own address, to leave the hub on stop.
    me: Option<actix::Addr<Router>>,
}

/// The router's per-envelope warnings, each at most once per [`crate::throttle::EVERY`].
#[derive(Default)]
struct Throttled {
    unknown_node: Throttle,
    unframed: Throttle,
}

impl Router {
    /// Starts a router for `config.node`: binds the peer listener if `config.listen` is set and
    /// registers the router in `hub` if one is given. Must run inside an actix system.
    ///
    /// Fails if the config is invalid or the listener cannot bind.
    pub async fn start(
        config: NetworkConfig,
        faults: Faults,
        hub: Option<LocalHub>,
    ) -> Result<actix::Addr<Router>, NetworkError> {
        config.validate()?;
        let handshake = Handshake {
            version: Handshake::VERSION,
            cluster_id: config.cluster_id.clone(),
            protocol: config.protocol.clone(),
            node: config.node,
            max_frame: config.max_frame as u64,
        };
        let handshake: Arc<[u8]> = codec::encode_frame(&handshake, config.max_frame)
            .map_err(|e| NetworkError::Config(format!("cannot frame the handshake: {e}")))?
            .into();
        let listener = match config.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| NetworkError::Bind { addr, source })?,
            ),
            None => None,
        };
        let local_addr = match (&listener, config.listen) {
            (Some(listener), Some(addr)) => Some(
                listener
                    .local_addr()
                    .map_err(|source| NetworkError::Bind { addr, source })?,
            ),
            _ => None,
        };
        let node = config.node;
        let actor_hub = hub.clone();
        let router = Router::create(move |ctx| {
            let mut tasks = JoinSet::new();
            if let Some(listener) = listener {
                let policy = Arc::new(InboundPolicy {
                    node: config.node,
                    cluster_id: config.cluster_id.clone(),
                    protocol: config.protocol.clone(),
                    peers: config.peers.keys().copied().collect(),
                    max_frame: config.max_frame,
                    handshake_timeout: config.handshake_timeout,
                });
                tasks.spawn_local(tcp::listen(listener, policy, ctx.address()));
            }
            Router {
                config,
                faults,
                hub: actor_hub,
                local_addr,
                handshake,
                locals: HashMap::new(),
                peers: HashMap::new(),
                tasks,
                stats: NetworkStats::default(),
                throttled: Throttled::default(),
                me: Some(ctx.address()),
            }
        });
        if let Some(hub) = &hub {
            hub.register(node, router.clone());
        }
        match local_addr {
            Some(addr) => info!(node, %addr, "router started, listening for peers"),
            None => info!(node, "router started (no listener)"),
        }
        Ok(router)
    }

    /// Routes one copy that passed the fault filter.
    fn route(&mut self, envelope: Envelope) {
        let to = envelope.to.node;
        if to == self.config.node {
            self.deliver_local(envelope);
            return;
        }
        if let Some(router) = self.hub.as_ref().and_then(|hub| hub.get(to)) {
            self.stats.sent_hub += 1;
            router.do_send(Inbound(envelope));
            return;
        }
        let max_frame = self.config.max_frame;
        let Some(queue) = self.peer_queue(to) else {
            self.stats.dropped_unknown_node += 1;
            if let Some(skipped) = self.throttled.unknown_node.allow(Instant::now()) {
                warn!(node = self.config.node, to = %envelope.to, skipped, "dropping envelope for an unknown node");
            }
            return;
        };
        // A peer that stopped reading fills its queue: drop before encoding.
        let pushed = if queue.has_room() {
            match codec::encode_frame(&envelope, max_frame) {
                Ok(frame) => queue.push(frame),
                Err(error) => {
                    self.stats.dropped_unframed += 1;
                    if let Some(skipped) = self.throttled.unframed.allow(Instant::now()) {
                        warn!(node = self.config.node, to = %envelope.to, %error, skipped, "dropping envelope that cannot be framed");
                    }
                    return;
                }
            }
        } else {
            Err(Refused::Full)
        };
        match pushed {
            Ok(()) => self.stats.queued_tcp += 1,
            Err(Refused::Full) => {
                self.stats.dropped_queue_full += 1;
                debug!(
                    node = self.config.node, to = %envelope.to,
                    dropped = self.stats.dropped_queue_full,
                    "peer queue full; dropping envelope"
                );
            }
            Err(Refused::Closed) => {
                // Cannot happen: `peer_queue` replaces a session that ended.
                warn!(node = self.config.node, to = %envelope.to, "peer session ended; dropping envelope");
            }
        }
    }

    /// The outbound queue of peer `node`, starting its session on first use.
    fn peer_queue(&mut self, node: NodeId) -> Option<&OutboundQueue> {
        // A session only ends when the router drops its queue, but should one die anyway
        // (a panic), start a new one rather than losing the peer for good.
        if self.peers.get(&node).is_some_and(|queue| queue.is_closed()) {
            warn!(
                node = self.config.node,
                peer = node,
                "peer session ended unexpectedly; restarting it"
            );
            self.peers.remove(&node);
        }
        if !self.peers.contains_key(&node) {
            let addr = *self.config.peers.get(&node)?;
            let (sender, receiver) =
                outbound_queue(self.config.outbound_queue, self.config.outbound_queue_bytes);
            let session = OutboundConfig {
                peer: node,
                addr,
                handshake: self.handshake.clone(),
                reconnect_min: self.config.reconnect_min,
                reconnect_max: self.config.reconnect_max,
            };
            self.tasks.spawn_local(tcp::outbound(session, receiver));
            self.peers.insert(node, sender);
        }
        self.peers.get(&node)
    }

    fn deliver_local(&mut self, envelope: Envelope) {
        match self.locals.get(&envelope.to.role) {
            Some(recipient) => {
                self.stats.delivered_local += 1;
                recipient.do_send(Deliver(envelope));
            }
            None => {
                self.stats.dropped_unknown_role += 1;
                debug!(to = %envelope.to, from = %envelope.from, "no local actor for role; dropping envelope");
            }
        }
    }

    fn schedule(&mut self, envelope: Envelope, delay: Duration, ctx: &mut Context<Self>) {
        if delay.is_zero() {
            self.route(envelope);
        } else {
            ctx.run_later(delay, move |router, _| router.route(envelope));
        }
    }
}

impl Actor for Router {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let (Some(hub), Some(me)) = (&self.hub, self.me.take()) {
            hub.unregister(self.config.node, &me);
        }
        self.tasks.abort_all();
        self.peers.clear();
        info!(node = self.config.node, "router stopped");
    }
}

impl Handler<message::Send> for Router {
    type Result = ();

    fn handle(&mut self, message::Send(envelope): message::Send, ctx: &mut Context<Self>) {
        let copies = self.faults.decide(envelope.from.node, envelope.to.node);
        let Some((last, rest)) = copies.split_last() else {
            self.stats.dropped_by_faults += 1;
            trace!(from = %envelope.from, to = %envelope.to, "fault filter dropped envelope");
            return;
        };
        for delay in rest {
            self.schedule(envelope.clone(), *delay, ctx);
        }
        self.schedule(envelope, *last, ctx);
    }
}

impl Handler<Inbound> for Router {
    type Result = ();

    fn handle(&mut self, Inbound(envelope): Inbound, _ctx: &mut Context<Self>) {
        self.stats.received += 1;
        self.deliver_local(envelope);
    }
}

impl Handler<Register> for Router {
    type Result = ();

    fn handle(&mut self, register: Register, _ctx: &mut Context<Self>) {
        debug!(node = self.config.node, role = %register.role, "local actor registered");
        self.locals.insert(register.role, register.recipient);
    }
}

impl Handler<Unregister> for Router {
    type Result = ();

    fn handle(&mut self, unregister: Unregister, _ctx: &mut Context<Self>) {
        self.locals.remove(&unregister.role);
    }
}

impl Handler<GetLocalAddr> for Router {
    type Result = Option<SocketAddr>;

    fn handle(&mut self, _: GetLocalAddr, _ctx: &mut Context<Self>) -> Option<SocketAddr> {
        self.local_addr
    }
}

impl Handler<message::GetQueued> for Router {
    type Result = MessageResult<message::GetQueued>;

    fn handle(&mut self, _: message::GetQueued, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.peers.iter().map(|(&n, q)| (n, q.bytes())).collect())
    }
}

impl Handler<GetStats> for Router {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(self.stats)
    }
}

impl Handler<Shutdown> for Router {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
