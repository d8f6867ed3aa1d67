//! The fault schedule carried out: network faults and partitions, crashes and restarts,
//! pauses, clients pinned to the leader, lost disks and slow clocks.

use crate::replica::Replica;
use crate::run::{Failure, Sim};
use crate::scenario::Action;
use rand::Rng;
use synod_kv::KvStore;
use synod_messages::NodeId;

impl Sim {
    /// Node `i`'s process dies: only its disk survives.
    pub(crate) fn crash(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.crash_in_persist = false;
        if node.replica.take().is_some() {
            self.crashes += 1;
            node.waiting.clear();
            node.reads.clear();
            node.remote_reads.clear();
            node.kv = KvStore::new();
            node.last_snapshot = 0;
        }
    }

    fn leader(&self) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.replica.as_ref().is_some_and(|r| r.leader() == Some(n.id)))
    }

    pub(crate) fn act(&mut self, action: Action) -> Result<(), Failure> {
        match action {
            Action::SetFaults(f) => self.net.faults = f,
            Action::IsolateLeader => {
                if let Some(l) = self.leader() {
                    let id = self.nodes[l].id;
                    let rest: Vec<NodeId> = self.ids.iter().copied().filter(|&x| x != id).collect();
                    self.net.faults.partition(&[vec![id], rest]);
                }
            }
            Action::Crash(who) => {
                let target = who.or_else(|| self.leader());
                if let Some(i) = target {
                    if self.rng.gen_bool(0.5) {
                        self.crash(i);
                    } else {
                        // Dies in its next persist, after what it may send before it left.
                        self.nodes[i].crash_in_persist = true;
                    }
                }
            }
            Action::RestartAll => {
                for i in 0..self.nodes.len() {
                    if self.nodes[i].crash_in_persist {
                        self.crash(i);
                    }
                    let node = &mut self.nodes[i];
                    if node.replica.is_none() && !node.lost {
                        node.replica = Some(Replica::start(
                            self.cfg.protocol,
                            node.id,
                            &self.ids,
                            self.cfg.seed ^ self.now,
                            self.cfg.value_bytes,
                            &mut node.disk,
                        ));
                        node.next_tick = self.now + 1;
                        self.after_step(i)?;
                    }
                }
            }
            Action::PinClientToLeader(pin) => {
                let leader = self.leader().map(|i| self.nodes[i].id);
                for (i, client) in self.work.clients.iter_mut().enumerate() {
                    if i == 0 {
                        client.pinned = if pin { leader } else { None };
                    } else if pin {
                        // The others look for the new leader among the rest.
                        client.leader = None;
                    }
                }
            }
            Action::PauseLeader(duration) => {
                if let Some(i) = self.leader() {
                    self.nodes[i].paused_until = self.now + duration;
                }
            }
            Action::Resume => {
                for i in 0..self.nodes.len() {
                    if self.nodes[i].paused_until <= self.now && !self.nodes[i].deferred.is_empty()
                    {
                        // Requests that arrived during the pause are read before the peers'
                        // messages: the deposed leader sees clients first.
                        for (c, p) in std::mem::take(&mut self.nodes[i].deferred) {
                            let waiting = self.work.clients[c]
                                .pending
                                .as_ref()
                                .is_some_and(|q| q.command.id == p.command.id);
                            if waiting {
                                self.submit(c, i, p)?;
                            }
                        }
                    }
                }
            }
            Action::LoseFurthestAhead => {
                let ahead =
                    (0..self.nodes.len()).max_by_key(|&i| self.nodes[i].disk.snapshot_index());
                if let Some(i) = ahead {
                    self.crash(i);
                    self.nodes[i].lost = true;
                }
            }
            Action::TickPeriod(i, period) => {
                if let Some(node) = self.nodes.get_mut(i) {
                    node.tick_period = period;
                }
            }
        }
        Ok(())
    }
}
