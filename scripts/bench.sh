#!/usr/bin/env bash
# Benchmark a fresh local Synod cluster: build (release), start the cluster of
# configs/PROTOCOL.toml (or configs/PROTOCOL-5.toml) with its ports but a new temporary data
# directory (durable storage: the default log files, or SYNOD_STORAGE__BACKEND=redb), wait for a
# leader on every node, run `synod bench` against every node (only the leader with
# BENCH_LEADER_ONLY=1), stop the cluster and delete the data.
#
#   scripts/bench.sh raft            # 3 nodes
#   scripts/bench.sh paxos 5         # 5 nodes
#   BENCH_ARGS="--clients 16 --duration 5s --write-ratio 0.5 --json out.json" scripts/bench.sh raft
#   BENCH_LEADER_ONLY=1 BENCH_ARGS="--clients 1 --duration 5s" scripts/bench.sh raft   # latency
#
# Environment:
#   BENCH_ARGS   options of `synod bench` (default below); --endpoints is added by this script
#   BENCH_BIN    use this synod binary instead of building target/release/synod
#   (every SYNOD_* variable is a config override for the nodes: see docs/configuration.md)
#   BENCH_READY_TIMEOUT  seconds to wait for a leader on every node (default 30)
set -euo pipefail

usage() {
    echo "usage: $0 raft|paxos [3|5]" >&2
    exit 2
}

PROTOCOL=${1:-}
NODES=${2:-3}
case "$PROTOCOL" in
raft | paxos) ;;
*) usage ;;
esac
case "$NODES" in
3) CONFIG_NAME="$PROTOCOL.toml" ;;
5) CONFIG_NAME="$PROTOCOL-5.toml" ;;
*)
    echo "bench.sh: NODES must be 3 or 5, got '$NODES'" >&2
    usage
    ;;
esac

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG_SRC="$ROOT/configs/$CONFIG_NAME"
BENCH_ARGS=${BENCH_ARGS:---clients 64 --duration 10s --value-size 256 --keys 100000 --write-ratio 1.0}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-30}

log() { echo "[bench.sh] $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

[ -f "$CONFIG_SRC" ] || die "no config $CONFIG_SRC"
command -v curl >/dev/null || die "curl is needed to poll /v1/status"

if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
else
    log "building synod (release)"
    (cd "$ROOT" && cargo build --release -p synod)
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/synod"
fi
[ -x "$BIN" ] || die "synod binary not found at $BIN"

# The nodes' HTTP addresses, from the config.
HTTP_ADDRS=$(sed -n 's/^[[:space:]]*http_addr[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$CONFIG_SRC")
[ -n "$HTTP_ADDRS" ] || die "no http_addr in $CONFIG_SRC"
ENDPOINTS=""
for addr in $HTTP_ADDRS; do
    ENDPOINTS="${ENDPOINTS:+$ENDPOINTS,}http://$addr"
    if curl -s -o /dev/null --max-time 1 "http://$addr/"; then
        die "something already answers on $addr: stop it first (a cluster of $CONFIG_NAME running?)"
    fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/synod-bench.XXXXXX")
CLUSTER_PID=""
BENCH_PID=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ -n "$BENCH_PID" ] && kill -0 "$BENCH_PID" 2>/dev/null; then
        kill -TERM "$BENCH_PID" 2>/dev/null || true
        wait "$BENCH_PID" 2>/dev/null || true
    fi
    if [ -n "$CLUSTER_PID" ] && kill -0 "$CLUSTER_PID" 2>/dev/null; then
        log "stopping the cluster"
        kill -TERM -- "-$CLUSTER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 -- "-$CLUSTER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$CLUSTER_PID" 2>/dev/null || true
        wait "$CLUSTER_PID" 2>/dev/null || true
    fi
    if [ "$status" -ne 0 ] && [ "$status" -lt 128 ] && [ -f "$TMP/cluster.log" ]; then
        log "last lines of the cluster's log:"
        tail -n 20 "$TMP/cluster.log" >&2 || true
    fi
    rm -rf "$TMP"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A copy of the config, with durable storage under the temporary directory (through the
# config's documented SYNOD_ environment overrides, inherited by every node).
cp "$CONFIG_SRC" "$TMP/cluster.toml"
export SYNOD_STORAGE__BACKEND=${SYNOD_STORAGE__BACKEND:-wal}
[ "$SYNOD_STORAGE__BACKEND" != memory ] || die "the benchmark wants durable storage, not memory"
export SYNOD_STORAGE__DATA_DIR="$TMP/data"

log "starting a $NODES-node $PROTOCOL cluster ($CONFIG_NAME, data in $TMP/data)"
# Job control on: the cluster gets its own process group, so one kill stops it and its nodes.
set -m
"$BIN" cluster --config "$TMP/cluster.toml" >"$TMP/cluster.log" 2>&1 &
CLUSTER_PID=$!
set +m

log "waiting for every node to see a leader (up to ${READY_TIMEOUT}s)"
deadline=$((SECONDS + READY_TIMEOUT))
while :; do
    kill -0 "$CLUSTER_PID" 2>/dev/null || die "the cluster exited"
    ready=1
    for addr in $HTTP_ADDRS; do
        status=$(curl -s --max-time 1 "http://$addr/v1/status" || true)
        if ! printf '%s' "$status" | grep -q '"leader_id": *[0-9]'; then
            ready=0
            break
        fi
    done
    [ "$ready" -eq 1 ] && break
    [ "$SECONDS" -lt "$deadline" ] || die "no leader on every node after ${READY_TIMEOUT}s"
    sleep 0.2
done
log "cluster ready: $ENDPOINTS"
if [ "${BENCH_LEADER_ONLY:-0}" = 1 ]; then
    first=${HTTP_ADDRS%%[[:space:]]*}
    leader=$(curl -s --max-time 1 "http://$first/v1/status" | sed -n 's/.*"leader_id": *\([0-9]*\).*/\1/p')
    [ -n "$leader" ] || die "cannot tell the leader from http://$first/v1/status"
    ENDPOINTS="http://$(printf '%s\n' $HTTP_ADDRS | sed -n "${leader}p")"
    log "leader only: $ENDPOINTS"
fi

# BENCH_ARGS is split into words on purpose. The bench runs in the background so that a
# signal to this script stops it and the cluster at once (bash runs traps only between commands).
# shellcheck disable=SC2086
"$BIN" bench --endpoints "$ENDPOINTS" $BENCH_ARGS &
BENCH_PID=$!
wait "$BENCH_PID"
BENCH_PID=""
