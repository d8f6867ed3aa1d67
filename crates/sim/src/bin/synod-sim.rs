//! `synod-sim`: run seeds of the simulator, or replay one.
//!
//! ```text
//! synod-sim --protocol raft --seeds 1000          # seeds 0..1000, each with its scenario
//! synod-sim --protocol paxos --seed 42 --scenario loss --verbose
//! synod-sim --protocol paxos --seeds 500 --value-bytes 1100   # large values
//! ```

use clap::Parser;
use std::process::ExitCode;
use synod_sim::{run, Protocol, Scenario, SimConfig};

#[derive(Parser)]
#[command(
    name = "synod-sim",
    about = "Deterministic simulation of Synod's protocols under faults"
)]
struct Args {
    /// The protocol to run (every registered one if omitted).
    #[arg(long)]
    protocol: Option<Protocol>,
    /// Run only this seed (a replay).
    #[arg(long)]
    seed: Option<u64>,
    /// How many seeds to run, from --first.
    #[arg(long, default_value_t = 200)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Force a scenario (default: each seed picks its own).
    #[arg(long, value_enum)]
    scenario: Option<Scenario>,
    /// Pad written values to at least this many bytes (default: short values).
    #[arg(long, default_value_t = 0)]
    value_bytes: usize,
    /// Print every run, not only failures.
    #[arg(long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let protocols = match args.protocol {
        Some(p) => vec![p],
        None => Protocol::all(),
    };
    let seeds: Vec<u64> = match args.seed {
        Some(s) => vec![s],
        None => (args.first..args.first + args.seeds).collect(),
    };
    let mut failed = 0;
    for protocol in protocols {
        let (mut runs, mut steps, mut dropped, mut crashes, mut ops) =
            (0u64, 0u64, 0u64, 0u64, 0usize);
        for &seed in &seeds {
            let mut cfg = SimConfig::new(protocol, seed);
            if let Some(s) = args.scenario {
                cfg.scenario = s;
            }
            cfg.value_bytes = args.value_bytes;
            let report = run(&cfg);
            runs += 1;
            steps += report.steps;
            dropped += report.messages.1 + report.messages.2;
            crashes += report.crashes;
            ops += report.ops.0;
            if report.failure.is_some() {
                failed += 1;
                println!("{report}");
            } else if args.verbose || args.seed.is_some() {
                println!("{report}");
            }
        }
        println!(
            "{protocol}: {runs} seeds, {steps} steps, {dropped} messages dropped or duplicated, {crashes} crashes, {ops} operations answered"
        );
    }
    if failed > 0 {
        println!("{failed} failed");
        ExitCode::FAILURE
    } else {
        println!("all passed");
        ExitCode::SUCCESS
    }
}
