//! `synod bench`: a closed-loop load generator for Synod, or for etcd to compare against.
//!
//! ```text
//!   main thread ── probe every endpoint ── [preload every key] ── start --threads event loops
//!        │                                                          │ each runs its share of the
//!        │  progress bar / a line per second                        │ --clients as tasks (client i
//!        │  (reads shared atomic counters)                          │ → endpoint i mod E, one
//!        ▼                                                          ▼ keep-alive connection each)
//!   merge per-client HDR histograms ◄──────────── task loop: pick key + op, send, await, record
//!   print the report, write --json                  until warmup + duration is over
//! ```
//!
//! The clients are event-driven (one thread runs many of them, [`conn`]) so that the load
//! generator spends little CPU of its own: on a small machine a thread per client competed with
//! the servers for the cores, and not equally for every server.
//!
//! Requests that complete during the warmup are not recorded; neither are requests still in
//! flight when the measured window ends. Errors are counted by kind and never as throughput. A
//! failed request is followed by a 10 ms pause so that a dead endpoint does not become a busy
//! loop.

mod conn;
mod preload;
mod progress;
pub mod report;
pub mod target;
pub mod workload;

use rand::rngs::StdRng;
use rand::SeedableRng;
use report::{ClientStats, Report, Setup};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use target::Target;
use workload::{KeyDist, Workload};

/// The options of `synod bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Comma-separated node URLs (http://host:port); clients are spread over them round-robin.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103"
    )]
    pub endpoints: Vec<String>,
    /// Closed-loop clients, each a task with its own keep-alive connection.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub clients: u32,
    /// How long to measure, e.g. 10s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load before measuring, not recorded.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Bytes of each written value (random alphanumeric).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(0..=64 << 20))]
    pub value_size: u32,
    /// Size of the key space: keys are key-0 .. key-{N-1}.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Fraction of requests that are writes: 1.0 writes only, 0.0 reads only.
    #[arg(long, default_value_t = 1.0, value_parser = parse_ratio, allow_negative_numbers = true)]
    pub write_ratio: f64,
    /// How keys are drawn.
    #[arg(long, value_enum, default_value_t = KeyDist::Uniform)]
    pub key_dist: KeyDist,
    /// Exponent of the Zipf distribution (with --key-dist zipf).
    #[arg(long, default_value_t = 0.99, value_parser = parse_exponent, allow_negative_numbers = true)]
    pub zipf_exponent: f64,
    /// The system under load: Synod's API or etcd's v3 JSON gateway.
    #[arg(long, value_enum, default_value_t = Target::Synod)]
    pub target: Target,
    /// Write every key once before the warmup (not measured), so that reads find values.
    #[arg(long)]
    pub preload: bool,
    /// Give up on one request after this long (counted as a `timeout` error).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No progress bar: print a line per second instead.
    #[arg(long)]
    pub no_progress: bool,
    /// Threads running the clients, each an event loop with its share of them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,
}

/// Parses a duration: a number followed by `ms`, `s`, `m` or `h` (`500ms`, `10s`, `1.5s`, `2m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds_per_unit = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "" => return Err(format!("`{text}` has no unit: write e.g. 10s, 500ms or 2m")),
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use ms, s, m or h"
            ))
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write e.g. 10s, 500ms or 2m"))?;
    Duration::try_from_secs_f64(value * seconds_per_unit)
        .map_err(|_| format!("`{text}` is out of range"))
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(format!("`{text}` is not a ratio between 0 and 1")),
    }
}

fn parse_exponent(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err(format!("`{text}` is not a non-negative number")),
    }
}

/// Counters the clients bump and the progress display reads.
#[derive(Default)]
struct Live {
    ops: AtomicU64,
    errors: AtomicU64,
}

/// Runs the benchmark and prints its report.
pub fn run(args: &BenchArgs) -> Result<(), String> {
    let endpoints = normalize_endpoints(&args.endpoints)?;
    if args.duration.is_zero() {
        return Err("--duration must be more than zero".into());
    }
    let workload = Workload::new(
        args.keys,
        args.write_ratio,
        args.value_size as usize,
        args.key_dist,
        args.zipf_exponent,
    )?;
    let probe = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(3))
        .build();
    for base in &endpoints {
        args.target.probe(&probe, base)?;
    }
    let fancy = !args.no_progress && std::io::stdout().is_terminal();

    println!(
        "synod bench: {} on {} endpoint(s), {} clients, {:?} warmup + {:?} measured",
        args.target.name(),
        endpoints.len(),
        args.clients,
        args.warmup,
        args.duration
    );
    if args.preload {
        preload::preload(args, &endpoints, &workload, fancy)?;
    }

    let live = Live::default();
    let start = Instant::now();
    let measure_from = start + args.warmup;
    let until = measure_from + args.duration;
    let threads = args.threads.min(args.clients) as usize;
    let results: Vec<std::thread::Result<Result<Vec<ClientStats>, String>>> =
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let mine: Vec<usize> = (0..args.clients as usize)
                        .filter(|i| i % threads == t)
                        .collect();
                    let (endpoints, workload, live) = (&endpoints, &workload, &live);
                    scope.spawn(move || {
                        event_loop(args, endpoints, &mine, workload, live, measure_from, until)
                    })
                })
                .collect();
            progress::show_progress(args, &live, measure_from, until, fancy);
            handles.into_iter().map(|h| h.join()).collect()
        });
    let mut stats = ClientStats::new();
    for r in results {
        let clients = r.map_err(|_| "a benchmark thread panicked".to_string())??;
        for client in &clients {
            stats.merge(client);
        }
    }

    let setup = Setup {
        target: args.target.name().to_string(),
        endpoints,
        clients: args.clients,
        duration_s: args.duration.as_secs_f64(),
        warmup_s: args.warmup.as_secs_f64(),
        value_size: args.value_size as usize,
        keys: args.keys,
        write_ratio: args.write_ratio,
        key_dist: match args.key_dist {
            KeyDist::Uniform => "uniform".into(),
            KeyDist::Zipf => "zipf".into(),
        },
        zipf_exponent: (args.key_dist == KeyDist::Zipf).then_some(args.zipf_exponent),
        preload: args.preload,
    };
    let report = Report::new(setup, &stats);
    print!("\n{}", report.to_text());
    if let Some(path) = &args.json {
        std::fs::write(path, report.to_json() + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("{:<13} {}", "json", path.display());
    }
    if report.total_ops == 0 {
        return Err("no request succeeded".into());
    }
    Ok(())
}

/// Trims trailing slashes and checks that every endpoint is a plain-HTTP URL.
fn normalize_endpoints(endpoints: &[String]) -> Result<Vec<String>, String> {
    let endpoints: Vec<String> = endpoints
        .iter()
        .map(|e| e.trim().trim_end_matches('/').to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if endpoints.is_empty() {
        return Err("--endpoints: give at least one URL".into());
    }
    for e in &endpoints {
        if !e.starts_with("http://") {
            return Err(format!(
                "--endpoints: `{e}` must be an http:// URL (e.g. http://127.0.0.1:8101)"
            ));
        }
    }
    Ok(endpoints)
}

/// A blocking client for the preload (not measured).
fn agent(timeout: Duration) -> ureq::Agent {
    // ureq keeps the connection open between requests of one agent (keep-alive).
    ureq::AgentBuilder::new().timeout(timeout).build()
}

/// One thread's clients: tasks on a single-threaded event loop, until `until`.
fn event_loop(
    args: &BenchArgs,
    endpoints: &[String],
    clients: &[usize],
    workload: &Workload,
    live: &Live,
    measure_from: Instant,
    until: Instant,
) -> Result<Vec<ClientStats>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start an event loop: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let tasks = clients.iter().map(|&i| {
        let base = endpoints[i % endpoints.len()].as_str();
        client_loop(args, base, workload, live, measure_from, until)
    });
    Ok(runtime.block_on(local.run_until(futures::future::join_all(tasks))))
}

/// One closed-loop client: one request at a time until `until`.
async fn client_loop(
    args: &BenchArgs,
    base: &str,
    workload: &Workload,
    live: &Live,
    measure_from: Instant,
    until: Instant,
) -> ClientStats {
    let mut conn = conn::Conn::new(base, args.timeout);
    let mut rng = StdRng::from_entropy();
    let mut stats = ClientStats::new();
    while Instant::now() < until {
        let op = workload.next_op(&mut rng);
        let sent = Instant::now();
        let result = conn.execute(args.target, &op).await;
        let done = Instant::now();
        let measured = done >= measure_from && done <= until;
        match result {
            Ok(()) if measured => {
                stats.success(op.is_write(), done - sent);
                live.ops.fetch_add(1, Ordering::Relaxed);
            }
            Ok(()) => {}
            Err(kind) => {
                if measured {
                    stats.error(kind);
                    live.errors.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration(" 3 s "), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("10x")
            .unwrap_err()
            .contains("unknown unit `x`"));
        assert!(parse_duration("s").unwrap_err().contains("not a duration"));
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn ratios_and_exponents_are_checked() {
        assert_eq!(parse_ratio("0.25"), Ok(0.25));
        assert_eq!(parse_ratio("1"), Ok(1.0));
        assert!(parse_ratio("1.01").is_err());
        assert!(parse_ratio("-0.5").is_err());
        assert!(parse_ratio("NaN").is_err());
        assert_eq!(parse_exponent("0.99"), Ok(0.99));
        assert!(parse_exponent("-1").is_err());
        assert!(parse_exponent("inf").is_err());
    }

    #[test]
    fn endpoints_are_normalized() {
        let e =
            |v: &[&str]| normalize_endpoints(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            e(&["http://a:1/", " http://b:2"]),
            Ok(vec!["http://a:1".to_string(), "http://b:2".to_string()])
        );
        assert!(e(&[]).is_err());
        assert!(e(&["127.0.0.1:8101"]).unwrap_err().contains("http://"));
        assert!(e(&["https://a:1"]).is_err());
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn command_line_defaults_and_overrides() {
        let d = Cli::try_parse_from(["bench"]).unwrap().bench;
        assert_eq!(d.clients, 64);
        assert_eq!(d.duration, Duration::from_secs(10));
        assert_eq!(d.warmup, Duration::from_secs(1));
        assert_eq!((d.value_size, d.keys, d.write_ratio), (256, 100_000, 1.0));
        assert_eq!((d.key_dist, d.target), (KeyDist::Uniform, Target::Synod));
        assert_eq!(d.endpoints.len(), 3);

        let c = Cli::try_parse_from([
            "bench",
            "--endpoints",
            "http://127.0.0.1:2379,http://127.0.0.1:22379",
            "--target",
            "etcd",
            "--key-dist",
            "zipf",
            "--zipf-exponent",
            "1.1",
            "--duration",
            "500ms",
            "--write-ratio",
            "0",
            "--json",
            "out.json",
        ])
        .unwrap()
        .bench;
        assert_eq!(c.target, Target::Etcd);
        assert_eq!(c.endpoints.len(), 2);
        assert_eq!(c.key_dist, KeyDist::Zipf);
        assert_eq!(c.duration, Duration::from_millis(500));
        assert_eq!(c.json, Some(PathBuf::from("out.json")));

        for bad in [
            &["bench", "--clients", "0"][..],
            &["bench", "--keys", "0"],
            &["bench", "--write-ratio", "2"],
            &["bench", "--duration", "ten"],
            &["bench", "--key-dist", "pareto"],
            &["bench", "--target", "redis"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?} accepted");
        }
    }
}
