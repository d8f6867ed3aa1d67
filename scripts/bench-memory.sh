#!/usr/bin/env bash
# What a node holds in memory at 1,000,000 keys: a fresh 3-node cluster of configs/PROTOCOL.toml
# (its ports, a temporary data directory, durable storage), every key written once through the
# API (`synod bench --preload`), then MEMORY_WRITES seconds of 64 clients writing over the whole
# key space (snapshots and log compaction under way). Prints each node's resident memory after
# the preload and the highest seen during the writes, against the raw bytes of the keys and values.
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
PROTOCOL=${1:-raft}
case "$PROTOCOL" in
raft | paxos) ;;
*)
    echo "usage: $0 raft|paxos" >&2
    exit 2
    ;;
esac
KEYS=${MEMORY_KEYS:-1000000}
VALUE_SIZE=${MEMORY_VALUE_SIZE:-256}
WRITES=${MEMORY_WRITES:-10}

NAME=bench-memory
# shellcheck source=scripts/lib/three-nodes.sh
. "$ROOT/scripts/lib/three-nodes.sh"
ENDPOINTS=""
for addr in "${HTTP[@]}"; do ENDPOINTS="${ENDPOINTS:+$ENDPOINTS,}http://$addr"; done

# Resident memory of node $1 in MiB: a field of /proc/PID/status.
mib() { awk -v f="$2:" '$1 == f {printf "%.0f", $2 / 1024}' "/proc/${PIDS[$(($1 - 1))]}/status"; }
# Raw bytes of the keys (`key-N`) and values, in MiB.
RAW=$(awk -v n="$KEYS" -v v="$VALUE_SIZE" 'BEGIN {
    b = 0; for (d = 1; 10 ^ (d - 1) <= n - 1 || d == 1; d++) {
        lo = (d == 1) ? 0 : 10 ^ (d - 1); hi = 10 ^ d - 1; if (hi > n - 1) hi = n - 1
        if (hi >= lo) b += (hi - lo + 1) * (4 + d + v)
    }
    printf "%.0f", b / 1048576 }')
report() {
    for id in 1 2 3; do
        local rss anon
        rss=$(mib "$id" VmRSS)
        anon=$(mib "$id" RssAnon)
        printf '%s node %d: RSS %s MiB (%s anonymous, %.2fx raw), peak %s MiB (%.2fx)\n' "$1" "$id" \
            "$rss" "$anon" "$(echo "$rss / $RAW" | bc -l)" "$(mib "$id" VmHWM)" \
            "$(echo "$(mib "$id" VmHWM) / $RAW" | bc -l)"
    done
}

log "leader $leader; writing $KEYS keys of $VALUE_SIZE bytes (raw: $RAW MiB)"
"$BIN" bench --endpoints "$ENDPOINTS" --clients 64 --duration 1s --warmup 0s --preload \
    --value-size "$VALUE_SIZE" --keys "$KEYS" --no-progress >"$DIR/preload.out" 2>&1
sleep 2
report "after the preload:"

log "$WRITES s of writes over the $KEYS keys"
"$BIN" bench --endpoints "$ENDPOINTS" --clients 64 --duration "${WRITES}s" --warmup 0s \
    --value-size "$VALUE_SIZE" --keys "$KEYS" --no-progress >"$DIR/writes.out" 2>&1 &
bench=$!
declare -A HIGH
while kill -0 "$bench" 2>/dev/null; do
    for id in 1 2 3; do
        rss=$(mib "$id" VmRSS)
        [ "$rss" -le "${HIGH[$id]:-0}" ] || HIGH[$id]=$rss
    done
    sleep 0.2
done
wait "$bench" || true
grep -E "^(throughput|errors)" "$DIR/writes.out" || true
for id in 1 2 3; do
    printf 'during the writes node %d: highest RSS %s MiB (%.2fx raw)\n' "$id" "${HIGH[$id]}" \
        "$(echo "${HIGH[$id]} / $RAW" | bc -l)"
done
sleep 2
report "after the writes:"
