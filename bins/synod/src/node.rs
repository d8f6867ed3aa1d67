//! Wiring one node: router, protocol shell, service, HTTP API.
//!
//! ```text
//!   Router (TCP listener, peers) ◄──► Shell<Raft> ◄──► Service ◄── HTTP
//! ```

use crate::config::{Config, Protocol};
use actix::{Actor, Addr, AsyncContext, Context};
use actix_web::{web, App, HttpServer};
use std::net::SocketAddr;
use std::time::Duration;
use synod_core::MemoryStorage;
use synod_messages::{ActorAddr, NodeId, Role};
use synod_network::{Faults, LocalHub, NetworkConfig, Register, Router};
use synod_raft::{Raft, RaftConfig, RaftState};
use synod_runtime::http::{self, ApiState};
use synod_runtime::{Service, ServiceConfig, Shell};

/// How a node reaches its peers.
#[derive(Clone)]
pub enum Transport {
    /// Over TCP, listening on the node's `peer_addr`.
    Tcp,
    /// In this process, through a shared hub (tests).
    InProcess(LocalHub),
}

/// A running node's handles.
pub struct NodeHandle {
    /// The node.
    pub id: NodeId,
    /// Its network actor.
    pub router: Addr<Router>,
    /// Its KV service.
    pub service: Addr<Service>,
    /// The HTTP server, if one was started, and its bound address.
    pub http: Option<(actix_web::dev::ServerHandle, SocketAddr)>,
}

impl NodeHandle {
    /// Stops the node's actors and HTTP server (the in-process equivalent of a crash: nothing
    /// is flushed that was not already persisted).
    pub async fn stop(self) {
        if let Some((server, _)) = self.http {
            server.stop(false).await;
        }
        let _ = self.router.send(synod_network::Shutdown).await;
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad config.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The peer listener could not bind.
    #[error("network: {0}")]
    Network(#[from] synod_network::NetworkError),
    /// The HTTP listener could not bind.
    #[error("http listener on {addr}: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// Starts node `id` of `cfg` inside the current actix system. `http` says whether to serve
/// the HTTP API on the node's `http_addr`.
pub async fn start_node(
    cfg: &Config,
    id: NodeId,
    transport: Transport,
    faults: Faults,
    http: bool,
) -> Result<NodeHandle, StartError> {
    let me = cfg.node(id)?;
    let mut net = NetworkConfig::new(id, cfg.cluster_id.clone());
    net.max_frame = cfg.network.max_frame_bytes;
    net.reconnect_min = Duration::from_millis(cfg.network.reconnect_min_ms);
    net.reconnect_max = Duration::from_millis(cfg.network.reconnect_max_ms);
    net.outbound_queue = cfg.network.outbound_queue;
    let hub = match transport {
        Transport::Tcp => {
            net.listen = Some(me.peer_addr);
            net.peers = cfg
                .nodes
                .iter()
                .filter(|n| n.id != id)
                .map(|n| (n.id, n.peer_addr))
                .collect();
            None
        }
        Transport::InProcess(hub) => Some(hub),
    };
    let router = Router::start(net, faults, hub).await?;

    let service_ctx = Context::<Service>::new();
    let service_addr = service_ctx.address();
    let tick = Duration::from_millis(cfg.raft.tick_ms);
    let (propose, status) = match cfg.protocol {
        Protocol::Raft => {
            let r = &cfg.raft;
            let mut rc = RaftConfig::new(id, cfg.nodes.iter().map(|n| n.id).collect());
            rc.election_ticks = (r.election_ticks_min, r.election_ticks_max);
            rc.heartbeat_ticks = r.heartbeat_ticks;
            rc.max_batch = r.max_batch;
            rc.max_inflight = r.max_inflight;
            rc.seed = cfg.seed.unwrap_or_else(rand::random);
            let storage = MemoryStorage::<RaftState>::new();
            let state = RaftState::default();
            let shell = Shell::new(
                Raft::new(rc, state),
                ActorAddr::new(id, Role::Raft),
                Box::new(storage),
                router.clone(),
                tick,
            )
            .apply_to(service_addr.clone().recipient())
            .report_roles_to(service_addr.clone().recipient())
            .start();
            router.do_send(Register {
                role: Role::Raft,
                recipient: shell.clone().recipient(),
            });
            (shell.clone().recipient(), shell.recipient())
        }
    };
    let service_cfg = ServiceConfig {
        node: id,
        request_timeout: Duration::from_millis(cfg.limits.request_timeout_ms),
        retry_interval: tick,
        resend_after: Duration::from_millis(cfg.limits.request_timeout_ms / 4).max(tick),
    };
    let service = service_ctx.run(Service::new(service_cfg, router.clone(), propose, status));
    router.do_send(Register {
        role: Role::Service,
        recipient: service.clone().recipient(),
    });

    let http = if http {
        let state = ApiState {
            service: service.clone(),
            max_value_bytes: cfg.limits.max_value_bytes,
            max_key_bytes: cfg.limits.max_key_bytes,
        };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .configure(http::configure)
        })
        .workers(2)
        .disable_signals()
        .bind(me.http_addr)
        .map_err(|source| StartError::Http {
            addr: me.http_addr,
            source,
        })?;
        let addr = server.addrs().first().copied().unwrap_or(me.http_addr);
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Some((handle, addr))
    } else {
        None
    };
    tracing::info!(node = id, protocol = cfg.protocol.name(), peer = %me.peer_addr, http = %me.http_addr, "node started");
    Ok(NodeHandle {
        id,
        router,
        service,
        http,
    })
}
