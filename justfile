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

# Benchmark a fresh local Raft cluster of 3 or 5 nodes (`synod bench` options in $BENCH_ARGS).
bench-raft nodes="3":
    scripts/bench.sh raft {{nodes}}

# The same on Multi-Paxos.
bench-paxos nodes="3":
    scripts/bench.sh paxos {{nodes}}

# etcd vs Synod Raft vs Synod Paxos: writes and linearizable reads (BENCH_DURATION per run).
bench-compare:
    scripts/bench-compare.sh

# What a 5-node cluster keeps of the 3-node throughput: pairs of runs and their median.
bench-scale protocol="raft":
    scripts/bench-scale.sh {{protocol}}

# 1-client put latency at the leader of a fresh cluster (raft or paxos), and the bound it is
# measured against: a bare fdatasync (storage bench) and a loopback round trip (network bench).
bench-latency protocol="raft":
    scripts/bench-latency.sh {{protocol}}

# Resident memory of each node of a fresh 3-node cluster holding 1,000,000 keys, after the
# preload and at its highest during writes, against the raw bytes stored.
bench-memory protocol="raft":
    scripts/bench-memory.sh {{protocol}}

# What a follower stopped with SIGSTOP costs the leader's memory under large writes, and how
# fast it catches up once resumed.
bench-stall protocol="raft":
    scripts/bench-stall.sh {{protocol}}

# Replay a protocol's worked example on its real cores: paxos-example-1, paxos-example-2,
# raft-election, raft-replication or raft-figure-8.
scenario name="paxos-example-2":
    cargo run --release -q -p synod -- scenario {{name}}

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
