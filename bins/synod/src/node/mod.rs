//! Wiring one node: router, the protocol's actors, service, HTTP API.
//!
//! ```text
//!   Router (TCP listener, peers) ◄──► protocol shells ◄──► Service ◄── HTTP
//!        one Shell per role the protocol starts (host.rs), e.g. Shell<Raft>, or
//!        Shell<Proposer>, Shell<Acceptor>, Shell<Learner>
//! ```
//!
//! The protocol is found in the registry by its name in the config; it only says which roles
//! run and which of them the service proposes to, reads through and compacts. The router, the
//! service and the HTTP API are the same for every protocol.
//!
//! Threads: the router, the shells and the service share the node's *network thread*, so a
//! message between them wakes no other thread; the service writes snapshots on a blocking
//! thread; the HTTP server has its workers.

mod host;

use crate::config::{Backend, Config};
use actix::{Addr, Arbiter, Context, Recipient};
use actix_web::{web, App, HttpServer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use synod_core::{MemoryStorage, Schema, Storage, StorageError};
use synod_messages::{NodeId, Role};
use synod_network::{Faults, LocalHub, NetworkConfig, Register, Router};
use synod_runtime::http::{self, ApiState};
use synod_runtime::{
    ApplyBatch, Compact, GetStatus, Propose, Read, RoleChanged, Service, ServiceConfig,
    SnapshotPolicy, SnapshotWriter, Stop,
};
use synod_storage::{BlobWriter, RedbBackend, WalBackend};

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
    /// The protocol's actors and the service.
    actors: Vec<Recipient<Stop>>,
    /// The threads the router, the protocol's actors and the service run on.
    threads: Vec<Arbiter>,
}

impl NodeHandle {
    /// Stops the node: HTTP server, actors, network. Like a crash, nothing is flushed that was
    /// not already persisted; afterwards the data directory can be opened again.
    pub async fn stop(self) {
        if let Some((server, _)) = self.http {
            server.stop(false).await;
        }
        for actor in self.actors {
            let _ = actor.send(Stop).await;
        }
        let _ = self.router.send(synod_network::Shutdown).await;
        // Wait for the threads to end, so the storage is closed when this returns.
        for thread in self.threads {
            thread.stop();
            let _ = actix_rt::task::spawn_blocking(move || thread.join()).await;
        }
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
    /// The node's stored state could not be opened or read.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The network thread ended before the router started.
    #[error("the node's network thread stopped while its router was starting")]
    NetworkThread,
    /// The protocol could not start its roles.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The HTTP listener could not bind.
    #[error("http listener on {addr}: {source}")]
    Http {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// What the protocol's actors give the service.
pub(crate) struct ProtocolHandles {
    /// Where client commands are proposed (none on a node without a proposing role).
    pub propose: Option<Recipient<Propose>>,
    /// Where the node's protocol status is read.
    pub status: Recipient<GetStatus>,
    /// Every role's status (a storage failure in any of them shows in `/v1/status`).
    pub every_role: Vec<Recipient<GetStatus>>,
    /// The actors hosted, for `/v1/status`.
    pub roles: Vec<Role>,
    /// The protocol's actors, to stop them.
    pub actors: Vec<Recipient<Stop>>,
    /// The roles that compact their logs when the state machine is snapshotted.
    pub compact: Vec<Recipient<Compact>>,
    /// Where linearizable reads get their read point, if the protocol offers one.
    pub read: Option<Recipient<Read>>,
    /// The stored state whose snapshots the service writes ahead.
    pub snapshot_state: &'static str,
    /// How many copies of the log since the last snapshot the roles keep in memory: the
    /// `storage.snapshot_log_mb` budget is shared between them.
    pub log_copies: u64,
}

/// Where a node's roles keep their durable state.
pub(crate) enum Stores {
    Memory,
    Redb(RedbBackend),
    Wal(WalBackend),
}

impl Stores {
    fn open(cfg: &Config, id: NodeId) -> Result<Self, StartError> {
        match cfg.storage.backend {
            Backend::Memory => Ok(Stores::Memory),
            Backend::Redb => {
                let dir = cfg.data_dir(cfg.node(id)?);
                refuse_other_backend(&dir, "redb", |name| name.ends_with(".wal"))?;
                let backend = RedbBackend::open_with_cache(
                    &dir.join("synod.redb"),
                    cfg.storage.cache_mb.saturating_mul(1024 * 1024),
                )?;
                tracing::info!(node = id, path = %backend.path().display(), "durable state");
                Ok(Stores::Redb(backend))
            }
            Backend::Wal => {
                let dir = cfg.data_dir(cfg.node(id)?);
                refuse_other_backend(&dir, "wal", |name| name == "synod.redb")?;
                let backend = WalBackend::open(&dir)?;
                tracing::info!(node = id, dir = %backend.dir().display(), "durable state (log files)");
                Ok(Stores::Wal(backend))
            }
        }
    }

    /// The storage of the state named `name` ("raft", "acceptor", ...).
    pub(crate) fn get<S: Schema>(&self, name: &str) -> Box<dyn Storage<S>> {
        match self {
            Stores::Memory => Box::new(MemoryStorage::<S>::new()),
            Stores::Redb(backend) => Box::new(backend.storage::<S>(name)),
            Stores::Wal(backend) => Box::new(backend.storage::<S>(name)),
        }
    }

    /// Writes the snapshots of the state named `name` ahead of its persist (durable
    /// storage only).
    fn snapshot_writer(&self, name: &str) -> Option<SnapshotWriter> {
        match self {
            Stores::Memory => None,
            Stores::Redb(backend) => Some(write_with(backend.blob_writer(name, "snapshot"))),
            Stores::Wal(backend) => Some(write_with(backend.blob_writer(name, "snapshot"))),
        }
    }
}

/// A data directory written by the other durable backend would look empty to this one: the
/// node would start with no state and could even vote twice. Refuse it, saying how to go on.
fn refuse_other_backend(
    dir: &std::path::Path,
    backend: &str,
    other: impl Fn(&str) -> bool,
) -> Result<(), StorageError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(()); // a new directory
    };
    let found = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .find(|name| other(name));
    match found {
        None => Ok(()),
        Some(name) => Err(StorageError::Corrupt(format!(
            "{}: holds {name}, written by another storage backend than the configured \
             storage.backend = \"{backend}\"; set storage.backend to the one that wrote it \
             (\"redb\" for synod.redb, \"wal\" for *.wal), or start this node from an empty \
             directory (its peers bring it up to date)",
            dir.display()
        ))),
    }
}

/// Streams the image's chunks into a blob file as they come, then commits it (see
/// [`SnapshotWriter`]).
fn write_with(writer: BlobWriter) -> SnapshotWriter {
    Arc::new(move |chunks: &mut synod_runtime::SnapshotChunks| {
        writer.stage(|out| chunks.copy_to(out))?.commit()
    })
}

/// Where a protocol sends what the service must hear.
pub(crate) struct ServiceInbox {
    pub apply: Recipient<ApplyBatch>,
    pub roles: Recipient<RoleChanged>,
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
    let stores = Stores::open(cfg, id)?;
    let network_thread = Arbiter::new();
    let router = match start_router(cfg, id, transport, faults.clone(), &network_thread).await {
        Ok(router) => router,
        Err(e) => {
            network_thread.stop();
            return Err(e);
        }
    };

    // The service's address comes first (the protocol reports to it); the service itself
    // starts on its own thread below.
    let (service_tx, service_rx) = actix::dev::channel::channel::<Service>(16);
    let service = Addr::new(service_tx);
    let inbox = ServiceInbox {
        apply: service.clone().recipient(),
        roles: service.clone().recipient(),
    };
    let seed = cfg.seed.unwrap_or_else(rand::random);
    let arbiter = network_thread.handle();
    let start = host::StartProtocol {
        cfg,
        id,
        seed,
        router: &router,
        stores: &stores,
        inbox,
        arbiter: &arbiter,
    };
    let started = synod_registry::visit(&cfg.protocol, start).unwrap_or_else(|| {
        Err(StartError::Protocol(format!(
            "no protocol {:?} in this build",
            cfg.protocol
        )))
    });
    let handles = match started {
        Ok(handles) => handles,
        Err(e) => {
            let _ = router.send(synod_network::Shutdown).await;
            network_thread.stop();
            return Err(e);
        }
    };
    let mut actors = handles.actors;
    let tick = cfg.tick();
    let service_cfg = ServiceConfig {
        node: id,
        request_timeout: Duration::from_millis(cfg.limits.request_timeout_ms),
        max_forward_bytes: cfg.max_batch_bytes(),
        retry_interval: tick,
        resend_after: Duration::from_millis(cfg.limits.request_timeout_ms / 4).max(tick),
        roles: handles.roles,
        snapshot: SnapshotPolicy {
            every: cfg.storage.snapshot_entries,
            max_log_bytes: cfg.storage.snapshot_log_mb.saturating_mul(1 << 20)
                / handles.log_copies.max(1),
            keys_per_step: cfg.storage.snapshot_keys_per_step,
        },
    };
    let service_actor = Service::new(service_cfg, router.clone(), handles.propose, handles.status)
        .compact_to(handles.compact)
        .watch_roles(handles.every_role)
        .read_through(handles.read)
        .write_snapshots_with(stores.snapshot_writer(handles.snapshot_state));
    // On the network thread too: it encodes a snapshot a few thousand keys at a time and writes
    // it on a blocking thread, so nothing it does holds back the protocol's heartbeats for long.
    network_thread.spawn_fn(move || {
        Context::with_receiver(service_rx).run(service_actor);
    });
    router.do_send(Register {
        role: Role::SERVICE,
        recipient: service.clone().recipient(),
    });
    actors.push(service.clone().recipient());

    let http = if http {
        Some(start_http(
            cfg,
            me.http_addr,
            service.clone(),
            router.clone(),
            faults,
        )?)
    } else {
        None
    };
    tracing::info!(node = id, protocol = %cfg.protocol, peer = %me.peer_addr, http = %me.http_addr, "node started");
    Ok(NodeHandle {
        id,
        router,
        service,
        http,
        actors,
        threads: vec![network_thread],
    })
}

/// Starts the node's router on `thread`.
async fn start_router(
    cfg: &Config,
    id: NodeId,
    transport: Transport,
    faults: Faults,
    thread: &Arbiter,
) -> Result<Addr<Router>, StartError> {
    let mut net = NetworkConfig::new(id, cfg.cluster_id.clone());
    net.protocol = cfg.protocol.clone();
    net.max_frame = cfg.network.max_frame_bytes;
    net.reconnect_min = Duration::from_millis(cfg.network.reconnect_min_ms);
    net.reconnect_max = Duration::from_millis(cfg.network.reconnect_max_ms);
    net.outbound_queue = cfg.network.outbound_queue;
    net.outbound_queue_bytes = cfg.network.outbound_queue_bytes;
    let hub = match transport {
        Transport::Tcp => {
            net.listen = Some(cfg.node(id)?.peer_addr);
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
    let (started, result) = tokio::sync::oneshot::channel();
    thread.spawn(async move {
        let _ = started.send(Router::start(net, faults, hub).await);
    });
    Ok(result.await.map_err(|_| StartError::NetworkThread)??)
}

fn start_http(
    cfg: &Config,
    addr: SocketAddr,
    service: Addr<Service>,
    router: Addr<Router>,
    faults: Faults,
) -> Result<(actix_web::dev::ServerHandle, SocketAddr), StartError> {
    if cfg.admin.enabled {
        tracing::warn!(%addr, "the test-only admin endpoint is enabled: anyone who can reach this address can cut this node's links");
    }
    let state = ApiState {
        service,
        max_value_bytes: cfg.limits.max_value_bytes,
        max_key_bytes: cfg.limits.max_key_bytes,
        admin: cfg.admin.enabled.then_some(faults),
        admission: synod_runtime::admission::Admission::new(cfg.limits.max_pending_bytes),
        body_timeout: Duration::from_millis(cfg.limits.request_timeout_ms),
        metrics: if cfg.http.metrics {
            synod_runtime::metrics::install(&[])
        } else {
            None
        },
        router: Some(router),
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .wrap_fn(|req, srv| {
                // One counter and one histogram per request, by route pattern (not by key).
                let started = std::time::Instant::now();
                let route = req.match_pattern().unwrap_or_else(|| "other".into());
                let method = req.method().to_string();
                let response = actix_web::dev::Service::call(srv, req);
                async move {
                    let response = response.await?;
                    let status = response.status().as_u16();
                    synod_runtime::metrics::http_request(
                        &route,
                        &method,
                        status,
                        started.elapsed(),
                    );
                    Ok(response)
                }
            })
            .configure(http::configure)
    })
    .workers(cfg.http.workers)
    .disable_signals()
    .bind(addr)
    .map_err(|source| StartError::Http { addr, source })?;
    let bound = server.addrs().first().copied().unwrap_or(addr);
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Ok((handle, bound))
}
