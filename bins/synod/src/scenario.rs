//! `synod scenario paxos-example-1|paxos-example-2`: the seed's worked examples, run on the
//! real Paxos cores, printed step by step.

use synod_paxos::scenario::{example_1, example_2, Step, World};

/// The scenarios `synod scenario` knows.
pub const NAMES: [&str; 2] = ["paxos-example-1", "paxos-example-2"];

/// Runs and prints scenario `name`.
pub fn run(name: &str) -> Result<(), String> {
    let mut print = |step: &Step, world: &mut World| {
        println!("step {:>3}  {}", step.id, step.text);
        for event in &world.events {
            println!("           · {event}");
        }
        for line in world.ledger() {
            println!("           = {line}");
        }
        println!();
    };
    let result = match name {
        "paxos-example-1" => {
            println!(
                "Seed, Paxos Example 1 (no faults): officers 1, 2 propose; generals 1-3 accept.\n"
            );
            example_1(&mut print)
        }
        "paxos-example-2" => {
            println!("Seed, Paxos Example 2 (captured messengers, dueling officers).\n");
            example_2(&mut print)
        }
        other => {
            return Err(format!(
                "unknown scenario {other:?}; the scenarios are: {}",
                NAMES.join(", ")
            ))
        }
    };
    result
        .map(|_| ())
        .map_err(|e| format!("the scenario went off script: {e}"))
}
