//! Handing pending requests to the leader: local proposals, refusals, leader tracking, expiry.

use super::{Service, SubmitDue};
use crate::msg::{ClientError, GetStatus, Propose};
use actix::prelude::*;
use std::time::Instant;
use synod_core::{NotLeader, Status};
use synod_messages::batch::batches;
use synod_messages::service::ServiceMessage;
use synod_messages::{Command, NodeId, RequestId};

impl Service {
    /// Hands pending commands to the leader: those never sent, sent to a node that is no longer
    /// the leader, or sent to another node long ago without result (the message may have been
    /// lost) and not answered `Taken` in the term this node sees. A leading protocol loses
    /// nothing it took while the term lasts: a command proposed here, or taken by the leader,
    /// goes again only in a new term or after a snapshot replaced the store (proposing it again
    /// meanwhile put it in the log twice, as many times as the commit took `resend_after`).
    pub(super) fn submit_due(&mut self, ctx: &mut Context<Self>) {
        let Some(leader) = self.leader else {
            return;
        };
        let now = Instant::now();
        let (resend_after, term) = (self.cfg.resend_after, self.term);
        let local = leader == self.cfg.node;
        let due: Vec<Command> = self
            .pending
            .values_mut()
            .filter(|p| match p.sent {
                None => true,
                Some((to, _)) if to != leader => true,
                Some(_) if local => p.sent_term != term,
                Some(_) if p.taken == Some(term) => false,
                Some((_, at)) => now.duration_since(at) >= resend_after,
            })
            .map(|p| {
                p.sent = Some((leader, now));
                p.sent_term = term;
                p.taken = None;
                // Handed to another node, it may be executed whatever we hear next.
                p.maybe_executed |= !local;
                p.command.clone()
            })
            .collect();
        if !due.is_empty() {
            if local {
                self.propose_locally(due, None, ctx);
            } else {
                let max = self.cfg.max_forward_bytes;
                for commands in batches(&due, usize::MAX, max, Command::approx_bytes) {
                    self.send_to(leader, ServiceMessage::Forward { commands });
                }
            }
        }
        let reads = self.reads.due(leader, now, resend_after);
        if !reads.is_empty() {
            if local {
                self.read_locally(reads, ctx);
            } else {
                self.send_to(leader, ServiceMessage::ReadIndex { ids: reads });
            }
        }
    }

    /// Proposes through the local protocol; on refusal, redirects `origin` (a forwarding
    /// node) or marks local requests for resending.
    pub(super) fn propose_locally(
        &mut self,
        commands: Vec<Command>,
        origin: Option<NodeId>,
        ctx: &mut Context<Self>,
    ) {
        let ids: Vec<RequestId> = commands.iter().map(|c| c.id).collect();
        metrics::counter!(crate::metrics::PROPOSALS).increment(ids.len() as u64);
        let term = self.term;
        let Some(protocol) = &self.protocol else {
            // No role here takes commands (a Paxos observer): refused as a follower would.
            let not_leader = NotLeader {
                leader: self.leader.filter(|&l| l != self.cfg.node),
            };
            self.refused(ids, origin, term, not_leader, ctx);
            return;
        };
        protocol
            .send(Propose(commands))
            .into_actor(self)
            .map(move |result, service, ctx| match result {
                Ok(Ok(())) => {
                    for id in &ids {
                        if let Some(p) = service.pending.get_mut(id) {
                            p.maybe_executed = true;
                        }
                    }
                    if let Some(origin) = origin {
                        service.send_to(origin, ServiceMessage::Taken { ids, term });
                    }
                }
                Ok(Err(not_leader)) => service.refused(ids, origin, term, not_leader, ctx),
                Err(e) => {
                    service.unforward(&ids, term);
                    tracing::error!(error = %e, "the protocol actor is gone");
                }
            })
            .spawn(ctx);
    }

    /// The local protocol refused commands: redirect `origin` (a forwarding node), or mark
    /// local requests for resending to the leader it named.
    fn refused(
        &mut self,
        ids: Vec<RequestId>,
        origin: Option<NodeId>,
        term: u64,
        not_leader: NotLeader,
        ctx: &mut Context<Self>,
    ) {
        if let Some(origin) = origin {
            self.unforward(&ids, term);
            self.send_to(
                origin,
                ServiceMessage::Redirect {
                    ids,
                    leader: not_leader.leader,
                },
            );
        } else {
            self.leader = not_leader.leader.filter(|&l| l != self.cfg.node);
            for id in &ids {
                if let Some(p) = self.pending.get_mut(id) {
                    p.sent = None;
                }
            }
            // The refusal may be older than the last RoleChanged (a leader elected meanwhile
            // reports nothing more): ask who leads now.
            self.refresh_leader(ctx);
        }
    }

    /// Forwarded commands the protocol refused in `term`: a copy forwarded again goes again.
    fn unforward(&mut self, ids: &[RequestId], term: u64) {
        for id in ids {
            if self.forwarded.get(id) == Some(&term) {
                self.forwarded.remove(id);
            }
        }
    }

    /// Asks the protocol who leads now, then hands pending commands over.
    fn refresh_leader(&mut self, ctx: &mut Context<Self>) {
        self.status
            .send(GetStatus)
            .into_actor(self)
            .map(|status, service, ctx| match status {
                // A report of a later term may have come meanwhile: terms only grow, so an
                // answer about an older one is stale.
                Ok(status) if status.epoch >= service.term => service.follow(&status, ctx),
                _ => service.submit_due(ctx),
            })
            .spawn(ctx);
    }

    /// The protocol reports who leads and in which term: hand pending commands over.
    pub(super) fn follow(&mut self, status: &Status, ctx: &mut Context<Self>) {
        if status.leader != self.leader {
            metrics::counter!(crate::metrics::LEADER_CHANGES).increment(1);
            // Once per change: the line a person watching the cluster looks for.
            match status.leader {
                Some(leader) if leader == self.cfg.node => tracing::info!(
                    node = self.cfg.node,
                    term = status.epoch,
                    protocol = status.protocol,
                    "this node leads"
                ),
                Some(leader) => tracing::info!(
                    node = self.cfg.node,
                    leader,
                    term = status.epoch,
                    "leader known"
                ),
                None => tracing::info!(
                    node = self.cfg.node,
                    term = status.epoch,
                    role = status.role_word(),
                    "no leader known"
                ),
            }
        }
        self.leader = status.leader;
        if self.term != status.epoch {
            // What a past term took may be lost: a command forwarded again goes again.
            self.forwarded.clear();
        }
        self.term = status.epoch;
        self.submit_due(ctx);
    }

    /// Fails requests whose deadline passed.
    pub(super) fn expire(&mut self) {
        let now = Instant::now();
        for read in self.reads.expired(now) {
            // A read has no effect: one that was not served was not executed.
            for w in read.waiters {
                let _ = w.send(Err(ClientError::NoLeader {
                    leader: self.leader,
                }));
            }
        }
        let expired: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(p) = self.pending.remove(&id) {
                let err = if p.maybe_executed(self.cfg.node) {
                    ClientError::Timeout
                } else {
                    ClientError::NoLeader {
                        leader: self.leader,
                    }
                };
                for w in p.waiters {
                    let _ = w.send(Err(err.clone()));
                }
            }
        }
    }

    /// Hands new requests over once the mailbox is empty, so a burst of client requests goes
    /// to the leader as one batch.
    pub(super) fn schedule_submit(&mut self, ctx: &mut Context<Self>) {
        if !self.submit_scheduled {
            self.submit_scheduled = true;
            ctx.notify(SubmitDue);
        }
    }

    /// Answers `err` to every request last handed to this node's own protocol.
    pub(super) fn fail_local(&mut self, err: ClientError) {
        let me = self.cfg.node;
        let local: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.sent.is_some_and(|(to, _)| to == me))
            .map(|(id, _)| *id)
            .collect();
        for id in local {
            if let Some(p) = self.pending.remove(&id) {
                for w in p.waiters {
                    let _ = w.send(Err(err.clone()));
                }
            }
        }
    }
}
