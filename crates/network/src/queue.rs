//! A peer's outbound queue: framed envelopes on their way to the TCP session, bounded by count
//! and by bytes.
//!
//! ```text
//!   Router ──push(frame)──▶ [ frames … ] ──recv_many──▶ session ──write──▶ socket
//!      │                                                    │
//!      └── refuses while `bytes` ≥ max ◀── bytes −= len ◀───┘ once written (or dropped)
//! ```
//!
//! The byte bound is what keeps a node's memory in check when a peer stops reading (a process
//! stopped with SIGSTOP, a full receive window): the session's write then waits, and without a
//! bound every batch and snapshot chunk sent again meanwhile would pile up here. A frame is
//! taken while fewer than `max_bytes` are queued, so one frame of any allowed size always fits
//! an empty queue, and the queue holds at most `max_bytes` plus one frame.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue holds its most frames or bytes.
    Full,
    /// The session is gone.
    Closed,
}

/// The router's end.
pub(crate) struct OutboundQueue {
    sender: mpsc::Sender<Vec<u8>>,
    bytes: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// The session's end.
pub(crate) struct QueuedFrames {
    receiver: mpsc::Receiver<Vec<u8>>,
    bytes: Arc<AtomicUsize>,
}

/// A queue of at most `max_frames` frames and (about) `max_bytes` bytes.
pub(crate) fn outbound_queue(max_frames: usize, max_bytes: usize) -> (OutboundQueue, QueuedFrames) {
    let (sender, receiver) = mpsc::channel(max_frames);
    let bytes = Arc::new(AtomicUsize::new(0));
    (
        OutboundQueue {
            sender,
            bytes: bytes.clone(),
            max_bytes,
        },
        QueuedFrames { receiver, bytes },
    )
}

impl OutboundQueue {
    /// Whether a frame would be taken now (checked before encoding one).
    pub(crate) fn has_room(&self) -> bool {
        self.bytes.load(Ordering::Acquire) < self.max_bytes && self.sender.capacity() > 0
    }

    /// Queues `frame`, unless the queue is full or the session gone.
    pub(crate) fn push(&self, frame: Vec<u8>) -> Result<(), Refused> {
        if self.bytes.load(Ordering::Acquire) >= self.max_bytes {
            return Err(Refused::Full);
        }
        let len = frame.len();
        // Counted before it is visible to the session, which subtracts it.
        self.bytes.fetch_add(len, Ordering::AcqRel);
        match self.sender.try_send(frame) {
            Ok(()) => Ok(()),
            Err(refused) => {
                self.bytes.fetch_sub(len, Ordering::AcqRel);
                Err(match refused {
                    TrySendError::Full(_) => Refused::Full,
                    TrySendError::Closed(_) => Refused::Closed,
                })
            }
        }
    }

    /// Whether the session ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Bytes queued and not yet written.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }
}

impl QueuedFrames {
    /// Waits for frames and moves up to `limit` of them into `frames`; 0 once the router dropped
    /// its end. The caller calls [`release`](Self::release) once they are written.
    pub(crate) async fn recv_many(&mut self, frames: &mut Vec<Vec<u8>>, limit: usize) -> usize {
        self.receiver.recv_many(frames, limit).await
    }

    /// `len` bytes taken from the queue were written or dropped.
    pub(crate) fn release(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::AcqRel);
    }

    /// Drops every queued frame; returns how many there were.
    pub(crate) fn drop_queued(&mut self) -> u64 {
        let mut dropped = 0;
        while let Ok(frame) = self.receiver.try_recv() {
            self.release(frame.len());
            dropped += 1;
        }
        dropped
    }

    /// Whether the router dropped its end.
    pub(crate) fn is_closed(&self) -> bool {
        self.receiver.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_bound_the_queue_and_come_back_when_released() {
        let (queue, mut frames) = outbound_queue(100, 1000);
        queue.push(vec![0; 600]).unwrap();
        // Below the bound: taken, even though it goes past it.
        queue.push(vec![0; 600]).unwrap();
        assert_eq!(queue.bytes(), 1200);
        assert!(!queue.has_room());
        assert_eq!(queue.push(vec![0; 1]), Err(Refused::Full));

        let mut got = Vec::new();
        assert_eq!(frames.recv_many(&mut got, 10).await, 2);
        // Still held until written.
        assert_eq!(queue.push(vec![0; 1]), Err(Refused::Full));
        frames.release(got.iter().map(Vec::len).sum());
        assert_eq!(queue.bytes(), 0);
        queue.push(vec![0; 1]).unwrap();
    }

    #[tokio::test]
    async fn the_count_bounds_too_and_dropped_frames_free_their_bytes() {
        let (queue, mut frames) = outbound_queue(2, 1 << 20);
        queue.push(vec![0; 10]).unwrap();
        queue.push(vec![0; 10]).unwrap();
        assert!(!queue.has_room());
        assert_eq!(queue.push(vec![0; 10]), Err(Refused::Full));
        assert_eq!(queue.bytes(), 20);
        assert_eq!(frames.drop_queued(), 2);
        assert_eq!(queue.bytes(), 0);
        drop(frames);
        assert!(queue.is_closed());
        assert_eq!(queue.push(vec![0; 10]), Err(Refused::Closed));
        assert_eq!(queue.bytes(), 0);
    }
}
