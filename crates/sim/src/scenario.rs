//! The fault scenarios of TESTING.md, as schedules of faults over simulated time.

use crate::net::Faults;
use rand::rngs::StdRng;
use rand::Rng;
use std::fmt;

/// One scenario from the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// No faults.
    Calm,
    /// (1) The leader is cut off in a minority, then the cut heals.
    IsolatedLeader,
    /// (2) A follower minority is partitioned away, then heals.
    MinorityPartition,
    /// (3) Five nodes split 2/3, then 3/2 the other way.
    SplitFlip,
    /// (4) One-way links: some node hears another that does not hear it.
    OneWayLink,
    /// (5) Uniform message loss between 1 % and 30 %.
    Loss,
    /// (6) Duplicated messages.
    Duplicates,
    /// (7) Reordered, heavy-tailed delays.
    Reorder,
    /// (8) Crash and restart of followers, the leader, every node.
    CrashRestart,
    /// (15) One node's ticks run much faster than the others'.
    FastTicks,
    /// (12) The leader is cut off while a client keeps reading from it: no stale read may be
    /// served as linearizable.
    DeposedLeader,
    /// (16) The leader's process is paused longer than the election timeout, then resumes
    /// with client reads waiting: it must not serve them from its stale state.
    PausedLeader,
    /// Everything above at once.
    Mixed,
    /// (8b) Every node crashes and restarts, again and again; after the last restart the node
    /// whose snapshot is furthest ahead dies for good. The others must go on without what only
    /// that snapshot held. Not in [`Scenario::ALL`] (the scenario of a seed stays what it was):
    /// run it by name.
    LostSnapshot,
}

impl Scenario {
    /// Every scenario, for round-robin over seeds.
    pub const ALL: [Scenario; 13] = [
        Scenario::Calm,
        Scenario::IsolatedLeader,
        Scenario::MinorityPartition,
        Scenario::SplitFlip,
        Scenario::OneWayLink,
        Scenario::Loss,
        Scenario::Duplicates,
        Scenario::Reorder,
        Scenario::CrashRestart,
        Scenario::FastTicks,
        Scenario::DeposedLeader,
        Scenario::PausedLeader,
        Scenario::Mixed,
    ];

    /// The scenario seed `seed` runs when none is named.
    pub fn for_seed(seed: u64) -> Scenario {
        Self::ALL[(seed % Self::ALL.len() as u64) as usize]
    }

    /// How many nodes it uses.
    pub fn nodes(self) -> usize {
        match self {
            Scenario::SplitFlip | Scenario::Mixed => 5,
            _ => 3,
        }
    }

    /// The command-line name.
    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map_or_else(|| format!("{self:?}"), |v| v.get_name().to_string())
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A change the schedule makes.
#[derive(Debug, Clone)]
pub enum Action {
    /// Replace the network faults.
    SetFaults(Faults),
    /// Cut whoever leads now from everyone (both ways).
    IsolateLeader,
    /// Crash this node (by position in the node list), or the leader if `None`.
    Crash(Option<usize>),
    /// Restart every crashed node.
    RestartAll,
    /// Give node `i` a tick period of `period` time units.
    TickPeriod(usize, u64),
    /// Make client 0 talk only to whoever leads now (and only read), or free it again.
    PinClientToLeader(bool),
    /// Stop the leader's process (SIGSTOP) for this long.
    PauseLeader(u64),
    /// Paused processes that woke up read the client requests that reached them.
    Resume,
    /// The node whose disk holds the snapshot furthest ahead crashes and stays down to the
    /// end of the run.
    LoseFurthestAhead,
}

/// A scenario's schedule: what happens when, before the faults stop at `until`.
pub fn schedule(
    scenario: Scenario,
    rng: &mut StdRng,
    nodes: &[u64],
    until: u64,
) -> Vec<(u64, Action)> {
    let n = nodes.len();
    let mut plan = Vec::new();
    let mut t = rng.gen_range(100..300);
    while t < until {
        let step = rng.gen_range(150..400);
        let mut faults = Faults::default();
        match scenario {
            Scenario::Calm => {}
            Scenario::IsolatedLeader => {
                plan.push((t, Action::IsolateLeader));
                plan.push((t + step / 2, Action::SetFaults(Faults::default())));
            }
            Scenario::MinorityPartition => {
                let minority = rng.gen_range(0..n) as u64 + 1;
                let rest: Vec<u64> = nodes.iter().copied().filter(|&x| x != minority).collect();
                faults.partition(&[vec![minority], rest]);
                plan.push((t, Action::SetFaults(faults)));
                plan.push((t + step / 2, Action::SetFaults(Faults::default())));
            }
            Scenario::SplitFlip => {
                let mut shuffled = nodes.to_vec();
                for i in (1..shuffled.len()).rev() {
                    shuffled.swap(i, rng.gen_range(0..=i));
                }
                let (a, b) = shuffled.split_at(2);
                faults.partition(&[a.to_vec(), b.to_vec()]);
                plan.push((t, Action::SetFaults(faults)));
                let (a, b) = shuffled.split_at(3);
                let mut flipped = Faults::default();
                flipped.partition(&[a.to_vec(), b.to_vec()]);
                plan.push((t + step / 2, Action::SetFaults(flipped)));
            }
            Scenario::OneWayLink => {
                let a = rng.gen_range(1..=n as u64);
                let b = (a % n as u64) + 1;
                faults.cut.insert((a, b));
                plan.push((t, Action::SetFaults(faults)));
            }
            Scenario::Loss => {
                faults.loss = rng.gen_range(0.01..0.30);
                plan.push((t, Action::SetFaults(faults)));
            }
            Scenario::Duplicates => {
                faults.duplicate = rng.gen_range(0.05..0.5);
                plan.push((t, Action::SetFaults(faults)));
            }
            Scenario::Reorder => {
                faults.heavy_tail = rng.gen_range(0.05..0.4);
                plan.push((t, Action::SetFaults(faults)));
            }
            Scenario::CrashRestart => {
                let who = match rng.gen_range(0..3) {
                    0 => vec![Action::Crash(None)],
                    1 => vec![Action::Crash(Some(rng.gen_range(0..n)))],
                    _ => (0..n).map(|i| Action::Crash(Some(i))).collect(),
                };
                for a in who {
                    plan.push((t, a));
                }
                plan.push((t + step / 2, Action::RestartAll));
            }
            Scenario::FastTicks => {
                plan.push((t, Action::TickPeriod(rng.gen_range(0..n), 1)));
            }
            Scenario::PausedLeader => {
                let pause = rng.gen_range(80..200);
                plan.push((t, Action::PinClientToLeader(true)));
                plan.push((t, Action::PauseLeader(pause)));
                plan.push((t + pause, Action::Resume));
                plan.push((t + pause + 50, Action::PinClientToLeader(false)));
            }
            Scenario::DeposedLeader => {
                plan.push((t, Action::PinClientToLeader(true)));
                plan.push((t, Action::IsolateLeader));
                plan.push((t + step / 2, Action::SetFaults(Faults::default())));
                plan.push((t + step / 2, Action::PinClientToLeader(false)));
            }
            Scenario::Mixed => {
                faults.loss = rng.gen_range(0.0..0.15);
                faults.duplicate = rng.gen_range(0.0..0.2);
                faults.heavy_tail = rng.gen_range(0.0..0.2);
                if rng.gen_bool(0.5) {
                    let minority: Vec<u64> = nodes
                        .iter()
                        .copied()
                        .take(rng.gen_range(1..=n / 2))
                        .collect();
                    let rest: Vec<u64> = nodes
                        .iter()
                        .copied()
                        .filter(|x| !minority.contains(x))
                        .collect();
                    faults.partition(&[minority, rest]);
                }
                plan.push((t, Action::SetFaults(faults)));
                match rng.gen_range(0..4) {
                    0 => plan.push((t + step / 3, Action::Crash(None))),
                    1 => plan.push((t + step / 3, Action::Crash(Some(rng.gen_range(0..n))))),
                    2 => plan.push((t + step / 3, Action::IsolateLeader)),
                    _ => plan.push((t + step / 3, Action::TickPeriod(rng.gen_range(0..n), 1))),
                }
                plan.push((t + 2 * step / 3, Action::RestartAll));
            }
            Scenario::LostSnapshot => {
                for i in 0..n {
                    plan.push((t, Action::Crash(Some(i))));
                }
                plan.push((t + step / 2, Action::RestartAll));
            }
        }
        t += step;
    }
    plan.retain(|(at, _)| *at < until);
    if scenario == Scenario::LostSnapshot {
        // Soon after the last restart: before, or just after, the others caught up.
        let last = plan
            .iter()
            .rev()
            .find(|(_, a)| matches!(a, Action::RestartAll))
            .map(|(at, _)| *at);
        if let Some(at) = last {
            plan.push((at + rng.gen_range(5..120), Action::LoseFurthestAhead));
        }
    }
    plan
}
