# Sourced by scripts/bench-stall.sh and scripts/bench-memory.sh: a fresh 3-node cluster of
# configs/$PROTOCOL.toml (its ports, a temporary data directory), one process per node, stopped
# with everything else on exit.
#
# Sourcing it reads PROTOCOL (raft or paxos) from the script's first argument, and defines log
# and field. Expects ROOT and NAME (for log lines and the temporary directory).
# `start_three_nodes` starts the cluster and sets BIN (BENCH_BIN, or a fresh release build),
# DIR, PIDS (node N is ${PIDS[N-1]}), HTTP (the nodes' HTTP addresses) and leader (its id).
# A pid in STOPPED gets SIGCONT before the cleanup.

PROTOCOL=${1:-raft}
case "$PROTOCOL" in
raft | paxos) ;;
*)
    echo "usage: $0 raft|paxos" >&2
    exit 2
    ;;
esac

log() { echo "[$NAME] $*" >&2; }
# A number field of node $1's /v1/status (empty while it does not answer).
field() {
    { curl -s --max-time 1 "http://$1/v1/status" || true; } |
        sed -n "s/.*\"$2\": *\([0-9][0-9]*\).*/\1/p"
}

start_three_nodes() {
    if [ -n "${BENCH_BIN:-}" ]; then
        BIN=$BENCH_BIN
    else
        (cd "$ROOT" && cargo build --release -p synod)
        BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/synod"
    fi
    command -v curl >/dev/null || {
        log "curl is needed to poll /v1/status"
        exit 1
    }

    DIR=$(mktemp -d "${TMPDIR:-/tmp}/synod-$NAME.XXXXXX")
    PIDS=()
    STOPPED=""
    cleanup() {
        [ -z "$STOPPED" ] || kill -CONT "$STOPPED" 2>/dev/null || true
        for pid in ${PIDS[@]+"${PIDS[@]}"}; do kill "$pid" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$DIR"
    }
    trap cleanup EXIT

    CONFIG="$ROOT/configs/$PROTOCOL.toml"
    HTTP=($(sed -n 's/^http_addr = "\(.*\)"/\1/p' "$CONFIG"))
    for id in 1 2 3; do
        SYNOD_STORAGE__DATA_DIR="$DIR/data" RUST_LOG=warn "$BIN" node --config "$CONFIG" --id "$id" \
            2>"$DIR/node-$id.log" &
        PIDS+=("$!")
    done

    leader=""
    for _ in $(seq 1 60); do
        leader=$(field "${HTTP[0]}" leader_id)
        [ -n "$leader" ] && break
        sleep 0.5
    done
    [ -n "$leader" ] || {
        log "no leader after 30 s"
        exit 1
    }
}
