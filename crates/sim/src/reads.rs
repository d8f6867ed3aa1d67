//! Linearizable reads, served as the real KV service serves them: at the leader, or at the
//! follower the client called, with a read point asked of the leader over the network.
//!
//! ```text
//!   Get at follower F ─► ReadIndex{id} ─► leader L: read barrier / ReadIndex round
//!   F ◄─ ReadIndexReply{id, point} ◄─┘
//!   F serves from its own store once it applied `point`
//! ```
//!
//! A refused or lost read point leaves the read unanswered: its client times out, and an
//! unanswered read constrains nothing in the history.

use crate::run::Sim;
use crate::workload::Pending;
use synod_messages::service::ServiceMessage;
use synod_messages::{ActorAddr, KvResult, NodeId, Payload, Role};

impl Sim {
    /// Client `c`'s read `p` arrived at node `i`, which is not the leader: ask `leader`.
    pub(crate) fn ask_leader(&mut self, c: usize, i: usize, p: &Pending, leader: NodeId) {
        let node = &mut self.nodes[i];
        node.next_read += 1;
        let id = node.next_read;
        let key = p.command.op.key().to_string();
        node.reads.insert(id, (c, p.command.id, key, None));
        let msg = ServiceMessage::ReadIndex { ids: vec![id] };
        self.send_service(node_id(i), leader, msg);
    }

    /// Node `i`'s service got `msg` from another node's service.
    pub(crate) fn on_service(
        &mut self,
        i: usize,
        from: NodeId,
        msg: ServiceMessage,
    ) -> Result<(), crate::run::Failure> {
        match msg {
            ServiceMessage::ReadIndex { ids } => {
                let mut refused = Vec::new();
                let node = &mut self.nodes[i];
                let Some(replica) = &mut node.replica else {
                    return Ok(());
                };
                for theirs in ids {
                    let local = node.next_read + 1;
                    match replica.read(local) {
                        Ok(()) => {
                            node.next_read = local;
                            node.remote_reads.insert(local, (from, theirs));
                        }
                        Err(_) => refused.push((theirs, None)),
                    }
                }
                if !refused.is_empty() {
                    let msg = ServiceMessage::ReadIndexReply { reads: refused };
                    self.send_service(node_id(i), from, msg);
                }
                self.after_step(i)
            }
            ServiceMessage::ReadIndexReply { reads } => {
                for (id, index) in reads {
                    self.read_point(i, id, index);
                }
                self.serve_reads(i);
                Ok(())
            }
            ServiceMessage::Forward { .. }
            | ServiceMessage::Redirect { .. }
            | ServiceMessage::Taken { .. } => Ok(()),
        }
    }

    /// The protocol at node `i` confirmed (or refused) these read points: answer the nodes
    /// that asked, and serve the local reads that are ready.
    pub(crate) fn read_points(&mut self, i: usize, answers: Vec<(u64, Option<u64>)>) {
        for (id, index) in answers {
            match self.nodes[i].remote_reads.remove(&id) {
                Some((asker, theirs)) => {
                    let msg = ServiceMessage::ReadIndexReply {
                        reads: vec![(theirs, index)],
                    };
                    self.send_service(node_id(i), asker, msg);
                }
                None => self.read_point(i, id, index),
            }
        }
        self.serve_reads(i);
    }

    fn read_point(&mut self, i: usize, id: u64, index: Option<u64>) {
        let reads = &mut self.nodes[i].reads;
        match index {
            Some(index) => {
                if let Some(r) = reads.get_mut(&id) {
                    r.3 = Some(index);
                }
            }
            None => {
                reads.remove(&id);
            }
        }
    }

    /// Answers node `i`'s reads whose read point it has applied, from its own store.
    fn serve_reads(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        let applied = node.kv.applied_index();
        let ready: Vec<u64> = node
            .reads
            .iter()
            .filter(|(_, r)| r.3.is_some_and(|p| p <= applied))
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            if let Some((c, request, key, _)) = self.nodes[i].reads.remove(&id) {
                let value = self.nodes[i].kv.get(&key).map(<[u8]>::to_vec);
                self.answer(c, request, KvResult::Value(value));
            }
        }
    }

    fn send_service(&mut self, from: NodeId, to: NodeId, msg: ServiceMessage) {
        self.net.send(
            &mut self.rng,
            self.now,
            ActorAddr::new(from, Role::SERVICE),
            ActorAddr::new(to, Role::SERVICE),
            Payload::Service(msg),
        );
    }
}

/// Node ids are 1-based positions.
fn node_id(i: usize) -> NodeId {
    i as NodeId + 1
}
