#!/usr/bin/env bash
# Compare Synod with etcd under the same `synod bench` load on this machine: a 3-member etcd
# cluster, a 3-node Synod Raft cluster and a 3-node Synod Multi-Paxos cluster, each for writes
# (write ratio 1.0) and for linearizable reads (write ratio 0.0, after writing every key once);
# then a table of throughput and p99 latency, with Synod's figures relative to etcd's.
#
#   scripts/bench-compare.sh
#   BENCH_DURATION=30s BENCH_CLIENTS=32 scripts/bench-compare.sh
#
# Environment:
#   BENCH_DURATION    measured time of each run (default 10s)
#   BENCH_CLIENTS     closed-loop clients (default 64)
#   BENCH_VALUE_SIZE  bytes per value (default 256)
#   BENCH_KEYS        key space (default 100000)
#   BENCH_EXTRA       more `synod bench` options for every run (e.g. "--key-dist zipf")
#   BENCH_OUT         where the JSON reports go (default target/bench-compare)
#   BENCH_BIN         use this synod binary instead of building target/release/synod
#
# etcd comes from Debian's etcd-server package when `etcd` is not on the PATH (needs root).
# It listens on 127.0.0.1:12379/22379/32379 (peers :12380/22380/32380), not on etcd's default
# ports, so an etcd service the package may have started does not get in the way.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${BENCH_DURATION:-10s}
CLIENTS=${BENCH_CLIENTS:-64}
VALUE_SIZE=${BENCH_VALUE_SIZE:-256}
KEYS=${BENCH_KEYS:-100000}
EXTRA=${BENCH_EXTRA:-}
OUT=${BENCH_OUT:-$ROOT/target/bench-compare}
COMMON="--clients $CLIENTS --duration $DURATION --value-size $VALUE_SIZE --keys $KEYS $EXTRA"

log() { echo "[bench-compare] $*" >&2; }
die() {
    log "error: $*"
    exit 1
}
command -v curl >/dev/null || die "curl is needed to check etcd's health"

# --- the synod binary, built once (bench.sh then reuses it) ---------------------------------
if [ -z "${BENCH_BIN:-}" ]; then
    log "building synod (release)"
    (cd "$ROOT" && cargo build --release -p synod)
    BENCH_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/synod"
fi
[ -x "$BENCH_BIN" ] || die "synod binary not found at $BENCH_BIN"
export BENCH_BIN

# --- etcd -----------------------------------------------------------------------------------
if ! command -v etcd >/dev/null; then
    log "etcd not found: installing Debian's etcd-server"
    [ "$(id -u)" -eq 0 ] || die "installing etcd-server needs root (or put etcd on the PATH)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y etcd-server
fi
log "$(etcd --version 2>/dev/null | head -n 1)"

ETCD_NAMES=(e1 e2 e3)
ETCD_CLIENT_PORTS=(12379 22379 32379)
ETCD_PEER_PORTS=(12380 22380 32380)
ETCD_ENDPOINTS=""
ETCD_CLUSTER=""
for i in 0 1 2; do
    ETCD_ENDPOINTS="${ETCD_ENDPOINTS:+$ETCD_ENDPOINTS,}http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}"
    ETCD_CLUSTER="${ETCD_CLUSTER:+$ETCD_CLUSTER,}${ETCD_NAMES[$i]}=http://127.0.0.1:${ETCD_PEER_PORTS[$i]}"
    for port in "${ETCD_CLIENT_PORTS[$i]}" "${ETCD_PEER_PORTS[$i]}"; do
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
            die "port $port is in use: stop whatever listens there first"
        fi
    done
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/synod-bench-compare.XXXXXX")
ETCD_PIDS=()
STEP_PID=""

# Runs one step in the background and waits for it, so that a signal to this script reaches
# the step at once (bash runs traps only between commands); a failed step fails the script.
step() {
    "$@" &
    STEP_PID=$!
    wait "$STEP_PID"
    STEP_PID=""
}

stop_etcd() {
    local pid
    for pid in ${ETCD_PIDS[@]+"${ETCD_PIDS[@]}"}; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in ${ETCD_PIDS[@]+"${ETCD_PIDS[@]}"}; do
        for _ in $(seq 1 50); do
            kill -0 -- "-$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    ETCD_PIDS=()
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$STEP_PID" ] && kill -0 "$STEP_PID" 2>/dev/null; then
        kill -TERM "$STEP_PID" 2>/dev/null || true
        wait "$STEP_PID" 2>/dev/null || true
    fi
    if [ "${#ETCD_PIDS[@]}" -gt 0 ]; then
        log "stopping etcd"
        stop_etcd
    fi
    if [ "$status" -ne 0 ] && [ "$status" -lt 128 ]; then
        for f in "$TMP"/etcd-*.log; do
            [ -f "$f" ] || continue
            log "last lines of $f:"
            tail -n 10 "$f" >&2 || true
        done
    fi
    rm -rf "$TMP"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$OUT"
rm -f "$OUT"/*.json

log "starting a 3-member etcd cluster (data in $TMP)"
for i in 0 1 2; do
    name=${ETCD_NAMES[$i]}
    client="http://127.0.0.1:${ETCD_CLIENT_PORTS[$i]}"
    peer="http://127.0.0.1:${ETCD_PEER_PORTS[$i]}"
    # Job control on: each member gets its own process group.
    set -m
    etcd --name "$name" \
        --data-dir "$TMP/$name" \
        --listen-client-urls "$client" \
        --advertise-client-urls "$client" \
        --listen-peer-urls "$peer" \
        --initial-advertise-peer-urls "$peer" \
        --initial-cluster "$ETCD_CLUSTER" \
        --initial-cluster-state new \
        --initial-cluster-token "synod-bench-$$" \
        --logger zap --log-outputs stderr \
        >"$TMP/etcd-$name.log" 2>&1 &
    ETCD_PIDS+=("$!")
    set +m
done

deadline=$((SECONDS + 30))
while :; do
    healthy=0
    for port in "${ETCD_CLIENT_PORTS[@]}"; do
        if curl -s --max-time 1 "http://127.0.0.1:$port/health" | grep -q '"health": *"true"'; then
            healthy=$((healthy + 1))
        fi
    done
    [ "$healthy" -eq 3 ] && break
    for pid in "${ETCD_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || die "an etcd member exited"
    done
    [ "$SECONDS" -lt "$deadline" ] || die "etcd not healthy after 30s"
    sleep 0.2
done
log "etcd ready: $ETCD_ENDPOINTS"

# COMMON is split into words on purpose.
log "etcd: writes"
# shellcheck disable=SC2086
step "$BENCH_BIN" bench --target etcd --endpoints "$ETCD_ENDPOINTS" $COMMON \
    --write-ratio 1.0 --json "$OUT/etcd-write.json"
log "etcd: linearizable reads"
# shellcheck disable=SC2086
step "$BENCH_BIN" bench --target etcd --endpoints "$ETCD_ENDPOINTS" $COMMON \
    --write-ratio 0.0 --preload --json "$OUT/etcd-read.json"
log "stopping etcd"
stop_etcd

# --- Synod: a fresh cluster per run, through bench.sh ---------------------------------------
for protocol in raft paxos; do
    log "synod $protocol: writes"
    BENCH_ARGS="$COMMON --write-ratio 1.0 --json $OUT/$protocol-write.json" \
        step "$ROOT/scripts/bench.sh" "$protocol" 3
    log "synod $protocol: linearizable reads"
    BENCH_ARGS="$COMMON --write-ratio 0.0 --preload --json $OUT/$protocol-read.json" \
        step "$ROOT/scripts/bench.sh" "$protocol" 3
done

# --- the table ------------------------------------------------------------------------------
# The reports are pretty-printed JSON, one field per line.
field() { sed -n "s/^ *\"$2\": *\([0-9.eE+-]*\),\{0,1\}$/\1/p" "$1" | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo
echo "Synod vs etcd: $CLIENTS clients, $DURATION per run, $VALUE_SIZE-byte values, $KEYS keys${EXTRA:+ ($EXTRA)}"
printf '%-8s %-12s %12s %10s %10s %14s %12s\n' workload system "ops/s" "p50 ms" "p99 ms" "ops/s vs etcd" "p99 vs etcd"
for workload in write read; do
    base="$OUT/etcd-$workload.json"
    etcd_ops=$(field "$base" throughput_ops_s)
    etcd_p99=$(field "$base" p99)
    for system in etcd raft paxos; do
        f="$OUT/$system-$workload.json"
        ops=$(field "$f" throughput_ops_s)
        p50=$(field "$f" p50)
        p99=$(field "$f" p99)
        errors=$(field "$f" error_total)
        name=$system
        [ "$system" = etcd ] || name="synod-$system"
        note=""
        if [ "${errors:-0}" -gt 0 ]; then note="  ($errors errors)"; fi
        printf '%-8s %-12s %12.0f %10.2f %10.2f %14s %12s%s\n' \
            "${workload}s" "$name" "$ops" "$p50" "$p99" \
            "$(ratio "$ops" "$etcd_ops")" "$(ratio "$p99" "$etcd_p99")" "$note"
    done
done
echo
echo "JSON reports: $OUT"
