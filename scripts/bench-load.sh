#!/usr/bin/env bash
# Large documents and large rooms, Tandem against another build of itself (BASELINE, e.g.
# the binary before a change), alternating, each run on a fresh server:
#
#   cold-sqlite    cold-load: join → synced on a 10 MB document whose log holds 10,000
#                  rows, no room open (embedded SQLite in a fresh data dir)
#   cold-postgres  the same on Postgres (a fresh database bench_load_<random> per run,
#                  dropped after)
#   fanout-1500    1 writer and 1,499 observers in one room: fan-out p50/p99 over every
#                  delivery and server CPU per delivery
#
# The server runs pinned to CPU 0 (`taskset -c 0`), the load generator to CPU 1. Loopback
# only. Medians of RUNS runs per build.
#
#   BASELINE=/tmp/tandem-before scripts/bench-load.sh
#   RUNS=3 ONLY=cold-sqlite NO_BUILD=1 scripts/bench-load.sh
#
# Knobs: RUNS (2), LOADS (cold loads per run, 10), RATE (edits/s of the one writer, 2),
# DURATION (s, 20), PG_URL (postgres://postgres:postgres@127.0.0.1:5432; createdb and
# dropdb must reach it), BASELINE_ENV (settings for the baseline only; by default a
# 64 MiB send queue: builds before 3624efe closed the first joiner of a document over
# the 8 MiB default as too slow).

set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-2}
LOADS=${LOADS:-10}
RATE=${RATE:-2}
DURATION=${DURATION:-20}
ONLY=${ONLY:-}
BASELINE_ENV=${BASELINE_ENV:-TANDEM_SEND_QUEUE_BYTES=67108864}
PG_URL=${PG_URL:-postgres://postgres:postgres@127.0.0.1:5432}
OUT=${OUT:-$ROOT/target/bench-load/$(date -u +%Y%m%dT%H%M%SZ)}
SECRET=bench-load-0123456789abcdef0123456789abcdef


. scripts/bench-common.sh
FAILED=0

SERVER_PID= DATA= DB=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
    if [ -n "$DB" ]; then
        dropdb --if-exists --maintenance-db="$PG_URL/postgres" "$DB" 2>/dev/null || true
        DB=
    fi
    if [ -n "$DATA" ]; then
        rm -rf "$DATA"
        DATA=
    fi
}
trap cleanup EXIT

# run_one tandem|baseline SCENARIO RUN
run_one() {
    local which=$1 scenario=$2 run=$3 port bin=$TANDEM database extra=()
    [ "$which" = tandem ] || { bin=$BASELINE; read -ra extra <<<"$BASELINE_ENV"; }
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-load-XXXXXX")
    database=sqlite://$DATA/tandem.db
    if [ "$scenario" = cold-postgres ]; then
        DB=bench_load_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
        createdb --maintenance-db="$PG_URL/postgres" "$DB"
        database=$PG_URL/$DB
    fi
    local attempt
    for attempt in 1 2 3; do
        port=$(free_port)
        # The room of one cold load closes a second after its client leaves, so the next
        # load finds none open.
        env "${extra[@]}" TANDEM_LISTEN=127.0.0.1:$port TANDEM_DATA_DIR=$DATA TANDEM_DATABASE_URL=$database \
            TANDEM_JWT_SECRET=$SECRET TANDEM_MAX_CONNECTIONS_PER_IP_PER_MINUTE=0 TANDEM_ROOM_GRACE=1s \
            RUST_LOG=warn taskset -c 0 "$bin" >"$OUT/server-$scenario-$which-$run.log" 2>&1 &
        SERVER_PID=$!
        if wait_port "$port"; then break; fi
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
        [ "$attempt" -lt 3 ] || { echo "the server did not start; see $OUT/server-$scenario-$which-$run.log" >&2; exit 1; }
    done
    local args json=$OUT/$scenario-$which-$run.json
    case $scenario in
    cold-*) args=(cold-load --database-url "$database" --runs "$LOADS") ;;
    fanout-1500) args=(fanout --rooms 1 --clients 1500 --writers 1 --full 1 --rate "$RATE" --duration "$DURATION") ;;
    esac
    log "$scenario on $which, run $run (pid $SERVER_PID, port $port)"
    timeout 1200 taskset -c 1 "$LOADTEST" "${args[@]}" --url "ws://127.0.0.1:$port/ws" --secret "$SECRET" \
        --server-pid "$SERVER_PID" --room-prefix "r$run" --json "$json" >"$OUT/$scenario-$which-$run.txt" 2>&1 ||
        { echo "load generator failed; see $OUT/$scenario-$which-$run.txt" >&2; tail -5 "$OUT/$scenario-$which-$run.txt" >&2; FAILED=$((FAILED + 1)); }
    cleanup
}

for scenario in cold-sqlite cold-postgres fanout-1500; do
    [ -z "$ONLY" ] || [ "$ONLY" = "$scenario" ] || continue
    for run in $(seq 1 "$RUNS"); do
        if [ -z "${BASELINE:-}" ]; then
            run_one tandem "$scenario" "$run"
        else
            alternate tandem baseline "$scenario" "$run"
        fi
    done
done

python3 scripts/bench-table.py "$OUT" "$RUNS" tandem,baseline '
cold-sqlite|join → synced p50 ms|join to synced p50 ms
cold-sqlite|join → synced p99 ms|join to synced p99 ms
cold-sqlite|server: store read ms|server: store read ms (mean)
cold-sqlite|server: apply ms|server: apply ms (mean)
cold-postgres|join → synced p50 ms|join to synced p50 ms
cold-postgres|join → synced p99 ms|join to synced p99 ms
cold-postgres|server: store read ms|server: store read ms (mean)
cold-postgres|server: apply ms|server: apply ms (mean)
fanout-1500|server CPU µs per delivery|server cpu us per delivery
fanout-1500|fan-out p50 ms|fan-out p50 ms
fanout-1500|fan-out p99 ms|fan-out p99 ms
fanout-1500|delivery %|delivery %
'
if [ "$FAILED" -gt 0 ]; then
    echo "$FAILED run(s) failed: their medians above are over fewer runs" >&2
    exit 1
fi
