#!/usr/bin/env bash
# How much of the 3-node throughput a 5-node cluster keeps: pairs of `scripts/bench.sh` runs
# (3 nodes, then 5) back to back, each pair's ratio, and the median. This machine is noisy, so
# one pair says little; the pairs interleave so that drift hits both sizes alike.
#
#   scripts/bench-scale.sh                 # raft, 6 pairs of 8 s runs
#   BENCH_PAIRS=10 scripts/bench-scale.sh paxos
#   BENCH_LEADER_ONLY=1 scripts/bench-scale.sh   # clients on the leader only
#
# Environment:
#   BENCH_PAIRS     pairs to run (default 6: single pairs range widely on a small machine)
#   BENCH_DURATION  measured time of each run (default 8s)
#   BENCH_BIN       use this synod binary instead of building target/release/synod
#   (BENCH_LEADER_ONLY and every SYNOD_* variable pass through to scripts/bench.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROTOCOL=${1:-raft}
PAIRS=${BENCH_PAIRS:-6}
DURATION=${BENCH_DURATION:-8s}

if [ -z "${BENCH_BIN:-}" ]; then
    (cd "$ROOT" && cargo build --release -p synod)
    export BENCH_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/synod"
fi
export BENCH_ARGS="--clients 64 --duration $DURATION --value-size 256 --keys 100000 --write-ratio 1.0 --no-progress"

throughput() {
    "$ROOT/scripts/bench.sh" "$PROTOCOL" "$1" 2>/dev/null | awk '/^throughput/ {print $2}'
}

ratios=()
for pair in $(seq 1 "$PAIRS"); do
    three=$(throughput 3)
    five=$(throughput 5)
    [ -n "$three" ] && [ -n "$five" ] || {
        echo "bench-scale.sh: pair $pair: a run gave no throughput (see scripts/bench.sh)" >&2
        exit 1
    }
    ratio=$(awk -v a="$five" -v b="$three" 'BEGIN {printf "%.3f", a / b}')
    ratios+=("$ratio")
    printf '%s pair %d: 3 nodes %s ops/s, 5 nodes %s ops/s, ratio %s\n' "$PROTOCOL" "$pair" "$three" "$five" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}')
echo "$PROTOCOL 5-node / 3-node throughput: median $median of $PAIRS pairs (${ratios[*]})"
