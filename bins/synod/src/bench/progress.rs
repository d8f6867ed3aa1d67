//! What `synod bench` shows while it runs: a progress bar with the live throughput (last second)
//! on a terminal, otherwise (or with `--no-progress`) a line per second.

use super::{BenchArgs, Live};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Shows progress until `until`: a bar with live throughput, or a line per second.
pub(super) fn show_progress(
    args: &BenchArgs,
    live: &Live,
    measure_from: Instant,
    until: Instant,
    fancy: bool,
) {
    let total_ms = args.duration.as_millis() as u64;
    let bar = if fancy {
        let bar = ProgressBar::with_draw_target(Some(total_ms), ProgressDrawTarget::stdout());
        let style = ProgressStyle::with_template("{prefix:>8} [{bar:30}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        Some(bar)
    } else {
        None
    };
    if !args.warmup.is_zero() {
        match &bar {
            Some(bar) => bar.set_message(format!("warming up for {:?}", args.warmup)),
            None => println!("warming up for {:?}", args.warmup),
        }
    }
    // (time, ops) samples of the last second, for the live rate.
    let mut recent: VecDeque<(Instant, u64)> = VecDeque::new();
    let mut next_line = measure_from + Duration::from_secs(1);
    loop {
        let now = Instant::now();
        if now >= until {
            break;
        }
        let tick = if bar.is_some() {
            Duration::from_millis(100)
        } else {
            next_line
                .saturating_duration_since(now)
                .max(Duration::from_millis(1))
        };
        std::thread::sleep(tick.min(until.saturating_duration_since(now)));
        let now = Instant::now().min(until);
        if now < measure_from {
            if let Some(bar) = &bar {
                let left = measure_from - now;
                bar.set_prefix(format!("-{:.1}s", left.as_secs_f64()));
                bar.tick();
            }
            continue;
        }
        let ops = live.ops.load(Ordering::Relaxed);
        let errors = live.errors.load(Ordering::Relaxed);
        recent.push_back((now, ops));
        while recent.len() > 2 && now - recent[0].0 > Duration::from_secs(1) {
            recent.pop_front();
        }
        let rate = match (recent.front(), recent.back()) {
            (Some(&(t0, n0)), Some(&(t1, n1))) if t1 > t0 => {
                (n1 - n0) as f64 / (t1 - t0).as_secs_f64()
            }
            _ => ops as f64 / (now - measure_from).as_secs_f64().max(1e-3),
        };
        let elapsed = now - measure_from;
        match &bar {
            Some(bar) => {
                bar.set_prefix(format!("{:.1}s", elapsed.as_secs_f64()));
                bar.set_position(elapsed.as_millis() as u64);
                bar.set_message(format!("{rate:>9.0} ops/s  {ops} ops  {errors} errors"));
            }
            None if now >= next_line || now >= until => {
                println!(
                    "[{:>6.1}s] {rate:>9.0} ops/s  {ops} ops  {errors} errors",
                    elapsed.as_secs_f64()
                );
                next_line += Duration::from_secs(1);
            }
            None => {}
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
