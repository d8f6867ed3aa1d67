//! TCP transport: the listener, one inbound session per accepted connection, and one outbound
//! session per peer.
//!
//! Every connection starts with a [`Handshake`] frame from the caller; then the caller sends
//! [`Envelope`] frames, one way only (each node dials every peer it talks to). Frames are those
//! of [`synod_messages::codec`]: a 4-byte big-endian length, then the bincode body.

use crate::message::Inbound;
use crate::queue::QueuedFrames;
use crate::router::Router;
use actix::Addr;
use futures::StreamExt;
use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use synod_messages::codec::{self, CodecError};
use synod_messages::{Envelope, Handshake, NodeId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::codec::{FramedRead, LengthDelimitedCodec};
use tracing::{debug, info, warn};

/// The most frames written in one batch.
const MAX_BATCH: usize = 1024;
/// A write buffer that grew past this is released after use.
const KEEP_BUFFER: usize = 1024 * 1024;
/// Pause after a failed `accept` (for example when out of file descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// The frame decoder matching [`codec::encode_frame`] / [`codec::split_frame`].
fn frames(stream: TcpStream, max_frame: usize) -> FramedRead<TcpStream, LengthDelimitedCodec> {
    LengthDelimitedCodec::builder()
        .length_field_length(codec::HEADER_LEN)
        .big_endian()
        .max_frame_length(max_frame)
        .new_read(stream)
}

/// What an accepted connection must satisfy.
pub(crate) struct InboundPolicy {
    /// Our node id.
    pub(crate) node: NodeId,
    /// Our cluster id.
    pub(crate) cluster_id: String,
    /// The protocol we run: a peer running another one is refused (its roles' bytes would be
    /// read as ours).
    pub(crate) protocol: String,
    /// The node ids allowed to connect.
    pub(crate) peers: BTreeSet<NodeId>,
    /// The largest frame body accepted.
    pub(crate) max_frame: usize,
    /// How long the caller has to send its handshake.
    pub(crate) handshake_timeout: Duration,
}

/// Why an inbound connection was closed.
#[derive(Debug, thiserror::Error)]
enum InboundError {
    #[error("no handshake within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("closed before the handshake")]
    ClosedBeforeHandshake,
    #[error("wire version {theirs}, expected {ours}")]
    Version { theirs: u32, ours: u32 },
    #[error("cluster id {theirs:?}, expected {ours:?}")]
    Cluster { theirs: String, ours: String },
    #[error("protocol {theirs:?}, this node runs {ours:?}: every node of a cluster runs the same protocol")]
    Protocol { theirs: String, ours: String },
    #[error("node {0} is this node")]
    OwnId(NodeId),
    #[error("node {0} is not a configured peer")]
    UnknownNode(NodeId),
    #[error(
        "node {node} may send frames of up to {theirs} bytes, past this node's \
         network.max_frame_bytes of {ours}: set the same limit on every node"
    )]
    FrameLimit {
        node: NodeId,
        theirs: u64,
        ours: usize,
    },
    #[error("bad handshake frame: {0}")]
    BadHandshake(CodecError),
    #[error("bad frame: {0}")]
    BadFrame(CodecError),
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
}

impl InboundPolicy {
    fn check(&self, handshake: &Handshake) -> Result<(), InboundError> {
        if handshake.version != Handshake::VERSION {
            return Err(InboundError::Version {
                theirs: handshake.version,
                ours: Handshake::VERSION,
            });
        }
        if handshake.cluster_id != self.cluster_id {
            return Err(InboundError::Cluster {
                theirs: handshake.cluster_id.clone(),
                ours: self.cluster_id.clone(),
            });
        }
        if handshake.protocol != self.protocol {
            return Err(InboundError::Protocol {
                theirs: handshake.protocol.clone(),
                ours: self.protocol.clone(),
            });
        }
        if handshake.node == self.node {
            return Err(InboundError::OwnId(handshake.node));
        }
        if !self.peers.contains(&handshake.node) {
            return Err(InboundError::UnknownNode(handshake.node));
        }
        if handshake.max_frame > self.max_frame as u64 {
            return Err(InboundError::FrameLimit {
                node: handshake.node,
                theirs: handshake.max_frame,
                ours: self.max_frame,
            });
        }
        Ok(())
    }
}

/// Accepts connections until aborted; each gets its own session task, aborted with this one.
pub(crate) async fn listen(
    listener: TcpListener,
    policy: Arc<InboundPolicy>,
    router: Addr<Router>,
) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    debug!(%remote, "accepted peer connection");
                    sessions.spawn_local(inbound(stream, remote, policy.clone(), router.clone()));
                }
                Err(error) => {
                    warn!(%error, "accepting a peer connection failed");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

/// Serves one accepted connection; any error closes it (and only it) with a warning.
async fn inbound(
    stream: TcpStream,
    remote: SocketAddr,
    policy: Arc<InboundPolicy>,
    router: Addr<Router>,
) {
    match serve_inbound(stream, remote, &policy, &router).await {
        Ok(peer) => info!(peer, %remote, "peer closed its connection"),
        Err(reason) => warn!(%remote, %reason, "closing inbound peer connection"),
    }
}

async fn serve_inbound(
    stream: TcpStream,
    remote: SocketAddr,
    policy: &InboundPolicy,
    router: &Addr<Router>,
) -> Result<NodeId, InboundError> {
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%remote, %error, "cannot set TCP_NODELAY");
    }
    let mut frames = frames(stream, policy.max_frame);
    let first = tokio::time::timeout(policy.handshake_timeout, frames.next())
        .await
        .map_err(|_| InboundError::HandshakeTimeout(policy.handshake_timeout))?
        .ok_or(InboundError::ClosedBeforeHandshake)??;
    let handshake: Handshake = codec::decode(&first).map_err(InboundError::BadHandshake)?;
    policy.check(&handshake)?;
    let peer = handshake.node;
    info!(peer, %remote, "peer connected");
    let mut misaddressed = crate::throttle::Throttle::default();
    while let Some(frame) = frames.next().await {
        let envelope: Envelope = codec::decode(&frame?).map_err(InboundError::BadFrame)?;
        if envelope.from.node != peer {
            if let Some(skipped) = misaddressed.allow(Instant::now()) {
                warn!(peer, %remote, from = %envelope.from, skipped, "dropping envelope: sender is not the connected peer");
            }
            continue;
        }
        if envelope.to.node != policy.node {
            if let Some(skipped) = misaddressed.allow(Instant::now()) {
                warn!(peer, %remote, to = %envelope.to, skipped, "dropping envelope: addressed to another node");
            }
            continue;
        }
        router.do_send(Inbound(envelope));
    }
    Ok(peer)
}

/// What an outbound session needs to know.
pub(crate) struct OutboundConfig {
    /// The peer's node id (for logs).
    pub(crate) peer: NodeId,
    /// Where the peer listens.
    pub(crate) addr: SocketAddr,
    /// Our handshake, already framed.
    pub(crate) handshake: Arc<[u8]>,
    /// First reconnect delay.
    pub(crate) reconnect_min: Duration,
    /// Largest reconnect delay.
    pub(crate) reconnect_max: Duration,
}

/// Why an outbound session ended.
enum SessionEnd {
    /// The router dropped the queue: stop for good.
    RouterGone,
    /// The connection failed: reconnect.
    Lost(io::Error),
}

/// Failed connection attempts in a row after which a peer is reported unreachable (with the
/// default backoff, about 1.5 s away).
const UNREACHABLE_AFTER: u32 = 5;

/// Keeps one connection to a peer up, writing the frames of `queue` to it, until the router
/// drops the queue's sender. Reconnects with capped exponential backoff; the backoff resets only
/// after a connection stayed up for `reconnect_max`. Envelopes queued when a connection attempt
/// fails are dropped.
pub(crate) async fn outbound(config: OutboundConfig, mut queue: QueuedFrames) {
    let peer = config.peer;
    let addr = config.addr;
    let mut backoff = config.reconnect_min;
    let mut failures: u32 = 0;
    loop {
        if queue.is_closed() {
            return;
        }
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let since = Instant::now();
                info!(peer, %addr, "connected to peer");
                match session(stream, &config, &mut queue).await {
                    SessionEnd::RouterGone => return,
                    SessionEnd::Lost(error) => {
                        // Info, not a warning: a peer that stops (a restart, Ctrl-C on the cluster)
                        // ends its connections; reconnecting is logged once it succeeds.
                        info!(peer, %addr, %error, "connection to peer lost");
                    }
                }
                failures = 0;
                if since.elapsed() >= config.reconnect_max {
                    backoff = config.reconnect_min;
                }
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                // An unreachable peer loses what was sent to it, as on a real network: the
                // protocols retransmit what still matters, and a peer back after a long time
                // is not flooded with stale messages.
                let dropped = queue.drop_queued();
                // Once per outage: info at the first failure (a peer stopping with the rest of
                // the cluster is no problem), a warning once it stays away for a few retries.
                if failures == 1 {
                    info!(peer, %addr, %error, dropped, "cannot connect to peer; retrying");
                } else if failures == UNREACHABLE_AFTER {
                    warn!(peer, %addr, %error, failures, dropped, "peer unreachable; still retrying");
                } else {
                    debug!(peer, %addr, %error, failures, dropped, "cannot connect to peer");
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = backoff.saturating_mul(2).min(config.reconnect_max);
    }
}

async fn session(
    stream: TcpStream,
    config: &OutboundConfig,
    queue: &mut QueuedFrames,
) -> SessionEnd {
    match run_session(stream, config, queue).await {
        Ok(end) => end,
        Err(error) => SessionEnd::Lost(error),
    }
}

async fn run_session(
    stream: TcpStream,
    config: &OutboundConfig,
    queue: &mut QueuedFrames,
) -> io::Result<SessionEnd> {
    stream.set_nodelay(true)?;
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(&config.handshake).await?;
    let mut batch = Vec::with_capacity(64);
    let mut buffer = Vec::new();
    let mut scratch = [0u8; 256];
    loop {
        tokio::select! {
            received = queue.recv_many(&mut batch, MAX_BATCH) => {
                if received == 0 {
                    return Ok(SessionEnd::RouterGone);
                }
                buffer.clear();
                // Exactly the batch: grown by doubling, a batch of the queue's bound would
                // briefly take twice or three times as much.
                buffer.reserve_exact(batch.iter().map(Vec::len).sum());
                for frame in batch.drain(..) {
                    buffer.extend_from_slice(&frame);
                }
                let written = writer.write_all(&buffer).await;
                // Written or lost with the connection: either way no longer queued.
                queue.release(buffer.len());
                written?;
                if buffer.capacity() > KEEP_BUFFER {
                    buffer = Vec::new();
                }
            }
            // The peer never writes on this connection; a read only tells us it is gone.
            read = reader.read(&mut scratch) => match read? {
                0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed by peer")),
                n => debug!(peer = config.peer, bytes = n, "ignoring unexpected bytes from peer"),
            },
        }
    }
}
