//! Safety invariants, checked after every step from what the stepping node did: the
//! protocol's own (through [`synod_core::Protocol::invariants`]: Raft's Figure 3 properties,
//! Paxos's one value per slot, ...) and, for every protocol, state machine safety: every node
//! applies the same command at each position.

use crate::replica::{Output, Protocol, Replica};
use std::collections::BTreeMap;
use synod_core::StepView;
use synod_messages::{Command, NodeId};

/// The invariants' memory of the whole run.
pub struct Invariants {
    /// The protocol's own.
    protocol: Box<dyn synod_core::Invariants>,
    /// What was applied at each position.
    applied: BTreeMap<u64, Option<Command>>,
    /// How many positions were applied in all, by any node.
    pub applications: u64,
}

impl Invariants {
    /// Invariants of a cluster of `nodes` voters running `protocol`.
    pub fn new(protocol: Protocol, nodes: usize) -> Self {
        Self {
            protocol: protocol.invariants(nodes),
            applied: BTreeMap::new(),
            applications: 0,
        }
    }

    /// Positions known committed/chosen.
    pub fn decided(&self) -> usize {
        self.protocol.decided()
    }

    /// Checks what `node` just did; `Err` names the broken invariant.
    pub fn observe(&mut self, node: NodeId, replica: &Replica, out: &Output) -> Result<(), String> {
        let cores = replica.cores();
        self.protocol.observe(&StepView {
            node,
            cores: &cores,
            persisted: &out.persisted,
            applied: &out.applied,
        })?;
        for a in &out.applied {
            self.applications += 1;
            match self.applied.get(&a.index) {
                Some(prior) if *prior != a.command => {
                    return Err(format!(
                        "state machine safety: node {node} applied {:?} at {} where another node applied {prior:?}",
                        a.command, a.index
                    ))
                }
                Some(_) => {}
                None => {
                    self.applied.insert(a.index, a.command.clone());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::Disk;
    use synod_core::Applied;
    use synod_messages::{KvOp, RequestId};

    fn command(seq: u64) -> Command {
        Command {
            id: RequestId { client: 1, seq },
            op: KvOp::Delete { key: "k".into() },
        }
    }

    #[test]
    fn two_commands_applied_at_one_index_break_state_machine_safety() {
        for protocol in Protocol::all() {
            let mut inv = Invariants::new(protocol, 3);
            let out = |seq| Output {
                applied: vec![Applied {
                    index: 4,
                    command: Some(command(seq)),
                }],
                ..Output::default()
            };
            let follower = Replica::start(protocol, 1, &[1, 2, 3], 0, 0, &mut Disk::new());
            let err = inv
                .observe(1, &follower, &out(1))
                .and_then(|()| inv.observe(2, &follower, &out(1)))
                .and_then(|()| inv.observe(3, &follower, &out(2)))
                .unwrap_err();
            // Paxos already refuses the first delivery of a value no acceptor chose.
            assert!(
                err.contains("state machine safety") || err.contains("chosen"),
                "{protocol}: {err}"
            );
        }
    }

    #[test]
    fn the_protocols_own_invariants_are_checked() {
        let raft = Protocol::named("raft").unwrap();
        let mut inv = Invariants::new(raft, 3);
        let leader = |id| {
            let mut r = Replica::start(raft, id, &[id], 0, 0, &mut Disk::new());
            while r.leader() != Some(id) {
                r.tick();
                r.drain(id, &mut Output::default(), false);
            }
            r
        };
        inv.observe(1, &leader(1), &Output::default()).unwrap();
        let err = inv.observe(2, &leader(2), &Output::default()).unwrap_err();
        assert!(err.contains("election safety"), "{err}");
    }
}
