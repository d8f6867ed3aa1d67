//! Telling the learners which slots are chosen: the values themselves (`Chosen`), or only
//! their slots (`ChosenSlots`) to a learner whose node's acceptor already has a large value.

use super::Proposer;
use crate::config::by_slot;
use synod_messages::paxos::{PaxosMessage, Slot, Value};
use synod_messages::NodeId;

impl Proposer {
    /// Tells each learner that `chosen` are chosen. A large value (see
    /// [`crate::config::BY_SLOT_BYTES`]) goes by its slot only to a learner whose node's
    /// acceptor was sent it (below `sent_upto` of its window): that acceptor tells it the value
    /// (`Voted`), so the value crosses the network once. Other values, and learners without
    /// such an acceptor (none on the node, it is left out of phase 2 (`fanout`), or it was
    /// passed over while its window was full), get the value itself. (A slot sent but lost on the way is caught up by that learner
    /// from the others.)
    /// `sent_upto` is `None` when no value is large: every learner then gets the same `Chosen`.
    pub(super) fn announce(
        &mut self,
        mut chosen: Vec<(Slot, Value)>,
        sent_upto: Option<Vec<(NodeId, Slot)>>,
    ) {
        let Some(sent_upto) = sent_upto else {
            let learners = self.cfg.learners.clone();
            for chunk in self.cut(chosen) {
                let msg = PaxosMessage::Chosen { entries: chunk };
                self.broadcast(&learners, crate::LEARNER, msg);
            }
            return;
        };
        chosen.sort_unstable_by_key(|(slot, _)| *slot);
        for (learner, upto) in sent_upto {
            let (known, unknown): (Vec<_>, Vec<_>) = chosen
                .iter()
                .partition(|(slot, value)| *slot < upto && by_slot(value));
            if !known.is_empty() {
                let msg = PaxosMessage::ChosenSlots {
                    ballot: self.ballot,
                    slots: known.into_iter().map(|(slot, _)| *slot).collect(),
                };
                self.send(learner, crate::LEARNER, msg);
            }
            let unknown: Vec<(Slot, Value)> = unknown.into_iter().cloned().collect();
            for chunk in self.cut(unknown) {
                self.send(
                    learner,
                    crate::LEARNER,
                    PaxosMessage::Chosen { entries: chunk },
                );
            }
        }
    }
}
