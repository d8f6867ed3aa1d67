#!/usr/bin/env bash
# A neutral client for checking `synod bench`: wrk (event-driven C, one thread per endpoint)
# writes 256-byte values to random keys of 100,000 on a running Synod or etcd cluster, with 64
# connections spread over the endpoints as `synod bench` spreads its clients, and prints the
# summed writes/s. Run `synod bench` on the same cluster right before or after and compare.
#
#   scripts/bench-wrk.sh synod http://127.0.0.1:8101,http://127.0.0.1:8102,http://127.0.0.1:8103
#   scripts/bench-wrk.sh etcd  http://127.0.0.1:12379,http://127.0.0.1:22379,http://127.0.0.1:32379
#
# Environment: WRK_DURATION (seconds, default 9: 1 s of warm-up as `synod bench` has, then 8),
# WRK_CONNECTIONS (default 64). wrk comes from Debian's package when it is not on the PATH.
set -euo pipefail

TARGET=${1:-}
ENDPOINTS=${2:-}
case "$TARGET" in
synod | etcd) ;;
*)
    echo "usage: $0 synod|etcd URL[,URL...]" >&2
    exit 2
    ;;
esac
[ -n "$ENDPOINTS" ] || { echo "usage: $0 synod|etcd URL[,URL...]" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT="$ROOT/scripts/wrk/$TARGET-put.lua"
DURATION=${WRK_DURATION:-9}
CONNECTIONS=${WRK_CONNECTIONS:-64}

if ! command -v wrk >/dev/null; then
    echo "bench-wrk: wrk not found: installing Debian's wrk" >&2
    [ "$(id -u)" -eq 0 ] || { echo "installing wrk needs root (or put wrk on the PATH)" >&2; exit 1; }
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

IFS=, read -r -a URLS <<<"$ENDPOINTS"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PIDS=()
for i in "${!URLS[@]}"; do
    # Connections spread as `synod bench` spreads clients: client i goes to endpoint i mod E.
    n=$(((CONNECTIONS + ${#URLS[@]} - 1 - i) / ${#URLS[@]}))
    wrk -t1 -c"$n" -d"${DURATION}s" -s "$SCRIPT" "${URLS[$i]}" >"$TMP/$i.log" 2>&1 &
    PIDS+=("$!")
done
for pid in "${PIDS[@]}"; do
    wait "$pid"
done
if grep -h "Non-2xx" "$TMP"/*.log; then
    echo "bench-wrk: some answers were not 2xx (see above)" >&2
fi
grep -h "Requests/sec" "$TMP"/*.log |
    awk -v t="$TARGET" '{ s += $2 } END { printf "wrk %s: %.0f writes/s over %d endpoint(s)\n", t, s, NR }'
