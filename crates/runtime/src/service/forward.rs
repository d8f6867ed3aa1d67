//! Messages between the services of different nodes: commands forwarded to the leader, its
//! answers (`Taken`, `Redirect`), and read points asked of it (`ReadIndex`).

use super::Service;
use crate::reads::{Origin, State as ReadState};
use actix::prelude::*;
use std::time::Instant;
use synod_messages::service::ServiceMessage;
use synod_messages::{ActorAddr, Command, Envelope, NodeId, Payload, Role};

impl Service {
    pub(super) fn send_to(&self, node: NodeId, msg: ServiceMessage) {
        self.router.do_send(synod_network::Send(Envelope {
            from: self.me(),
            to: ActorAddr::new(node, Role::SERVICE),
            payload: Payload::Service(msg),
        }));
    }

    pub(super) fn on_service_message(
        &mut self,
        from: ActorAddr,
        msg: ServiceMessage,
        ctx: &mut Context<Self>,
    ) {
        match msg {
            ServiceMessage::Forward { mut commands } => {
                if self.leader == Some(self.cfg.node) {
                    // Recorded before the proposal, so that its apply (which may be handled
                    // before the proposal's answer) finds the record to clear.
                    let term = self.term;
                    let (held, fresh): (Vec<Command>, Vec<Command>) = commands
                        .into_iter()
                        .partition(|c| self.forwarded.get(&c.id) == Some(&term));
                    if !held.is_empty() {
                        // Sent again: the answer to the first copy may have been lost.
                        let ids = held.iter().map(|c| c.id).collect();
                        self.send_to(from.node, ServiceMessage::Taken { ids, term });
                    }
                    commands = fresh;
                    self.forwarded.extend(commands.iter().map(|c| (c.id, term)));
                }
                if !commands.is_empty() {
                    self.propose_locally(commands, Some(from.node), ctx);
                }
            }
            ServiceMessage::ReadIndex { ids } => {
                let now = Instant::now();
                let deadline = now + self.cfg.request_timeout;
                let local: Vec<u64> = ids
                    .into_iter()
                    .map(|theirs| {
                        let origin = Origin::Remote {
                            node: from.node,
                            id: theirs,
                        };
                        self.reads.add(
                            String::new(),
                            origin,
                            deadline,
                            Vec::new(),
                            ReadState::Sent(self.cfg.node, now),
                        )
                    })
                    .collect();
                self.read_locally(local, ctx);
            }
            ServiceMessage::ReadIndexReply { reads } => {
                for (id, index) in reads {
                    self.reads.answer(id, index);
                }
                self.serve_reads();
            }
            ServiceMessage::Redirect { ids, leader } => {
                if let Some(l) = leader.filter(|&l| l != from.node) {
                    self.leader = Some(l);
                }
                for id in ids {
                    if let Some(p) = self.pending.get_mut(&id) {
                        p.sent = None;
                    }
                }
            }
            ServiceMessage::Taken { ids, term } => {
                for id in ids {
                    if let Some(p) = self.pending.get_mut(&id) {
                        if p.sent.is_some_and(|(to, _)| to == from.node) {
                            p.taken = Some(term);
                        }
                    }
                }
            }
        }
    }
}
