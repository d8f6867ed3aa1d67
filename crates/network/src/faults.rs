//! The fault filter: drop, delay, duplicate, partition, block and isolate, per directed link.
//!
//! Every envelope the router is asked to send passes [`Faults::decide`] once, whether it goes to a
//! local actor, to a router in the same process or over TCP. The decision is a list of copies to
//! deliver, each with its own delay; an empty list means "drop". Randomness comes from one seeded
//! RNG, so the same seed and the same sequence of calls give the same decisions.
//!
//! Rules, checked in this order for a link `from -> to`:
//!
//! 1. **Cuts** drop everything: a [`block`](Faults::block)ed link; a link touching an
//!    [`isolate`](Faults::isolate)d node; a link between nodes of different
//!    [`partition`](Faults::partition) groups.
//! 2. **Drop** with the link's probability ([`set_drop`](Faults::set_drop)), or else the global one
//!    ([`set_drop_all`](Faults::set_drop_all)).
//! 3. **Duplicate** with the link's (or the global) probability: two copies instead of one.
//! 4. **Delay** each copy by a uniform draw from the link's (or the global) `[min, max]`.
//!
//! A node's link to itself (`from == to`) is only affected by faults that name it explicitly
//! (`set_drop(n, n, ..)`, `block(n, n)`, ...): global settings, partitions and isolation leave it
//! alone, because a node is never cut off from itself.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use synod_messages::NodeId;

/// A directed link.
type Link = (NodeId, NodeId);

/// The shared, run-time switchable fault filter. Cloning is cheap: clones share one state, so a
/// test can hold one handle while the routers use others.
#[derive(Clone)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

struct State {
    rng: StdRng,
    drop_all: f64,
    drop: HashMap<Link, f64>,
    duplicate_all: f64,
    duplicate: HashMap<Link, f64>,
    delay_all: Option<(Duration, Duration)>,
    delay: HashMap<Link, (Duration, Duration)>,
    /// Node -> index of its partition group, when a partition is in force.
    partition: Option<HashMap<NodeId, usize>>,
    blocked: HashSet<Link>,
    isolated: HashSet<NodeId>,
}

impl State {
    fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            drop_all: 0.0,
            drop: HashMap::new(),
            duplicate_all: 0.0,
            duplicate: HashMap::new(),
            delay_all: None,
            delay: HashMap::new(),
            partition: None,
            blocked: HashSet::new(),
            isolated: HashSet::new(),
        }
    }

    fn clear(&mut self) {
        let rng = self.rng.clone();
        *self = Self::new(0);
        self.rng = rng;
    }

    fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        if self.blocked.contains(&(from, to)) {
            return true;
        }
        if from == to {
            return false;
        }
        if self.isolated.contains(&from) || self.isolated.contains(&to) {
            return true;
        }
        match &self.partition {
            // Nodes listed in no group share one implicit group (`None`).
            Some(groups) => groups.get(&from) != groups.get(&to),
            None => false,
        }
    }

    /// True with probability `p`; consumes randomness only when the outcome is uncertain.
    fn roll(&mut self, p: f64) -> bool {
        if p.is_nan() || p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.rng.gen::<f64>() < p
        }
    }

    fn delay(&mut self, link: Link) -> Duration {
        let global = if link.0 == link.1 {
            None
        } else {
            self.delay_all
        };
        match self.delay.get(&link).copied().or(global) {
            None => Duration::ZERO,
            Some((min, max)) if min >= max => min,
            Some((min, max)) => self.rng.gen_range(min..=max),
        }
    }
}

fn clamp_probability(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

fn ordered(min: Duration, max: Duration) -> (Duration, Duration) {
    if min <= max {
        (min, max)
    } else {
        (max, min)
    }
}

impl Faults {
    /// A filter with no faults, whose random choices are drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::new(seed))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a harmful way.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops envelopes on the link `from -> to` with `probability` (clamped to `0..=1`). Overrides
    /// [`set_drop_all`](Self::set_drop_all) for that link.
    pub fn set_drop(&self, from: NodeId, to: NodeId, probability: f64) {
        self.lock()
            .drop
            .insert((from, to), clamp_probability(probability));
    }

    /// Drops envelopes on every link between two distinct nodes with `probability`, except links
    /// with their own [`set_drop`](Self::set_drop).
    pub fn set_drop_all(&self, probability: f64) {
        self.lock().drop_all = clamp_probability(probability);
    }

    /// Delays envelopes on the link `from -> to` by a uniform draw from `[min, max]` (each copy
    /// independently). Overrides [`set_delay_all`](Self::set_delay_all) for that link.
    pub fn set_delay(&self, from: NodeId, to: NodeId, min: Duration, max: Duration) {
        self.lock().delay.insert((from, to), ordered(min, max));
    }

    /// Delays envelopes on every link between two distinct nodes by a uniform draw from
    /// `[min, max]`, except links with their own [`set_delay`](Self::set_delay).
    pub fn set_delay_all(&self, min: Duration, max: Duration) {
        self.lock().delay_all = Some(ordered(min, max));
    }

    /// Delivers envelopes on the link `from -> to` twice with `probability`. Overrides
    /// [`set_duplicate_all`](Self::set_duplicate_all) for that link.
    pub fn set_duplicate(&self, from: NodeId, to: NodeId, probability: f64) {
        self.lock()
            .duplicate
            .insert((from, to), clamp_probability(probability));
    }

    /// Delivers envelopes on every link between two distinct nodes twice with `probability`,
    /// except links with their own [`set_duplicate`](Self::set_duplicate).
    pub fn set_duplicate_all(&self, probability: f64) {
        self.lock().duplicate_all = clamp_probability(probability);
    }

    /// Splits the cluster: nodes in different groups cannot reach each other, in either
    /// direction; nodes of one group can. Nodes listed in no group form one more, implicit group
    /// together: they are cut from every listed node but still reach each other. A node listed
    /// in several groups belongs to the first. Replaces any earlier partition; an empty `groups`
    /// removes it.
    pub fn partition(&self, groups: Vec<Vec<NodeId>>) {
        let mut map = HashMap::new();
        for (index, group) in groups.iter().enumerate() {
            for node in group {
                map.entry(*node).or_insert(index);
            }
        }
        self.lock().partition = if groups.is_empty() { None } else { Some(map) };
    }

    /// Cuts the link `from -> to` only (the reverse direction still works).
    pub fn block(&self, from: NodeId, to: NodeId) {
        self.lock().blocked.insert((from, to));
    }

    /// Cuts `node` from every other node, both ways.
    pub fn isolate(&self, node: NodeId) {
        self.lock().isolated.insert(node);
    }

    /// Removes every fault: partitions, blocks, isolations, drops, delays and duplicates. The
    /// random sequence continues where it was (it is not reseeded).
    pub fn heal(&self) {
        self.lock().clear();
    }

    /// Decides the fate of one envelope on `from -> to`: no element means drop it, otherwise one
    /// element per copy to deliver, holding that copy's delay.
    pub fn decide(&self, from: NodeId, to: NodeId) -> Vec<Duration> {
        let mut state = self.lock();
        if state.is_cut(from, to) {
            return Vec::new();
        }
        let link = (from, to);
        let self_link = from == to;
        let (drop_all, duplicate_all) = if self_link {
            (0.0, 0.0)
        } else {
            (state.drop_all, state.duplicate_all)
        };
        let drop = state.drop.get(&link).copied().unwrap_or(drop_all);
        if state.roll(drop) {
            return Vec::new();
        }
        let duplicate = state.duplicate.get(&link).copied().unwrap_or(duplicate_all);
        let copies = if state.roll(duplicate) { 2 } else { 1 };
        (0..copies).map(|_| state.delay(link)).collect()
    }
}

impl Default for Faults {
    /// No faults, seed 0.
    fn default() -> Self {
        Self::new(0)
    }
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Faults")
            .field("drop_all", &state.drop_all)
            .field("drop", &state.drop)
            .field("duplicate_all", &state.duplicate_all)
            .field("duplicate", &state.duplicate)
            .field("delay_all", &state.delay_all)
            .field("delay", &state.delay)
            .field("partition", &state.partition)
            .field("blocked", &state.blocked)
            .field("isolated", &state.isolated)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn delivered(faults: &Faults, from: NodeId, to: NodeId) -> bool {
        !faults.decide(from, to).is_empty()
    }

    #[test]
    fn no_faults_means_one_copy_without_delay() {
        let faults = Faults::new(1);
        for (from, to) in [(1, 2), (2, 1), (3, 3)] {
            assert_eq!(faults.decide(from, to), vec![Duration::ZERO]);
        }
    }

    #[test]
    fn drop_probability_one_drops_and_zero_keeps() {
        let faults = Faults::new(1);
        faults.set_drop(1, 2, 1.0);
        faults.set_drop(2, 1, 0.0);
        for _ in 0..100 {
            assert!(faults.decide(1, 2).is_empty());
            assert_eq!(faults.decide(2, 1), vec![Duration::ZERO]);
        }
        // Other links are untouched.
        assert!(delivered(&faults, 1, 3));
    }

    #[test]
    fn drop_all_applies_to_every_link_but_not_to_self_or_overridden_links() {
        let faults = Faults::new(1);
        faults.set_drop_all(1.0);
        faults.set_drop(3, 1, 0.0);
        assert!(!delivered(&faults, 1, 2));
        assert!(!delivered(&faults, 2, 3));
        assert!(delivered(&faults, 3, 1));
        assert!(delivered(&faults, 2, 2));
    }

    #[test]
    fn drop_probability_is_roughly_respected() {
        let faults = Faults::new(42);
        faults.set_drop(1, 2, 0.3);
        let dropped = (0..10_000)
            .filter(|_| faults.decide(1, 2).is_empty())
            .count();
        assert!(
            (2_700..=3_300).contains(&dropped),
            "dropped {dropped} of 10000"
        );
    }

    #[test]
    fn partition_cuts_across_groups_both_ways_and_keeps_groups_together() {
        let faults = Faults::new(1);
        faults.partition(vec![vec![1, 2], vec![3]]);
        assert!(delivered(&faults, 1, 2));
        assert!(delivered(&faults, 2, 1));
        assert!(!delivered(&faults, 1, 3));
        assert!(!delivered(&faults, 3, 1));
        assert!(!delivered(&faults, 2, 3));
        assert!(!delivered(&faults, 3, 2));
        // Unlisted nodes form their own group: cut from listed ones, not from each other.
        assert!(!delivered(&faults, 4, 1));
        assert!(!delivered(&faults, 3, 4));
        assert!(delivered(&faults, 4, 5));
        // A node always reaches itself.
        assert!(delivered(&faults, 3, 3));
        // A new partition replaces the old one.
        faults.partition(vec![vec![1, 3], vec![2]]);
        assert!(delivered(&faults, 1, 3));
        assert!(!delivered(&faults, 1, 2));
        faults.partition(vec![]);
        assert!(delivered(&faults, 1, 2));
    }

    #[test]
    fn block_is_one_way() {
        let faults = Faults::new(1);
        faults.block(1, 2);
        assert!(!delivered(&faults, 1, 2));
        assert!(delivered(&faults, 2, 1));
        assert!(delivered(&faults, 1, 3));
    }

    #[test]
    fn isolate_cuts_a_node_both_ways_from_everyone() {
        let faults = Faults::new(1);
        faults.isolate(2);
        for other in [1, 3, 4] {
            assert!(!delivered(&faults, 2, other));
            assert!(!delivered(&faults, other, 2));
        }
        assert!(delivered(&faults, 1, 3));
        assert!(delivered(&faults, 2, 2));
    }

    #[test]
    fn heal_clears_every_fault() {
        let faults = Faults::new(1);
        faults.partition(vec![vec![1], vec![2]]);
        faults.block(2, 3);
        faults.isolate(4);
        faults.set_drop_all(1.0);
        faults.set_drop(5, 6, 1.0);
        faults.set_duplicate(1, 3, 1.0);
        faults.set_delay(3, 1, 10 * MS, 20 * MS);
        faults.heal();
        for (from, to) in [(1, 2), (2, 3), (4, 1), (5, 6), (1, 3), (3, 1)] {
            assert_eq!(
                faults.decide(from, to),
                vec![Duration::ZERO],
                "{from}->{to}"
            );
        }
    }

    #[test]
    fn duplicate_probability_one_gives_two_copies() {
        let faults = Faults::new(1);
        faults.set_duplicate(1, 2, 1.0);
        assert_eq!(faults.decide(1, 2).len(), 2);
        assert_eq!(faults.decide(2, 1).len(), 1);
        faults.set_duplicate_all(1.0);
        assert_eq!(faults.decide(2, 1).len(), 2);
    }

    #[test]
    fn delay_is_within_bounds_and_varies() {
        let faults = Faults::new(7);
        faults.set_delay(1, 2, 10 * MS, 50 * MS);
        let delays: Vec<Duration> = (0..1_000).flat_map(|_| faults.decide(1, 2)).collect();
        assert_eq!(delays.len(), 1_000);
        assert!(delays.iter().all(|d| (10 * MS..=50 * MS).contains(d)));
        assert!(delays.iter().any(|d| *d < 20 * MS));
        assert!(delays.iter().any(|d| *d > 40 * MS));
        // Bounds given backwards are reordered; equal bounds give that exact delay.
        faults.set_delay(2, 1, 30 * MS, 30 * MS);
        assert_eq!(faults.decide(2, 1), vec![30 * MS]);
        faults.set_delay(2, 1, 9 * MS, 3 * MS);
        let d = faults.decide(2, 1)[0];
        assert!((3 * MS..=9 * MS).contains(&d));
        // Other links stay immediate.
        assert_eq!(faults.decide(1, 3), vec![Duration::ZERO]);
    }

    #[test]
    fn same_seed_gives_same_decisions() {
        fn run(seed: u64) -> Vec<Vec<Duration>> {
            let faults = Faults::new(seed);
            faults.set_drop_all(0.2);
            faults.set_duplicate_all(0.3);
            faults.set_delay_all(MS, 100 * MS);
            (0..500)
                .map(|i| faults.decide(i % 3, (i + 1) % 3))
                .collect()
        }
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn clones_share_state() {
        let faults = Faults::new(1);
        let handle = faults.clone();
        handle.block(1, 2);
        assert!(!delivered(&faults, 1, 2));
        handle.heal();
        assert!(delivered(&faults, 1, 2));
    }
}
