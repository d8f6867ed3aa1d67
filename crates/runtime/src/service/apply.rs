//! Applying what the protocol committed (batches, snapshots), and serving reads once applied.

use super::Service;
use crate::msg::{ApplyBatch, ClientError, Read};
use crate::reads::Origin;
use crate::snapshot_policy::log_bytes;
use actix::prelude::*;
use std::collections::HashMap;
use synod_core::Snapshot;
use synod_kv::KvStore;
use synod_messages::service::ServiceMessage;
use synod_messages::{KvResult, NodeId};

impl Service {
    /// Replaces the store by a snapshot's image (from the leader, or restored at start).
    fn install(&mut self, snapshot: &Snapshot) {
        if snapshot.index <= self.kv.applied_index() {
            return;
        }
        match KvStore::restore(&snapshot.data) {
            Ok(kv) => {
                tracing::info!(
                    node = self.cfg.node,
                    index = snapshot.index,
                    keys = kv.len(),
                    "installed a snapshot"
                );
                // An image of the store being replaced is abandoned, never completed.
                self.abandon_snapshot();
                self.kv = kv;
                self.snapshot_index = snapshot.index;
                self.log_bytes = 0;
                // Commands the image applied are not seen one by one: a pending one the
                // leader took may be among them, so it goes again (the leader proposes the
                // copy, and its entry's apply answers from the exactly-once table).
                self.forwarded.clear();
                for p in self.pending.values_mut() {
                    p.taken = None;
                }
            }
            Err(e) => {
                // The image passed the storage and transport checksums, so this is a bug or a
                // version mismatch. Applying what follows on top of the old store would serve
                // a state no other node has: stop applying and serving instead.
                tracing::error!(node = self.cfg.node, index = snapshot.index, error = %e, "cannot decode a snapshot; this node's state machine stops");
                self.stopped = Some(format!(
                    "the state machine stopped: the snapshot at {} cannot be decoded ({e})",
                    snapshot.index
                ));
                let interrupted = ClientError::Interrupted("the state machine stopped".into());
                for (_, p) in self.pending.drain() {
                    for w in p.waiters {
                        let _ = w.send(Err(interrupted.clone()));
                    }
                }
                self.reads.all.clear();
            }
        }
    }

    /// Applies what the protocol committed, answering the requests it settles.
    pub(super) fn on_batch(&mut self, batch: ApplyBatch, ctx: &mut Context<Self>) {
        if self.stopped.is_some() {
            return;
        }
        if let Some(snapshot) = batch.snapshot {
            self.install(&snapshot);
            if self.stopped.is_some() {
                return;
            }
        }
        metrics::counter!(crate::metrics::APPLIED).increment(batch.entries.len() as u64);
        let kv = &mut self.kv;
        for applied in batch.entries {
            let Some(command) = applied.command else {
                kv.skip(applied.index);
                continue;
            };
            self.log_bytes += log_bytes(&command);
            self.forwarded.remove(&command.id);
            let Some(result) = kv.apply(applied.index, &command) else {
                continue;
            };
            if let Some(p) = self.pending.remove(&command.id) {
                for w in p.waiters {
                    let _ = w.send(Ok(result.clone()));
                }
            }
        }
        self.on_reads(batch.reads);
        self.maybe_snapshot(ctx);
    }

    /// Asks the local protocol to confirm read points; a refusal sends the reads back to be
    /// retried (or answers the nodes that asked).
    pub(super) fn read_locally(&mut self, ids: Vec<u64>, ctx: &mut Context<Self>) {
        let Some(protocol) = &self.read_index else {
            return;
        };
        protocol
            .send(Read(ids.clone()))
            .into_actor(self)
            .map(move |result, service, _| {
                if !matches!(result, Ok(Ok(()))) {
                    service.on_reads(ids.into_iter().map(|id| (id, None)).collect());
                }
            })
            .spawn(ctx);
    }

    /// Read points arrived from the local protocol: answer the nodes that asked, and serve
    /// the local reads that are ready.
    fn on_reads(&mut self, answers: Vec<(u64, Option<u64>)>) {
        let mut replies: HashMap<NodeId, Vec<(u64, Option<u64>)>> = HashMap::new();
        for (id, index) in answers {
            match self.reads.all.get(&id).map(|r| r.origin) {
                Some(Origin::Remote { node, id: theirs }) => {
                    self.reads.all.remove(&id);
                    replies.entry(node).or_default().push((theirs, index));
                }
                Some(Origin::Local) => self.reads.answer(id, index),
                None => {}
            }
        }
        for (node, reads) in replies {
            self.send_to(node, ServiceMessage::ReadIndexReply { reads });
        }
        self.serve_reads();
    }

    /// Answers the reads whose read point has been applied.
    pub(super) fn serve_reads(&mut self) {
        for read in self.reads.ready(self.kv.applied_index()) {
            let value = self.kv.get(&read.key).map(<[u8]>::to_vec);
            for w in read.waiters {
                let _ = w.send(Ok(KvResult::Value(value.clone())));
            }
        }
    }
}
