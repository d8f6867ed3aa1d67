//! The clients: each issues an operation, gives up on or retries an overdue one, and thinks
//! between operations; an operation is submitted to a node as a proposal or a read.

use crate::run::{Failure, Sim};
use crate::workload::{Pending, DEADLINE};
use rand::rngs::StdRng;
use rand::Rng;
use synod_check::Outcome;
use synod_messages::{KvOp, KvResult, RequestId};

impl Sim {
    /// Client `c` gets `result` for `request`, and thinks before its next operation.
    pub(crate) fn answer(&mut self, c: usize, request: RequestId, result: KvResult) {
        let think = think(&mut self.rng, self.work.clients[c].pinned.is_some());
        self.work.answer(c, request, result, self.now, think);
    }

    /// A client acts: gives up on (or retries) an overdue operation, or issues a new one.
    pub(crate) fn client(&mut self, c: usize) -> Result<(), Failure> {
        if let Some(p) = self.work.clients[c].pending.clone() {
            if !p.retried && self.rng.gen_bool(0.5) {
                // Retry with the same request id at some node: it must be applied once.
                let i = self.rng.gen_range(0..self.nodes.len());
                let retry = Pending {
                    deadline: self.now + DEADLINE,
                    retried: true,
                    ..p
                };
                self.work.clients[c].pending = Some(retry.clone());
                return self.submit(c, i, retry);
            }
            self.work.clients[c].pending = None;
            self.work.clients[c].next_at = self.now + 1;
            return Ok(());
        }
        let command = self.work.next_command(&mut self.rng, c);
        let op = self.work.call(c, &command, self.now);
        let client = &self.work.clients[c];
        let target = match (client.pinned, client.leader) {
            (Some(p), _) => (p - 1) as usize,
            (None, Some(l)) if self.rng.gen_bool(0.8) => (l - 1) as usize,
            _ => self.rng.gen_range(0..self.nodes.len()),
        };
        let pending = Pending {
            op,
            command,
            deadline: self.now + DEADLINE,
            retried: false,
        };
        self.work.clients[c].pending = Some(pending.clone());
        self.submit(c, target, pending)
    }

    pub(crate) fn submit(&mut self, c: usize, i: usize, p: Pending) -> Result<(), Failure> {
        let node = &mut self.nodes[i];
        if node.paused_until > self.now {
            // The request waits in the paused process's socket.
            node.deferred.push((c, p));
            return Ok(());
        }
        let read_id = node.next_read + 1;
        let (refused, read) = match &mut node.replica {
            None => (Some(None), false),
            Some(replica) => {
                // Reads take a read point instead of a log position.
                let read = matches!(p.command.op, KvOp::Get { .. });
                let result = if read {
                    replica.read(read_id)
                } else {
                    replica.propose(p.command.clone())
                };
                (result.err().map(|e| e.leader), read)
            }
        };
        match refused {
            None => {
                if read {
                    node.next_read = read_id;
                    let key = p.command.op.key().to_string();
                    node.reads.insert(read_id, (c, p.command.id, key, None));
                } else {
                    node.waiting.insert(p.command.id, c);
                }
                self.after_step(i)
            }
            Some(Some(leader)) if read => {
                // A follower asks the leader for a read point and serves the read itself.
                self.ask_leader(c, i, &p, leader);
                Ok(())
            }
            Some(hint) => {
                // Definitely not executed here.
                let client = &mut self.work.clients[c];
                client.leader = hint;
                if !p.retried {
                    self.work.history[p.op].outcome = Outcome::Failed;
                    client.pending = None;
                    client.next_at = self.now + self.rng.gen_range(1..10);
                }
                Ok(())
            }
        }
    }
}

/// How long a client waits before its next operation: a pinned client hammers its node.
fn think(rng: &mut StdRng, pinned: bool) -> u64 {
    if pinned {
        1
    } else {
        rng.gen_range(1..20)
    }
}
