//! Simulated clients: each issues one put/get/delete/cas at a time to some node, and the
//! history records every call and return for the linearizability check.

use rand::rngs::StdRng;
use rand::Rng;
use synod_check::{History, Operation, Outcome};
use synod_messages::{Command, KvOp, KvResult, NodeId, RequestId};

const KEYS: [&str; 3] = ["a", "b", "c"];
/// Time a client waits for an answer before it calls the outcome unknown (or retries).
pub const DEADLINE: u64 = 120;

/// An operation waiting for its answer.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its position in the history.
    pub op: usize,
    /// The command, kept for a retry with the same id.
    pub command: Command,
    /// When the client stops waiting.
    pub deadline: u64,
    /// Whether it was sent again already.
    pub retried: bool,
}

/// One client.
#[derive(Debug, Default)]
pub struct Client {
    /// What it waits for.
    pub pending: Option<Pending>,
    /// When it acts next.
    pub next_at: u64,
    /// Who it believes leads.
    pub leader: Option<NodeId>,
    /// Talks only to this node, and mostly reads.
    pub pinned: Option<NodeId>,
    seq: u64,
    /// Values it saw, for plausible compare-and-swaps.
    seen: Vec<Vec<u8>>,
}

/// The clients and the history they record.
pub struct Workload {
    /// The clients.
    pub clients: Vec<Client>,
    /// Every operation with its call and outcome.
    pub history: Vec<Operation>,
    /// Written values are padded to at least this many bytes.
    value_bytes: usize,
}

impl Workload {
    /// `n` idle clients, writing values of at least `value_bytes` bytes.
    pub fn new(n: usize, value_bytes: usize) -> Self {
        Self {
            clients: (0..n).map(|_| Client::default()).collect(),
            history: Vec::new(),
            value_bytes,
        }
    }

    /// A new random command for client `c`.
    pub fn next_command(&mut self, rng: &mut StdRng, c: usize) -> Command {
        let client = &mut self.clients[c];
        client.seq += 1;
        let key = KEYS[rng.gen_range(0..KEYS.len())].to_string();
        let mut fresh = format!("{c}-{}", client.seq).into_bytes();
        if fresh.len() < self.value_bytes {
            fresh.resize(self.value_bytes, b'.');
        }
        // A pinned client only reads: it plays the reader stuck on a deposed leader.
        let roll = if client.pinned.is_some() {
            5
        } else {
            rng.gen_range(0..10)
        };
        let op = match roll {
            0..=3 => KvOp::Put { key, value: fresh },
            4..=6 => KvOp::Get { key },
            7..=8 => {
                let expected = if client.seen.is_empty() || rng.gen_bool(0.2) {
                    None
                } else {
                    Some(client.seen[rng.gen_range(0..client.seen.len())].clone())
                };
                KvOp::Cas {
                    key,
                    expected,
                    value: Some(fresh),
                }
            }
            _ => KvOp::Delete { key },
        };
        Command {
            id: RequestId {
                client: c as u64,
                seq: client.seq,
            },
            op,
        }
    }

    /// Records the call of `command` by client `c` at `now`; returns its history position.
    pub fn call(&mut self, c: usize, command: &Command, now: u64) -> usize {
        self.history.push(Operation {
            client: c as u64,
            op: command.op.clone(),
            call: now,
            outcome: Outcome::Unknown,
        });
        self.history.len() - 1
    }

    /// Client `c` got `result` for its pending operation `id` at `now`.
    pub fn answer(&mut self, c: usize, id: RequestId, result: KvResult, now: u64, think: u64) {
        let client = &mut self.clients[c];
        let Some(p) = client.pending.take_if(|p| p.command.id == id) else {
            return;
        };
        if let KvResult::Value(Some(v))
        | KvResult::Cas {
            current: Some(v), ..
        } = &result
        {
            client.seen.push(v.clone());
            if client.seen.len() > 8 {
                client.seen.remove(0);
            }
        }
        self.history[p.op].outcome = Outcome::Ok { result, ret: now };
        client.next_at = now + think;
    }

    /// The history for the checker.
    pub fn history(&self) -> History {
        let mut h = History::new();
        for op in &self.history {
            h.push(op.clone());
        }
        h
    }
}
