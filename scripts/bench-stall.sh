#!/usr/bin/env bash
# What a stopped peer costs the leader: a fresh 3-node cluster of configs/PROTOCOL.toml (its
# ports, a temporary data directory), one follower stopped with SIGSTOP, `synod bench` writing
# large values at the leader, the leader's RSS every 4 s during the load and after it, then
# SIGCONT and the time the follower takes to catch up. Stops everything it started.
#
#   scripts/bench-stall.sh raft
#   STALL_VALUE_SIZE=1048576 STALL_CLIENTS=64 scripts/bench-stall.sh paxos
#
# Environment:
#   STALL_CLIENTS     closed-loop clients (default 16)
#   STALL_VALUE_SIZE  bytes per value (default 65536)
#   STALL_DURATION    seconds of load (default 20)
#   STALL_AFTER       seconds watched after the load, the follower still stopped (default 28)
#   BENCH_BIN         use this synod binary instead of building target/release/synod
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=bench-stall
# shellcheck source=scripts/lib/three-nodes.sh
. "$ROOT/scripts/lib/three-nodes.sh"
CLIENTS=${STALL_CLIENTS:-16}
VALUE_SIZE=${STALL_VALUE_SIZE:-65536}
DURATION=${STALL_DURATION:-20}
AFTER=${STALL_AFTER:-28}

start_three_nodes
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; }

follower=1
[ "$leader" = 1 ] && follower=2
LEADER_PID=${PIDS[$((leader - 1))]}
STOPPED=${PIDS[$((follower - 1))]}
kill -STOP "$STOPPED"
log "leader $leader; node $follower stopped; $CLIENTS clients write $VALUE_SIZE-byte values for ${DURATION}s"

"$BIN" bench --endpoints "http://${HTTP[$((leader - 1))]}" --clients "$CLIENTS" \
    --duration "${DURATION}s" --value-size "$VALUE_SIZE" --keys 1000 --no-progress \
    >"$DIR/bench.out" 2>&1 &
bench=$!
for t in $(seq 4 4 $((DURATION + AFTER))); do
    sleep 4
    echo "t=${t}s leader RSS $(rss "$LEADER_PID")"
done
wait "$bench" || true
grep -E "^(throughput|latency ms|errors)" "$DIR/bench.out" || true

target=$(field "${HTTP[$((leader - 1))]}" applied_index)
kill -CONT "$STOPPED"
STOPPED=""
start=$SECONDS
for _ in $(seq 1 120); do
    applied=$(field "${HTTP[$((follower - 1))]}" applied_index)
    if [ "${applied:-0}" -ge "$target" ]; then
        echo "node $follower caught up to $target within $((SECONDS - start + 1)) s of SIGCONT"
        echo "leader RSS after the catch-up $(rss "$LEADER_PID")"
        exit 0
    fi
    sleep 0.5
done
echo "node $follower did not catch up: applied ${applied:-?} < $target"
exit 1
