#!/usr/bin/env bash
# Tandem against the y-websocket reference server (@y/websocket-server, Node, in memory,
# no storage), back to back on this machine, with the same load generator:
#
#   fanout 1 room × 50 clients × 2 edits/s     server CPU µs per delivery, fan-out p50/p99
#   fanout 100 rooms × 5 clients × 1 edit/s    the same
#   idle 1,000 connections in 500 rooms        server RSS
#
# Every run starts a fresh server pinned to CPU 0 (`taskset -c 0`) and the load generator
# pinned to CPU 1, so the server's CPU time (utime + stime from /proc/<pid>/stat over the
# measured phase) is its own. Each scenario runs RUNS times per server, alternating, and
# the table shows medians and the ratio Tandem / reference. Loopback only.
#
#   scripts/bench-compare.sh                 # build, install the reference, run everything
#   RUNS=3 DURATION=30 scripts/bench-compare.sh
#   ONLY=fanout-100x5 NO_BUILD=1 scripts/bench-compare.sh
#   BASELINE=/tmp/tandem-before scripts/bench-compare.sh   # another tandem binary too,
#                                                          # e.g. before a change
#
# Tandem runs with its defaults (embedded SQLite, every update committed before it is
# fanned out) with only the per-address rate limits lifted, since all load comes from
# 127.0.0.1. The reference keeps documents in memory and stores nothing.
# Needs: cargo, node + npm (the reference is installed into target/bench-ref, never
# committed), taskset, python3, and two CPUs.

set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-2}
DURATION=${DURATION:-20}
ONLY=${ONLY:-}
REF_VERSION=0.1.1
YJS_VERSION=13.6.33
REF_DIR=$ROOT/target/bench-ref
OUT=${OUT:-$ROOT/target/bench-compare/$(date -u +%Y%m%dT%H%M%SZ)}
SECRET=bench-compare-0123456789abcdef0123456789abcdef

. scripts/bench-common.sh
command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed for the reference server" >&2; exit 1; }

# --- the reference server, pinned versions, outside the source tree ---------------------
if [ "$(node -p "try{require('$REF_DIR/node_modules/@y/websocket-server/package.json').version}catch(e){''}" 2>/dev/null)" != "$REF_VERSION" ]; then
    log "installing @y/websocket-server@$REF_VERSION and yjs@$YJS_VERSION into $REF_DIR"
    mkdir -p "$REF_DIR"
    echo '{"private":true}' >"$REF_DIR/package.json"
    # --ignore-scripts: the optional LevelDB persistence's native build is not used here.
    timeout 600 npm install --prefix "$REF_DIR" --no-audit --no-fund --save-exact --ignore-scripts \
        "@y/websocket-server@$REF_VERSION" "yjs@$YJS_VERSION" >&2
fi

FAILED=0

SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

# start_server tandem|ref PORT: a fresh server on CPU 0; sets SERVER_PID and URL.
start_server() {
    local which=$1 port=$2
    case $which in
    tandem | baseline)
        local data bin=$TANDEM
        [ "$which" = tandem ] || bin=$BASELINE
        data=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-XXXXXX")
        TANDEM_LISTEN=127.0.0.1:$port TANDEM_DATA_DIR=$data TANDEM_JWT_SECRET=$SECRET \
            TANDEM_MAX_CONNECTIONS_PER_IP_PER_MINUTE=0 RUST_LOG=warn \
            taskset -c 0 "$bin" >"$OUT/server-$which-$port.log" 2>&1 &
        SERVER_PID=$!
        URL=ws://127.0.0.1:$port/ws
        AUTH=(--secret "$SECRET")
        ;;
    ref)
        HOST=127.0.0.1 PORT=$port \
            taskset -c 0 node "$REF_DIR/node_modules/@y/websocket-server/src/server.js" >"$OUT/server-$which-$port.log" 2>&1 &
        SERVER_PID=$!
        URL=ws://127.0.0.1:$port
        AUTH=(--no-auth)
        ;;
    esac
    wait_port "$port"
}

# run_one SERVER SCENARIO RUN: one fresh server, one scenario, its JSON report kept.
run_one() {
    local which=$1 scenario=$2 run=$3 port
    port=$(free_port)
    start_server "$which" "$port"
    local json=$OUT/$scenario-$which-$run.json
    local args
    case $scenario in
    fanout-1x50) args=(fanout --rooms 1 --clients 50 --rate 2 --duration "$DURATION") ;;
    fanout-100x5) args=(fanout --rooms 100 --clients 5 --rate 1 --duration "$DURATION") ;;
    idle-1000) args=(idle --connections 1000 --rooms 500 --duration 3) ;;
    esac
    log "$scenario on $which, run $run (pid $SERVER_PID, port $port)"
    timeout $((DURATION * 3 + 120)) taskset -c 1 "$LOADTEST" "${args[@]}" --url "$URL" "${AUTH[@]}" \
        --server-pid "$SERVER_PID" --room-prefix "r$run" --json "$json" >"$OUT/$scenario-$which-$run.txt" 2>&1 ||
        { echo "load generator failed; see $OUT/$scenario-$which-$run.txt" >&2; tail -5 "$OUT/$scenario-$which-$run.txt" >&2; FAILED=$((FAILED + 1)); }
    stop_server
}

SCENARIOS=(fanout-1x50 fanout-100x5 idle-1000)
for scenario in "${SCENARIOS[@]}"; do
    [ -z "$ONLY" ] || [ "$ONLY" = "$scenario" ] || continue
    for run in $(seq 1 "$RUNS"); do
        run_one tandem "$scenario" "$run"
        [ -z "${BASELINE:-}" ] || run_one baseline "$scenario" "$run"
        run_one ref "$scenario" "$run"
    done
done

# --- the table -----------------------------------------------------------------------------
python3 scripts/bench-table.py "$OUT" "$RUNS" tandem,baseline,ref '
fanout-1x50|server CPU µs per delivery|server cpu us per delivery
fanout-1x50|fan-out p50 ms|fan-out p50 ms
fanout-1x50|fan-out p99 ms|fan-out p99 ms
fanout-1x50|delivery %|delivery %
fanout-100x5|server CPU µs per delivery|server cpu us per delivery
fanout-100x5|fan-out p50 ms|fan-out p50 ms
fanout-100x5|fan-out p99 ms|fan-out p99 ms
fanout-100x5|delivery %|delivery %
idle-1000|server RSS before MiB|server rss before MiB
idle-1000|server RSS held MiB|server rss held MiB
idle-1000|handshake p50 ms|handshake p50 ms
'
if [ "$FAILED" -gt 0 ]; then
    echo "$FAILED run(s) failed: their medians above are over fewer runs" >&2
    exit 1
fi
