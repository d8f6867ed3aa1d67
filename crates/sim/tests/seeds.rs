//! Seeds of the simulator for both protocols, as part of `cargo test`. CI runs 500 seeds per
//! protocol; `SYNOD_SIM_SEEDS=5000 cargo test -p synod-sim --release` runs more.

#![allow(missing_docs)]

use synod_sim::{run, run_seeds, Protocol, Scenario, SimConfig};

fn paxos() -> Protocol {
    Protocol::named("paxos").expect("registered")
}

fn seeds() -> u64 {
    std::env::var("SYNOD_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500)
}

fn all_pass(protocol: Protocol) {
    let reports = run_seeds(protocol, 0, seeds());
    let failures: Vec<String> = reports
        .iter()
        .filter(|r| r.failure.is_some())
        .map(|r| r.to_string())
        .collect();
    let ops: usize = reports.iter().map(|r| r.ops.0).sum();
    let faults: u64 = reports
        .iter()
        .map(|r| r.messages.1 + r.messages.2 + r.crashes)
        .sum();
    println!(
        "{protocol}: {} seeds, {ops} operations answered, {faults} faults injected, {} failures",
        reports.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} seeds failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // The runs did real work: a run that commits nothing proves nothing.
    assert!(
        reports.iter().all(|r| r.decided > 50),
        "some run decided almost nothing"
    );
}

#[test]
fn every_protocol_keeps_its_invariants_and_what_it_promises_over_the_seeds() {
    for protocol in Protocol::all() {
        all_pass(protocol);
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    for protocol in Protocol::all() {
        let mut cfg = SimConfig::new(protocol, 7);
        cfg.scenario = Scenario::Mixed;
        let (a, b) = (run(&cfg), run(&cfg));
        assert_eq!(
            (a.steps, a.messages, a.crashes, a.ops, a.decided),
            (b.steps, b.messages, b.crashes, b.ops, b.decided)
        );
        assert!(a.failure.is_none(), "{a}");
    }
}

#[test]
fn every_scenario_runs_for_both_protocols() {
    for protocol in Protocol::all() {
        for scenario in Scenario::ALL {
            let mut cfg = SimConfig::new(protocol, 1_000);
            cfg.scenario = scenario;
            let report = run(&cfg);
            assert!(report.failure.is_none(), "{report}");
        }
    }
}

/// Values past `BY_SLOT_BYTES` take Paxos's other path to the learners: the leader names
/// their slots (`ChosenSlots`) and each learner takes the value from its own acceptor's vote,
/// or from the other learners when that vote never comes.
#[test]
fn paxos_seeds_with_large_values_keep_every_invariant_and_a_linearizable_history() {
    let value_bytes = synod_paxos::config::BY_SLOT_BYTES + 100;
    for seed in 0..seeds() / 4 {
        let mut cfg = SimConfig::new(paxos(), seed);
        cfg.value_bytes = value_bytes;
        let report = run(&cfg);
        assert!(report.failure.is_none(), "{report}");
        assert!(report.decided > 50, "{report}");
    }
}
