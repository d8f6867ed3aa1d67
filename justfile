# Thin wrappers over cargo; every recipe works as the plain cargo command shown.

default:
    @just --list

# A 3-node Raft cluster on loopback (three processes, TCP between them).
cluster-raft:
    cargo run --release -p synod -- cluster --config configs/raft.toml

# The same with five nodes.
cluster-raft-5:
    cargo run --release -p synod -- cluster --config configs/raft-5.toml

# Every test of the workspace (the README's test command).
test:
    cargo test --workspace

# Formatting and clippy, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

fmt:
    cargo fmt --all
