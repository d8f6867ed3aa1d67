//! Log lines that can repeat once per message are written at most once per interval, with the
//! number left out since the last one, so a flood (a misconfigured peer, garbage on a port)
//! cannot fill the log or slow the node.
//!
//! ```text
//!   if let Some(skipped) = throttle.allow(now) { warn!(skipped, "...") }
//! ```

use std::time::{Duration, Instant};

/// How often a throttled line may be written by default.
pub const EVERY: Duration = Duration::from_secs(10);

/// One throttled log line.
#[derive(Debug, Clone)]
pub struct Throttle {
    every: Duration,
    last: Option<Instant>,
    skipped: u64,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(EVERY)
    }
}

impl Throttle {
    /// A line written at most once per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            skipped: 0,
        }
    }

    /// `Some(skipped)` if the line may be written now (`skipped`: how many were left out
    /// since the last one), `None` if it must be left out.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|last| now < last + self.every) {
            self.skipped += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_gives_one_line_per_interval_with_the_count_left_out() {
        let mut t = Throttle::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(t.allow(start), Some(0));
        for i in 1..=99 {
            assert_eq!(t.allow(start + Duration::from_millis(i)), None);
        }
        assert_eq!(t.allow(start + Duration::from_secs(10)), Some(99));
        assert_eq!(t.allow(start + Duration::from_secs(11)), None);
    }
}
