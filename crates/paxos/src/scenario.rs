//! The two worked examples (docs/concepts.md), replayed on the real proposer and acceptor cores through a
//! scripted network in which every messenger is delivered — or captured — by hand.
//!
//! ```text
//!   officer k = (k, proposer)      general k = (k, acceptor)      scribe k = (k, learner)
//!   number 1 = ballot 1.1          number 2 = ballot 1.2          number 3 = ballot 2.1
//! ```
//!
//! [`example_1`] and [`example_2`] run the steps in the worked examples' numbering and call `observe`
//! after each one, with the step and the world; the tests assert each step there, and
//! `synod scenario` prints them. Heartbeats between officers (and the read barriers a leader's
//! heartbeat sends the generals) are not part of the story and are never delivered;
//! what tells the scribes (learners on the generals' nodes) what was chosen — the officer's
//! `Chosen` and `ChosenSlots`, a general's `Voted` to its own scribe — reaches them at once, so
//! the trace can show what was learned.

use crate::acceptor::{Acceptor, AcceptorState};
use crate::config::PaxosConfig;
use crate::learner::{Learner, LearnerState};
use crate::proposer::Proposer;
use std::collections::{BTreeMap, VecDeque};
use synod_core::driver::{self, Effects};
use synod_core::{Applied, Core, Proposing, Snapshot, StorageError};
use synod_messages::paxos::{Ballot, PaxosMessage, Slot, Value};
use synod_messages::{ActorAddr, Command, KvOp, NodeId, RequestId};

/// One numbered step of the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The step's number in the story, e.g. "6b".
    pub id: &'static str,
    /// The story's words for the step.
    pub text: &'static str,
}

/// A scripted delivery the world could not make: the protocol did not send what the seed says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError(pub String);

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScenarioError {}

/// A message in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messenger {
    /// Sender.
    pub from: ActorAddr,
    /// Receiver.
    pub to: ActorAddr,
    /// What it carries.
    pub msg: PaxosMessage,
}

/// Two officers (proposers 1, 2), three generals (acceptors 1-3), and a scribe per general.
pub struct World {
    /// The officers by number.
    pub officers: BTreeMap<NodeId, Proposer>,
    /// The generals by number.
    pub generals: BTreeMap<NodeId, Acceptor>,
    /// The scribes (learners) by general.
    pub scribes: BTreeMap<NodeId, Learner>,
    /// Messengers on the road.
    pub in_flight: VecDeque<Messenger>,
    /// What happened since the last step, in words.
    pub events: Vec<String>,
}

/// The attack time `t` as a client command.
pub fn attack_time(t: u64) -> Command {
    Command {
        id: RequestId { client: 0, seq: t },
        op: KvOp::Put {
            key: "attack".into(),
            value: format!("time {t}").into_bytes(),
        },
    }
}

/// The attack time a value carries, if any.
pub fn time_of(value: &Value) -> Option<u64> {
    match value {
        Value::Command(c) => Some(c.id.seq),
        Value::Noop => None,
    }
}

/// The story's name of a ballot.
pub fn number(b: Ballot) -> String {
    match (b.round, b.node) {
        (1, 1) => "number 1".into(),
        (1, 2) => "number 2".into(),
        (2, 1) => "number 3".into(),
        _ => format!("ballot {b}"),
    }
}

fn who(a: ActorAddr) -> String {
    match a.role {
        crate::PROPOSER => format!("officer {}", a.node),
        crate::ACCEPTOR => format!("general {}", a.node),
        crate::LEARNER => format!("scribe {}", a.node),
        other => format!("{other} {}", a.node),
    }
}

/// A message in the words of the story.
pub fn describe(msg: &PaxosMessage) -> String {
    let values = |entries: &[(Slot, Value)]| {
        entries
            .iter()
            .map(|(s, v)| match time_of(v) {
                Some(t) => format!("slot {s}: attack time {t}"),
                None => format!("slot {s}: no-op"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match msg {
        PaxosMessage::Prepare { ballot, .. } => format!("prepare ({})", number(*ballot)),
        PaxosMessage::Promise {
            ballot, accepted, ..
        } if accepted.is_empty() => {
            format!("promise ({}): ok, nothing accepted yet", number(*ballot))
        }
        PaxosMessage::Promise {
            ballot, accepted, ..
        } => format!(
            "promise ({}), already accepted: {}",
            number(*ballot),
            accepted
                .iter()
                .map(|a| format!(
                    "({}, attack time {})",
                    number(a.ballot),
                    time_of(&a.value).unwrap_or(0)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        PaxosMessage::Accept { ballot, entries } => {
            format!("accept ({}, {})", number(*ballot), values(entries))
        }
        PaxosMessage::Accepted { ballot, .. } => format!("accepted ({})", number(*ballot)),
        PaxosMessage::Rejected { promised, .. } => {
            format!("rejected, holding ({})", number(*promised))
        }
        PaxosMessage::Chosen { entries } => format!("chosen: {}", values(entries)),
        other => format!("{other:?}"),
    }
}

/// The stories keep no disk: what an actor persists is taken as durable at once, and only
/// its messages are looked at.
#[derive(Default)]
struct Story {
    sent: Vec<(ActorAddr, PaxosMessage)>,
}

impl<P> Effects<PaxosMessage, P> for Story {
    fn send(&mut self, to: ActorAddr, msg: PaxosMessage) {
        self.sent.push((to, msg));
    }
    fn persist(&mut self, _: &[P]) -> Result<(), StorageError> {
        Ok(())
    }
    fn deliver(&mut self, _: Option<Snapshot>, _: Vec<Applied>, _: Vec<(u64, Option<u64>)>) {}
}

/// Carries out an actor's outputs through the driver; returns what it sent.
fn sent<C: Core<Message = PaxosMessage>>(actor: &mut C) -> Vec<(ActorAddr, PaxosMessage)> {
    let mut story = Story::default();
    // Persisting to no disk cannot fail.
    let _ = driver::drive(actor, &mut story);
    story.sent
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// Nobody has promised or accepted anything yet.
    pub fn new() -> Self {
        let cfg = |id| PaxosConfig {
            proposers: vec![1, 2],
            acceptors: vec![1, 2, 3],
            learners: vec![1, 2, 3],
            ..PaxosConfig::all_roles(id, vec![])
        };
        Self {
            officers: (1..=2).map(|id| (id, Proposer::new(cfg(id)))).collect(),
            generals: (1..=3)
                .map(|id| (id, Acceptor::new(id, AcceptorState::default())))
                .collect(),
            scribes: (1..=3)
                .map(|id| (id, Learner::new(cfg(id), LearnerState::default())))
                .collect(),
            in_flight: VecDeque::new(),
            events: Vec::new(),
        }
    }

    /// Collects what an actor sent. Heartbeats, and the read barriers a leader's heartbeat
    /// sends its generals (the stories have no reads), are set aside; what tells a scribe what
    /// was chosen goes to it at once.
    fn collect(&mut self, from: ActorAddr) {
        let messages = match from.role {
            crate::PROPOSER => self.officers.get_mut(&from.node).map(sent),
            crate::ACCEPTOR => self.generals.get_mut(&from.node).map(sent),
            _ => self.scribes.get_mut(&from.node).map(|s| {
                sent(s);
                Vec::new()
            }),
        };
        for (to, msg) in messages.unwrap_or_default() {
            match msg {
                PaxosMessage::Heartbeat { .. }
                | PaxosMessage::ReadBarrier { .. }
                | PaxosMessage::ReadBarrierAck { .. } => {}
                PaxosMessage::Chosen { .. }
                | PaxosMessage::ChosenSlots { .. }
                | PaxosMessage::Voted { .. } => {
                    if let Some(scribe) = self.scribes.get_mut(&to.node) {
                        self.events.push(format!(
                            "{} tells {}: {}",
                            who(from),
                            who(to),
                            describe(&msg)
                        ));
                        scribe.on_message(from, msg.clone());
                        sent(scribe);
                    }
                }
                msg => {
                    self.events.push(format!(
                        "{} sends {} to {}",
                        who(from),
                        describe(&msg),
                        who(to)
                    ));
                    self.in_flight.push_back(Messenger { from, to, msg });
                }
            }
        }
    }

    /// Officer `k` starts phase 1 with a new number.
    pub fn prepare(&mut self, k: NodeId) -> Result<Ballot, ScenarioError> {
        let officer = self
            .officers
            .get_mut(&k)
            .ok_or_else(|| ScenarioError(format!("no officer {k}")))?;
        officer.campaign();
        let ballot = officer.ballot();
        self.collect(ActorAddr::new(k, crate::PROPOSER));
        Ok(ballot)
    }

    /// Officer `k` proposes attack time `t` (it must lead).
    pub fn propose(&mut self, k: NodeId, t: u64) -> Result<(), ScenarioError> {
        let officer = self
            .officers
            .get_mut(&k)
            .ok_or_else(|| ScenarioError(format!("no officer {k}")))?;
        officer
            .propose(vec![attack_time(t)])
            .map_err(|e| ScenarioError(format!("officer {k} cannot propose: {e}")))?;
        self.collect(ActorAddr::new(k, crate::PROPOSER));
        Ok(())
    }

    fn take(&mut self, from: ActorAddr, to: ActorAddr) -> Result<Messenger, ScenarioError> {
        let pos = self
            .in_flight
            .iter()
            .position(|m| m.from == from && m.to == to)
            .ok_or_else(|| {
                ScenarioError(format!(
                    "no messenger from {} to {} is on the road",
                    who(from),
                    who(to)
                ))
            })?;
        self.in_flight
            .remove(pos)
            .ok_or_else(|| ScenarioError("messenger vanished".into()))
    }

    /// The next messenger from `from` to `to` arrives.
    pub fn deliver(
        &mut self,
        from: ActorAddr,
        to: ActorAddr,
    ) -> Result<PaxosMessage, ScenarioError> {
        let m = self.take(from, to)?;
        self.events.push(format!(
            "{} receives {} from {}",
            who(to),
            describe(&m.msg),
            who(from)
        ));
        match to.role {
            crate::PROPOSER => self
                .officers
                .get_mut(&to.node)
                .map(|o| o.on_message(from, m.msg.clone())),
            crate::ACCEPTOR => self
                .generals
                .get_mut(&to.node)
                .map(|g| g.on_message(from, m.msg.clone())),
            _ => None,
        }
        .ok_or_else(|| ScenarioError(format!("nobody is {}", who(to))))?;
        self.collect(to);
        Ok(m.msg)
    }

    /// The next messenger from `from` to `to` is captured: its message is lost.
    pub fn capture(
        &mut self,
        from: ActorAddr,
        to: ActorAddr,
    ) -> Result<PaxosMessage, ScenarioError> {
        let m = self.take(from, to)?;
        self.events.push(format!(
            "the messenger from {} to {} is captured",
            who(from),
            who(to)
        ));
        Ok(m.msg)
    }

    /// The messengers still on the road from `from`.
    pub fn sent_by(&self, from: ActorAddr) -> Vec<&Messenger> {
        self.in_flight.iter().filter(|m| m.from == from).collect()
    }

    /// What general `k` stored: its promise and its accepted (number, time) for slot 1.
    pub fn general(&self, k: NodeId) -> (Ballot, Option<(Ballot, Option<u64>)>) {
        let state = self
            .generals
            .get(&k)
            .map(|g| g.state().clone())
            .unwrap_or_default();
        let accepted = state.accepted.get(&1).map(|(b, v)| (*b, time_of(v)));
        (state.promised, accepted)
    }

    /// The attack time scribe `k` learned for slot 1.
    pub fn learned(&self, k: NodeId) -> Option<u64> {
        self.scribes.get(&k)?.chosen(1).and_then(time_of)
    }

    /// The words for what each general stored.
    pub fn ledger(&self) -> Vec<String> {
        (1..=3)
            .map(|k| {
                let (promised, accepted) = self.general(k);
                let promised = if promised == Ballot::default() { "nothing".into() } else { number(promised) };
                let accepted = match accepted {
                    Some((b, Some(t))) => format!("({}, attack time {t})", number(b)),
                    Some((b, None)) => format!("({}, no-op)", number(b)),
                    None => "nothing".into(),
                };
                let learned = self.learned(k).map_or("-".into(), |t| format!("attack time {t}"));
                format!("general {k}: promised {promised}, accepted {accepted}; scribe learned {learned}")
            })
            .collect()
    }
}

fn officer(k: NodeId) -> ActorAddr {
    ActorAddr::new(k, crate::PROPOSER)
}

fn general(k: NodeId) -> ActorAddr {
    ActorAddr::new(k, crate::ACCEPTOR)
}

/// An observer of the steps.
pub type Observe<'a> = &'a mut dyn FnMut(&Step, &mut World);

fn step(world: &mut World, observe: Observe<'_>, id: &'static str, text: &'static str) {
    observe(&Step { id, text }, world);
    world.events.clear();
}

/// Example 1: no faults; officer 2 adopts officer 1's attack time.
pub fn example_1(observe: Observe<'_>) -> Result<World, ScenarioError> {
    let mut w = World::new();
    w.prepare(1)?;
    step(
        &mut w,
        observe,
        "1",
        "Officer 1 proposes: a messenger takes (number 1) to the 3 generals.",
    );
    for g in 1..=3 {
        w.deliver(officer(1), general(g))?;
    }
    step(
        &mut w,
        observe,
        "2",
        "The 3 generals have stored no number yet, so each stores (number 1) and replies (ok).",
    );
    for g in 1..=3 {
        w.deliver(general(g), officer(1))?;
    }
    w.propose(1, 1)?;
    step(
        &mut w,
        observe,
        "3",
        "Officer 1 gets at least 2 replies and sends (number 1, attack time 1) to the 3 generals.",
    );
    for g in 1..=3 {
        w.deliver(officer(1), general(g))?;
    }
    step(
        &mut w,
        observe,
        "4",
        "The 3 generals store (number 1, attack time 1) and reply (Accepted).",
    );
    for g in 1..=3 {
        w.deliver(general(g), officer(1))?;
    }
    step(
        &mut w,
        observe,
        "5",
        "Officer 1 gets at least 2 (Accepted): the attack time is chosen.",
    );
    w.prepare(2)?;
    step(
        &mut w,
        observe,
        "6",
        "Officer 2 proposes: (number 2) to the 3 generals.",
    );
    for g in 1..=3 {
        w.deliver(officer(2), general(g))?;
    }
    step(&mut w, observe, "7", "Number 2 > number 1, so each general stores (number 2); having accepted officer 1's proposal, each replies with (number 1, attack time 1).");
    for g in 1..=3 {
        w.deliver(general(g), officer(2))?;
    }
    step(&mut w, observe, "8", "Officer 2 gets at least 2 replies carrying officer 1's accepted proposal, so it proposes no new time and adopts officer 1's time.");
    for g in 1..=3 {
        w.deliver(officer(2), general(g))?;
    }
    for g in 1..=3 {
        w.deliver(general(g), officer(2))?;
    }
    step(&mut w, observe, "9", "(One step past the original story.) Number 2 is not below what the generals promised, so each accepts (number 2, attack time 1) and replies (Accepted); with a majority officer 2 knows attack time 1 is chosen, and tells the scribes. It is the time already chosen in step 5: once a value is chosen, every later number carries the same value.");
    Ok(w)
}

/// Example 2: captured messengers and dueling officers; attack time 2 is confirmed.
pub fn example_2(observe: Observe<'_>) -> Result<World, ScenarioError> {
    let mut w = World::new();
    w.prepare(1)?;
    step(
        &mut w,
        observe,
        "1",
        "Officer 1 sends (number 1) to the 3 generals.",
    );
    w.deliver(officer(1), general(1))?;
    w.deliver(officer(1), general(2))?;
    step(
        &mut w,
        observe,
        "2a",
        "Generals 1 and 2 receive it, record (number 1) and reply (ok).",
    );
    w.capture(officer(1), general(3))?;
    step(
        &mut w,
        observe,
        "2b",
        "The messenger to general 3 is captured: general 3 receives nothing.",
    );
    w.prepare(2)?;
    step(
        &mut w,
        observe,
        "3",
        "At the same time officer 2 sends (number 2) to the 3 generals.",
    );
    w.deliver(officer(2), general(2))?;
    w.deliver(officer(2), general(3))?;
    step(
        &mut w,
        observe,
        "4a",
        "Generals 2 and 3 receive it, record (number 2) and reply (ok).",
    );
    w.capture(officer(2), general(1))?;
    step(
        &mut w,
        observe,
        "4b",
        "The messenger to general 1 is captured: general 1 does not receive officer 2's proposal.",
    );
    w.deliver(general(1), officer(1))?;
    w.deliver(general(2), officer(1))?;
    w.propose(1, 1)?;
    step(&mut w, observe, "5", "Officer 1 has 2 replies and sends (number 1, attack time 1) to the 2 generals that answered.");
    w.deliver(officer(1), general(1))?;
    step(&mut w, observe, "6a", "General 1 receives (number 1, attack time 1); it matches its stored number, so it stores the proposal and replies (Accepted).");
    w.deliver(officer(1), general(2))?;
    step(&mut w, observe, "6b", "General 2 receives (number 1, attack time 1); number 1 < its stored number 2, so it replies (Rejected, number 2).");
    w.deliver(general(2), officer(2))?;
    w.deliver(general(3), officer(2))?;
    w.propose(2, 2)?;
    step(&mut w, observe, "7", "Officer 2 has 2 replies and sends (number 2, attack time 2) to the 2 generals that answered.");
    w.deliver(officer(2), general(2))?;
    w.deliver(officer(2), general(3))?;
    step(&mut w, observe, "8", "Generals 2 and 3 receive (number 2, attack time 2), which matches their stored number; they store it and reply (Accepted).");
    w.deliver(general(2), officer(2))?;
    w.deliver(general(3), officer(2))?;
    step(
        &mut w,
        observe,
        "9",
        "Officer 2 gets 2 (Accepted): attack time 2 is accepted by a majority.",
    );
    w.deliver(general(1), officer(1))?;
    w.deliver(general(2), officer(1))?;
    w.prepare(1)?;
    step(&mut w, observe, "10", "Officer 1 got only 1 (Accepted) and 1 (Rejected, number 2); it starts again with (number 3) to the 3 generals.");
    w.deliver(officer(1), general(1))?;
    step(&mut w, observe, "11a", "General 1: number 3 > its number 1, stores (number 3); it replies (number 1, attack time 1).");
    w.deliver(officer(1), general(2))?;
    step(&mut w, observe, "11b", "General 2: number 3 > its number 2, stores (number 3); it replies (number 2, attack time 2).");
    w.capture(officer(1), general(3))?;
    step(
        &mut w,
        observe,
        "11c",
        "The messenger to general 3 is captured.",
    );
    w.deliver(general(1), officer(1))?;
    w.deliver(general(2), officer(1))?;
    step(&mut w, observe, "12", "Officer 1 has 2 replies; it picks the value of the highest-numbered accepted proposal and sends (number 3, attack time 2) to the 2 generals that answered.");
    w.deliver(officer(1), general(1))?;
    w.deliver(officer(1), general(2))?;
    step(&mut w, observe, "13", "Generals 1 and 2 receive (number 3, attack time 2), matching their stored number; they store it and reply (Accepted).");
    w.deliver(general(1), officer(1))?;
    w.deliver(general(2), officer(1))?;
    step(
        &mut w,
        observe,
        "14",
        "Officer 1 gets 2 (Accepted): the attack time (time 2) is confirmed by a majority.",
    );
    Ok(w)
}

/// The words the stories use, printed before the first step.
const WORDS: &[&str] = &[
    "Words: an officer is a proposer, a general an acceptor, a scribe a learner (one in each",
    "general's camp, writing down what was decided). A number is a ballot, unique to the officer",
    "that chose it; a proposal is (number, attack time). A messenger is a message on its way; a",
    "captured messenger is a lost message. The stories decide slot 1, the first position of the",
    "replicated log. Each step: · what was sent or received, = what each general and scribe holds.",
    "",
];

/// Prints each step of a story to `out`: its number and words, the messages it sent, and
/// what every general and scribe holds after it.
fn print_steps(
    out: &mut dyn FnMut(&str),
    story: fn(Observe<'_>) -> Result<World, ScenarioError>,
) -> Result<(), String> {
    for line in WORDS {
        out(line);
    }
    let mut print = |step: &Step, world: &mut World| {
        out(&format!("step {:>3}  {}", step.id, step.text));
        for event in &world.events {
            out(&format!("           · {event}"));
        }
        for line in world.ledger() {
            out(&format!("           = {line}"));
        }
        out("");
    };
    story(&mut print)
        .map(|_| ())
        .map_err(|e| format!("the scenario went off script: {e}"))
}

/// The two worked examples as `synod scenario` runs them.
pub fn scenarios() -> Vec<synod_core::Scenario> {
    vec![
        synod_core::Scenario {
            name: "paxos-example-1",
            title: "Paxos Example 1 (no faults): officers 1, 2 propose; generals 1-3 accept.",
            run: |out| print_steps(out, example_1),
        },
        synod_core::Scenario {
            name: "paxos-example-2",
            title: "Paxos Example 2 (captured messengers, dueling officers).",
            run: |out| print_steps(out, example_2),
        },
    ]
}
