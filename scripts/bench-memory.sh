#!/usr/bin/env bash
# What a node holds in memory at 1,000,000 keys: a fresh 3-node cluster of configs/PROTOCOL.toml
# (its ports, a temporary data directory, durable storage), every key written once through the
# API (`synod bench --preload`), then MEMORY_WRITES seconds of 64 clients writing over the whole
# key space (snapshots and log compaction under way). Prints each node's resident memory after
# the preload and after the writes, and its highest (VmHWM) so far, against the raw bytes of the
# keys and values.
# Stops everything it started.
#
#   scripts/bench-memory.sh raft
#   MEMORY_KEYS=200000 scripts/bench-memory.sh paxos
#
# Environment:
#   MEMORY_KEYS        keys written (default 1000000)
#   MEMORY_VALUE_SIZE  bytes per value (default 256)
#   MEMORY_WRITES      seconds of writes after the preload (default 10)
#   BENCH_BIN          use this synod binary instead of building target/release/synod
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=bench-memory
# shellcheck source=scripts/lib/three-nodes.sh
. "$ROOT/scripts/lib/three-nodes.sh"
KEYS=${MEMORY_KEYS:-1000000}
VALUE_SIZE=${MEMORY_VALUE_SIZE:-256}
WRITES=${MEMORY_WRITES:-10}

# Raw bytes of the keys (`key-0` .. `key-{N-1}`) and their values.
RAW=$(awk -v n="$KEYS" -v v="$VALUE_SIZE" 'BEGIN {
    b = 0; for (d = 1; 10 ^ (d - 1) <= n - 1 || d == 1; d++) {
        lo = (d == 1) ? 0 : 10 ^ (d - 1); hi = 10 ^ d - 1; if (hi > n - 1) hi = n - 1
        if (hi >= lo) b += (hi - lo + 1) * (4 + d + v)
    }
    printf "%.0f", b }')
[ "$RAW" -gt 0 ] || {
    echo "[bench-memory] MEMORY_KEYS and MEMORY_VALUE_SIZE must be positive" >&2
    exit 2
}

start_three_nodes
ENDPOINTS=""
for addr in "${HTTP[@]}"; do ENDPOINTS="${ENDPOINTS:+$ENDPOINTS,}http://$addr"; done

# Node $1's resident memory now (VmRSS, RssAnon) and at its highest so far (VmHWM), against RAW.
report() {
    for id in 1 2 3; do
        local status="/proc/${PIDS[$((id - 1))]}/status"
        [ -r "$status" ] || {
            log "node $id exited; the end of its log:"
            tail -n 20 "$DIR/node-$id.log" >&2
            exit 1
        }
        awk -v what="$1" -v id="$id" -v raw="$RAW" '
            { kib[$1] = $2 }
            END {
                m = 1048576 / 1024
                printf "%s node %d: RSS %.0f MiB (%.0f anonymous, %.2fx raw), highest %.0f MiB (%.2fx raw)\n",
                    what, id, kib["VmRSS:"] / m, kib["RssAnon:"] / m, kib["VmRSS:"] * 1024 / raw,
                    kib["VmHWM:"] / m, kib["VmHWM:"] * 1024 / raw
            }' "$status"
    done
}

log "leader $leader; writing $KEYS keys of $VALUE_SIZE bytes ($((RAW / 1048576)) MiB raw)"
"$BIN" bench --endpoints "$ENDPOINTS" --clients 64 --duration 1s --warmup 0s --preload \
    --value-size "$VALUE_SIZE" --keys "$KEYS" --no-progress >"$DIR/preload.out" 2>&1 || {
    log "the preload failed:"
    tail -n 20 "$DIR/preload.out" >&2
    exit 1
}
grep "^preloaded" "$DIR/preload.out"
if grep -q "failed after" "$DIR/preload.out"; then
    log "some keys were not written: the figures would not be of $KEYS keys"
    exit 1
fi
sleep 2
report "after the preload:"

log "$WRITES s of writes over the $KEYS keys"
"$BIN" bench --endpoints "$ENDPOINTS" --clients 64 --duration "${WRITES}s" --warmup 0s \
    --value-size "$VALUE_SIZE" --keys "$KEYS" --no-progress >"$DIR/writes.out" 2>&1 || {
    log "the writes failed:"
    tail -n 20 "$DIR/writes.out" >&2
    exit 1
}
grep -E "^(throughput|errors)" "$DIR/writes.out" || true
sleep 2
report "after the writes:"
