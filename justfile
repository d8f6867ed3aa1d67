# Thin wrappers over cargo; every recipe works as the plain cargo command shown.

default:
    @just --list

# A 3-node Raft cluster on loopback (three processes, TCP between them).
cluster-raft:
    cargo run --release -p synod -- cluster --config configs/raft.toml

# The same with five nodes.
cluster-raft-5:
    cargo run --release -p synod -- cluster --config configs/raft-5.toml

# A 3-node Multi-Paxos cluster on loopback: every node a proposer, an acceptor and a learner.
cluster-paxos:
    cargo run --release -p synod -- cluster --config configs/paxos.toml

# The same with five nodes.
cluster-paxos-5:
    cargo run --release -p synod -- cluster --config configs/paxos-5.toml

# Replay one of the seed's worked Paxos examples: paxos-example-1 or paxos-example-2.
scenario name="paxos-example-2":
    cargo run -q -p synod -- scenario {{name}}

# Simulate `seeds` seeds of each protocol under faults (release build); a failure prints its
# seed and the command that replays it.
sim seeds="1000":
    cargo run --release -p synod-sim -- --seeds {{seeds}}

# Every test of the workspace (the README's test command).
test:
    cargo test --workspace

# Formatting and clippy, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all
