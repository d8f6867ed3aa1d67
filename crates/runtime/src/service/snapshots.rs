//! How the service snapshots its store without holding back what it applies.
//!
//! ```text
//!   service thread                                   blocking thread
//!   snapshot_begin ── header ──┐
//!   snapshot_next  ── chunk ───┼──► channel (4) ──► SnapshotWriter: file (or memory),
//!   (applies run between) ...  │                     then durable ──► bytes ──► Compact
//!   snapshot_next  ── last ────┘                     to the protocol's roles
//! ```
//!
//! The image is of the store at the start ([`KvStore::snapshot_begin`]): a key changed ahead
//! of the cursor keeps its old value until the cursor passes it, so client requests and the
//! protocol's applies go on while the image is encoded, a few thousand keys per turn of this
//! thread, and written and synced on a blocking thread. An image abandoned before its end (a
//! snapshot installed meanwhile, an encoding error, the node stopping) is never committed.

use super::Service;
use crate::msg::Compact;
use actix::fut::wrap_future;
use actix::prelude::*;
use std::sync::Arc;
use std::time::Instant;
use synod_core::{Snapshot, StorageError};
use tokio::sync::mpsc;

/// A step of an image ends after `keys_per_step` keys or once it holds this many bytes,
/// whichever comes first: large values neither stall the thread for long nor fill the
/// writer's channel with huge chunks.
pub const STEP_BYTES: usize = 4 << 20;

/// Writes a snapshot image arriving in [`SnapshotChunks`] where the node's storage will look
/// for it when the protocol persists that snapshot, makes it durable, and returns the bytes to
/// hand over (mapped from the file, so the image does not stay in memory). Runs on a blocking
/// thread.
pub type SnapshotWriter =
    Arc<dyn Fn(&mut SnapshotChunks) -> Result<bytes::Bytes, StorageError> + Send + Sync>;

/// One piece of an image on its way to the writer.
enum Chunk {
    Bytes(Vec<u8>),
    /// The last bytes: the image is complete.
    Last(Vec<u8>),
}

/// The chunks of one image, in order, as the service encodes them.
pub struct SnapshotChunks {
    rx: mpsc::Receiver<Chunk>,
}

impl SnapshotChunks {
    /// Writes every chunk into `out` (blocking): an error if the service abandoned the image
    /// before its end, so that no partial image is ever committed.
    pub fn copy_to(&mut self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        while let Some(chunk) = self.rx.blocking_recv() {
            match chunk {
                Chunk::Bytes(bytes) => out.write_all(&bytes)?,
                Chunk::Last(bytes) => return out.write_all(&bytes),
            }
        }
        Err(std::io::Error::other(
            "the snapshot was abandoned before its end",
        ))
    }
}

/// Encode the next chunk of image number `.0` (sent to itself).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct NextChunk(u64);

/// The image under way: the channel to its writer, and its number, so that a step left over
/// from an abandoned image never drives the next one.
pub(super) struct Feed {
    tx: mpsc::Sender<Chunk>,
    image: u64,
}

impl Handler<NextChunk> for Service {
    type Result = ();

    fn handle(&mut self, NextChunk(image): NextChunk, ctx: &mut Context<Self>) {
        if !self.feeds(image) {
            return;
        }
        match self
            .kv
            .snapshot_next(self.cfg.snapshot.keys_per_step.max(1), STEP_BYTES)
        {
            Ok(Some(bytes)) if self.kv.snapshot_under_way() => {
                self.send_chunk(Chunk::Bytes(bytes), ctx)
            }
            Ok(Some(bytes)) => {
                self.send_chunk(Chunk::Last(bytes), ctx);
                self.snapshot_feed = None;
            }
            // No image under way any more (replaced by an installed snapshot): never a Last.
            Ok(None) => self.abandon_snapshot(),
            Err(e) => {
                tracing::error!(node = self.cfg.node, error = %e, "cannot encode a snapshot; the log is kept until the next one");
                self.abandon_snapshot();
            }
        }
    }
}

impl Service {
    /// Starts a snapshot of the store when the [`crate::snapshot_policy::SnapshotPolicy`] says
    /// so; once it is on disk, the protocol is told it may compact (its persist then only
    /// records it).
    pub(super) fn maybe_snapshot(&mut self, ctx: &mut Context<Self>) {
        let since = self.kv.applied_index().saturating_sub(self.snapshot_index);
        if self.snapshotting
            || self.stopped.is_some()
            || !self
                .cfg
                .snapshot
                .due(since, self.log_bytes, self.kv.len() as u64)
        {
            return;
        }
        let (header, index) = match self.kv.snapshot_begin() {
            Ok(begun) => begun,
            Err(e) => {
                tracing::error!(node = self.cfg.node, error = %e, "cannot encode a snapshot");
                return;
            }
        };
        let started = Instant::now();
        // The log is compacted once this snapshot is handed over; if writing it fails, the
        // log is kept until the next one.
        self.snapshot_index = index;
        self.log_bytes = 0;
        self.snapshotting = true;
        self.snapshot_images += 1;
        let image = self.snapshot_images;
        let (tx, rx) = mpsc::channel(4);
        self.snapshot_feed = Some(Feed { tx, image });
        let writer = self.snapshot_writer.clone();
        let job = actix_rt::task::spawn_blocking(move || {
            let mut chunks = SnapshotChunks { rx };
            match writer {
                Some(write) => write(&mut chunks),
                None => {
                    let mut image = Vec::new();
                    chunks
                        .copy_to(&mut image)
                        .map(|()| image.into())
                        .map_err(|e| StorageError::Write(e.to_string()))
                }
            }
        });
        ctx.spawn(wrap_future(job).map(move |written, service: &mut Self, _| {
            service.snapshotting = false;
            match written {
                Ok(Ok(data)) => {
                    let took = started.elapsed();
                    metrics::counter!(crate::metrics::SNAPSHOTS).increment(1);
                    metrics::histogram!(crate::metrics::SNAPSHOT_SECONDS)
                        .record(took.as_secs_f64());
                    tracing::info!(
                        node = service.cfg.node,
                        index,
                        ms = took.as_millis() as u64,
                        "snapshot taken"
                    );
                    service.hand_over(Snapshot { index, data });
                }
                Ok(Err(e)) => service.snapshot_failed(index, image, &e),
                Err(e) => service.snapshot_failed(index, image, &e),
            }
        }));
        self.send_chunk(Chunk::Bytes(header), ctx);
    }

    /// Hands `chunk` to the writer once the channel has room, then encodes the next one; this
    /// thread goes on meanwhile.
    fn send_chunk(&mut self, chunk: Chunk, ctx: &mut Context<Self>) {
        let Some(Feed { tx, image }) = &self.snapshot_feed else {
            return;
        };
        let (tx, image) = (tx.clone(), *image);
        let last = matches!(chunk, Chunk::Last(_));
        ctx.spawn(wrap_future(async move { tx.send(chunk).await }).map(
            move |sent, service: &mut Self, ctx| match sent {
                Ok(()) if !last => ctx.notify(NextChunk(image)),
                Ok(()) => {}
                // The writer failed and dropped its end: its error reports it.
                Err(_) if service.feeds(image) => service.abandon_snapshot(),
                Err(_) => {}
            },
        ));
    }

    /// Whether image number `image` is the one under way.
    fn feeds(&self, image: u64) -> bool {
        self.snapshot_feed
            .as_ref()
            .is_some_and(|f| f.image == image)
    }

    /// Drops the image under way (the writer then fails it and nothing is committed).
    pub(super) fn abandon_snapshot(&mut self) {
        if let Some(feed) = self.snapshot_feed.take() {
            self.kv.snapshot_abort();
            self.snapshot_abandoned = Some(feed.image);
        }
    }

    fn snapshot_failed(&mut self, index: u64, image: u64, error: &dyn std::fmt::Display) {
        if self.snapshot_abandoned == Some(image) {
            tracing::debug!(node = self.cfg.node, index, "snapshot abandoned");
            return;
        }
        tracing::error!(node = self.cfg.node, index, %error, "cannot write a snapshot; the log is kept until the next one");
    }

    /// Tells the protocol's roles they may compact through `snapshot`.
    fn hand_over(&self, snapshot: Snapshot) {
        for target in &self.compact {
            target.do_send(Compact(snapshot.clone()));
        }
    }
}
