#!/usr/bin/env bash
# 1-client put latency at the leader of a fresh 3-node cluster, against the bound of the
# latency target: 2 × (one fsync + two loopback round trips), both measured here and now by
# criterion — a plain append + fdatasync of one entry (`cargo bench -p synod-storage`) and a
# loopback TCP round trip (`cargo bench -p synod-network --bench loopback_rtt`).
#
#   scripts/bench-latency.sh raft
#   BENCH_RUNS=3 scripts/bench-latency.sh paxos
#
# Environment:
#   BENCH_RUNS      cluster runs of 10 s each (default 2); each prints its p50
#   BENCH_BIN       use this synod binary instead of building target/release/synod
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROTOCOL=${1:-raft}
RUNS=${BENCH_RUNS:-2}
CRITERION="${CARGO_TARGET_DIR:-$ROOT/target}/criterion"

if [ -z "${BENCH_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -p synod)
    export BENCH_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/synod"
fi

p50s=()
for run in $(seq 1 "$RUNS"); do
    p50=$(BENCH_LEADER_ONLY=1 BENCH_ARGS="--clients 1 --duration 10s --value-size 256 --no-progress" \
        "$ROOT/scripts/bench.sh" "$PROTOCOL" 2>/dev/null | awk '/^latency ms/ {print $4}')
    [ -n "$p50" ] || {
        echo "bench-latency.sh: run $run gave no latency (see scripts/bench.sh)" >&2
        exit 1
    }
    echo "$PROTOCOL run $run: 1 client at the leader, p50 $p50 ms"
    p50s+=("$p50")
done

bench() {
    (cd "$ROOT" && cargo bench "$@" >/dev/null 2>&1) || {
        echo "bench-latency.sh: cargo bench $* failed; run it by hand to see why" >&2
        exit 1
    }
}
bench -p synod-storage --bench commit -- "file append \+ fdatasync, 1 entries"
bench -p synod-network --bench loopback_rtt

# The median of a criterion benchmark, in ms.
median_ms() {
    sed -n 's/.*"median":{"confidence_interval":{[^}]*},"point_estimate":\([0-9.e+]*\).*/\1/p' \
        "$CRITERION/$1/new/estimates.json" | awk '{printf "%.4f", $1 / 1e6}'
}
fsync=$(median_ms "durable persist/file append + fdatasync, 1 entries")
rtt=$(median_ms "loopback TCP round trip, 64 bytes")
bound=$(awk -v f="$fsync" -v r="$rtt" 'BEGIN {printf "%.3f", 2 * (f + 2 * r)}')
echo "bound: 2 × (fsync $fsync ms + 2 × round trip $rtt ms) = $bound ms"
for p50 in "${p50s[@]}"; do
    awk -v p="$p50" -v b="$bound" 'BEGIN {printf "p50 %.3f ms = %.2f × the bound%s\n", p, p / b, (p <= b ? "" : "  (above)")}'
done
