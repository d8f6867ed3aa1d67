//! `synod bench --preload`: every key written once, spread over the clients, before the warmup,
//! so that a read benchmark finds values. Not measured.

use super::workload::Workload;
use super::{agent, BenchArgs};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Writes every key once, spread over the clients, before the benchmark proper.
pub(super) fn preload(
    args: &BenchArgs,
    endpoints: &[String],
    workload: &Workload,
    fancy: bool,
) -> Result<(), String> {
    let clients = (args.clients as u64).min(args.keys);
    let done = AtomicU64::new(0);
    let started = Instant::now();
    println!(
        "preloading {} keys of {} bytes with {clients} clients",
        args.keys, args.value_size
    );
    let failed: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|i| {
                let base = endpoints[i as usize % endpoints.len()].as_str();
                let done = &done;
                scope.spawn(move || {
                    let agent = agent(args.timeout);
                    let mut rng = StdRng::from_entropy();
                    let mut failed = 0u64;
                    let mut n = i;
                    while n < args.keys {
                        let op = workload.write_of(&mut rng, n);
                        // A few tries per key: the cluster may still be settling.
                        let ok = (0..5).any(|attempt| {
                            if attempt > 0 {
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            args.target.execute(&agent, base, &op).is_ok()
                        });
                        if !ok {
                            failed += 1;
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                        n += clients;
                    }
                    failed
                })
            })
            .collect();
        let bar = fancy.then(|| {
            let bar = ProgressBar::with_draw_target(Some(args.keys), ProgressDrawTarget::stdout());
            if let Ok(style) = ProgressStyle::with_template("preload [{bar:30}] {pos}/{len} keys") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let mut last_line = Instant::now();
        while !handles.iter().all(|h| h.is_finished()) {
            std::thread::sleep(Duration::from_millis(100));
            let n = done.load(Ordering::Relaxed);
            match &bar {
                Some(bar) => bar.set_position(n),
                None if last_line.elapsed() >= Duration::from_secs(1) => {
                    println!("preload: {n}/{} keys", args.keys);
                    last_line = Instant::now();
                }
                None => {}
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        handles.into_iter().map(|h| h.join().unwrap_or(1)).sum()
    });
    println!(
        "preloaded {} keys in {:.1}s{}",
        args.keys - failed,
        started.elapsed().as_secs_f64(),
        if failed > 0 {
            format!(" ({failed} failed after 5 tries)")
        } else {
            String::new()
        }
    );
    if failed == args.keys {
        return Err("preload: no write succeeded".into());
    }
    Ok(())
}
