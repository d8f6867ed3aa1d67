//! What each benchmark client does next: which key (`key-{n}`, `n` drawn uniformly or from a
//! Zipf distribution over `0..keys`), and whether it writes (a fresh alphanumeric value) or reads.

use rand::distributions::{Alphanumeric, Distribution, Uniform};
use rand::Rng;
use rand_distr::Zipf;

/// How keys are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyDist {
    /// Every key equally likely.
    Uniform,
    /// Key rank `r` (`key-0` is rank 1) drawn with probability proportional to `1 / r^s`.
    Zipf,
}

/// One request of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Read `key`.
    Read {
        /// The key.
        key: String,
    },
    /// Set `key` to `value`.
    Write {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
}

impl Op {
    /// Whether this is a write.
    pub fn is_write(&self) -> bool {
        matches!(self, Op::Write { .. })
    }
}

enum Chooser {
    Uniform(Uniform<u64>),
    Zipf(Zipf<f64>),
}

/// The workload every client draws its requests from (shared, read-only; each client has its
/// own RNG).
pub struct Workload {
    keys: u64,
    write_ratio: f64,
    value_size: usize,
    chooser: Chooser,
}

impl Workload {
    /// A workload over `keys` keys (at least 1); `write_ratio` in `[0, 1]`; `zipf_exponent` is
    /// only used by [`KeyDist::Zipf`] and must be `>= 0`.
    pub fn new(
        keys: u64,
        write_ratio: f64,
        value_size: usize,
        dist: KeyDist,
        zipf_exponent: f64,
    ) -> Result<Self, String> {
        if keys == 0 {
            return Err("--keys must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&write_ratio) {
            return Err(format!(
                "--write-ratio must be between 0 and 1, got {write_ratio}"
            ));
        }
        let chooser = match dist {
            KeyDist::Uniform => Chooser::Uniform(Uniform::new(0, keys)),
            KeyDist::Zipf => Chooser::Zipf(Zipf::new(keys, zipf_exponent).map_err(|e| {
                format!("bad Zipf distribution (keys {keys}, exponent {zipf_exponent}): {e}")
            })?),
        };
        Ok(Workload {
            keys,
            write_ratio,
            value_size,
            chooser,
        })
    }

    /// The number of keys.
    pub fn keys(&self) -> u64 {
        self.keys
    }

    /// The index `n` of the next key, in `0..keys`; with Zipf, 0 is the most frequent.
    pub fn key_index<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        match &self.chooser {
            Chooser::Uniform(u) => u.sample(rng),
            Chooser::Zipf(z) => {
                // Zipf yields ranks 1..=keys as floats.
                let rank = z.sample(rng) as u64;
                rank.clamp(1, self.keys) - 1
            }
        }
    }

    /// The next request.
    pub fn next_op<R: Rng + ?Sized>(&self, rng: &mut R) -> Op {
        let key = key_name(self.key_index(rng));
        if rng.gen::<f64>() < self.write_ratio {
            Op::Write {
                key,
                value: random_value(rng, self.value_size),
            }
        } else {
            Op::Read { key }
        }
    }

    /// A write of key `n` with a fresh value (used to preload every key).
    pub fn write_of<R: Rng + ?Sized>(&self, rng: &mut R, n: u64) -> Op {
        Op::Write {
            key: key_name(n),
            value: random_value(rng, self.value_size),
        }
    }
}

/// The name of key `n`.
pub fn key_name(n: u64) -> String {
    format!("key-{n}")
}

/// `len` random alphanumeric characters.
pub fn random_value<R: Rng + ?Sized>(rng: &mut R, len: usize) -> String {
    rng.sample_iter(Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn histogram(w: &Workload, samples: usize, seed: u64) -> Vec<u64> {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut counts = vec![0u64; w.keys() as usize];
        for _ in 0..samples {
            let n = w.key_index(&mut rng);
            assert!(n < w.keys(), "key index {n} out of range");
            counts[n as usize] += 1;
        }
        counts
    }

    #[test]
    fn uniform_covers_the_whole_range_evenly() {
        let w = Workload::new(100, 1.0, 8, KeyDist::Uniform, 0.99).unwrap();
        let counts = histogram(&w, 100_000, 1);
        assert!(counts.iter().all(|&c| c > 0), "every key is drawn");
        let top10: u64 = counts[..10].iter().sum();
        let share = top10 as f64 / 100_000.0;
        assert!((0.08..0.12).contains(&share), "first 10 keys: {share}");
        // No key gets more than twice its fair share (1,000).
        assert!(counts.iter().all(|&c| c < 2_000), "{counts:?}");
    }

    #[test]
    fn zipf_skews_toward_low_ranks() {
        let w = Workload::new(1_000, 1.0, 8, KeyDist::Zipf, 0.99).unwrap();
        let counts = histogram(&w, 100_000, 2);
        // Rank 1 alone: ~13%; the first 10 ranks: ~38% (uniform would give 0.1% and 1%).
        let first = counts[0] as f64 / 100_000.0;
        let top10 = counts[..10].iter().sum::<u64>() as f64 / 100_000.0;
        assert!(first > 0.08, "key-0 share {first}");
        assert!(top10 > 0.25, "first 10 keys share {top10}");
        assert!(counts[0] > counts[9] && counts[9] > counts[99]);
        let last100: u64 = counts[900..].iter().sum();
        assert!(counts[0] > last100, "{} vs {last100}", counts[0]);
    }

    #[test]
    fn zipf_with_one_key_always_picks_it() {
        let w = Workload::new(1, 1.0, 8, KeyDist::Zipf, 1.2).unwrap();
        assert!(histogram(&w, 1_000, 3).iter().all(|&c| c == 1_000));
    }

    #[test]
    fn write_ratio_picks_the_operation() {
        let mut rng = StdRng::seed_from_u64(4);
        let all = Workload::new(10, 1.0, 16, KeyDist::Uniform, 0.99).unwrap();
        let none = Workload::new(10, 0.0, 16, KeyDist::Uniform, 0.99).unwrap();
        let half = Workload::new(10, 0.5, 16, KeyDist::Uniform, 0.99).unwrap();
        for _ in 0..1_000 {
            match all.next_op(&mut rng) {
                Op::Write { key, value } => {
                    assert!(key.starts_with("key-"));
                    assert_eq!(value.len(), 16);
                    assert!(value.chars().all(|c| c.is_ascii_alphanumeric()));
                }
                op => panic!("expected a write, got {op:?}"),
            }
            assert!(!none.next_op(&mut rng).is_write());
        }
        let writes = (0..10_000)
            .filter(|_| half.next_op(&mut rng).is_write())
            .count();
        assert!((4_500..5_500).contains(&writes), "{writes}");
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(Workload::new(0, 1.0, 8, KeyDist::Uniform, 0.99).is_err());
        assert!(Workload::new(10, 1.5, 8, KeyDist::Uniform, 0.99).is_err());
        assert!(Workload::new(10, -0.1, 8, KeyDist::Uniform, 0.99).is_err());
        assert!(Workload::new(10, 1.0, 8, KeyDist::Zipf, -1.0).is_err());
    }
}
