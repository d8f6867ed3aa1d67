//! `synod scenario NAME`: a protocol's worked examples (`paxos-example-1`, `paxos-example-2`,
//! `raft-election`, `raft-replication`, `raft-figure-8`), run on the real cores and printed
//! step by step. Every registered
//! protocol offers its own; a closed pipe (`| head`) ends the printing quietly.

use std::io::Write;
use synod_core::{Protocol, Scenario, Visitor};

/// Gathers every protocol's scenarios.
#[derive(Clone)]
struct Scenarios;

impl Visitor for Scenarios {
    type Output = Vec<Scenario>;
    fn visit<P: Protocol>(self) -> Vec<Scenario> {
        P::scenarios()
    }
}

/// Every scenario of every registered protocol.
pub fn all() -> Vec<Scenario> {
    synod_registry::each(Scenarios)
        .into_iter()
        .flatten()
        .collect()
}

/// Runs and prints scenario `name`.
pub fn run(name: &str) -> Result<(), String> {
    let all = all();
    let Some(scenario) = all.iter().find(|s| s.name == name) else {
        let names: Vec<_> = all.iter().map(|s| s.name).collect();
        return Err(format!(
            "unknown scenario {name:?}; the scenarios are: {}",
            names.join(", ")
        ));
    };
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    // A reader that went away (`| head`) ends the output, not the run: no panic, no error.
    let mut open = true;
    let mut out = |line: &str| {
        if open && writeln!(stdout, "{line}").is_err() {
            open = false;
        }
    };
    out(&format!("{}\n", scenario.title));
    (scenario.run)(&mut out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_protocols_examples_are_listed_and_an_unknown_name_lists_them() {
        let names: Vec<_> = super::all().iter().map(|s| s.name).collect();
        for name in [
            "raft-election",
            "raft-replication",
            "raft-figure-8",
            "paxos-example-1",
            "paxos-example-2",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        let err = super::run("raft-figure-9").unwrap_err();
        assert!(
            err.contains("raft-election") && err.contains("paxos-example-2"),
            "{err}"
        );
    }
}
