//! The simulated network: messages in flight ordered by delivery time, and the faults that
//! apply when a message is sent.

use rand::rngs::StdRng;
use rand::Rng;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use synod_messages::{ActorAddr, NodeId, Payload};

/// What the network does to messages now.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message takes a long detour (10–60 time units).
    pub heavy_tail: f64,
    /// Directed links that deliver nothing.
    pub cut: BTreeSet<(NodeId, NodeId)>,
}

impl Faults {
    /// Cuts every link between the groups, both ways.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) {
        for (i, a) in groups.iter().enumerate() {
            for b in groups.iter().skip(i + 1) {
                for &x in a {
                    for &y in b {
                        self.cut.insert((x, y));
                        self.cut.insert((y, x));
                    }
                }
            }
        }
    }

    /// No faults at all.
    pub fn heal(&mut self) {
        *self = Faults::default();
    }
}

/// A message on its way, ordered by arrival time, then by sending order.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// When it arrives.
    pub at: u64,
    /// Tie-breaker: the order it was sent in.
    pub seq: u64,
    /// Sender.
    pub from: ActorAddr,
    /// Receiver.
    pub to: ActorAddr,
    /// The message.
    pub payload: Payload,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for InFlight {}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Messages in flight.
#[derive(Default)]
pub struct Network {
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    /// Faults applied at send time.
    pub faults: Faults,
    /// Counters, for the run's figures.
    pub sent: u64,
    /// Messages lost to loss or cuts.
    pub dropped: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
}

impl Network {
    /// Sends a message at time `now`, through the faults.
    pub fn send(
        &mut self,
        rng: &mut StdRng,
        now: u64,
        from: ActorAddr,
        to: ActorAddr,
        payload: Payload,
    ) {
        self.sent += 1;
        let cut = from.node != to.node && self.faults.cut.contains(&(from.node, to.node));
        if cut || (from.node != to.node && rng.gen_bool(self.faults.loss)) {
            self.dropped += 1;
            return;
        }
        let copies = if rng.gen_bool(self.faults.duplicate) {
            self.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = if from.node == to.node {
                0
            } else if rng.gen_bool(self.faults.heavy_tail) {
                rng.gen_range(10..60)
            } else {
                rng.gen_range(1..4)
            };
            self.seq += 1;
            self.queue.push(Reverse(InFlight {
                at: now + delay,
                seq: self.seq,
                from,
                to,
                payload: payload.clone(),
            }));
        }
    }

    /// Puts a message back, to arrive at `at` (a paused receiver).
    pub fn requeue(&mut self, mut m: InFlight, at: u64) {
        m.at = at;
        self.queue.push(Reverse(m));
    }

    /// When the next message arrives.
    pub fn next_at(&self) -> Option<u64> {
        self.queue.peek().map(|Reverse(m)| m.at)
    }

    /// The next message to arrive.
    pub fn pop(&mut self) -> Option<InFlight> {
        self.queue.pop().map(|Reverse(m)| m)
    }
}
