#!/usr/bin/env bash
# Two Tandem nodes over Redis: every room of a fanout run spans both nodes (odd clients on
# the second, writers too), against the same run with both halves on one node, in the same
# sitting, alternating, each run on fresh nodes and a fresh Postgres database:
#
#   busy    fanout --rooms 1 --clients 50 --rate 20
#   small   fanout --rooms 100 --clients 4 --rate 1
#
# Reported: fan-out p99 of same-node and cross-node deliveries and their difference (the
# extra latency of a cross-node delivery); the hop per edit (its first arrival on the other
# node minus its first on the writer's: the same difference without the commit latency
# both paths share); server CPU per delivery, per node and in total. One scratch redis-server for the sitting (nothing saved); both nodes, and the
# single node of the baseline, use it and Postgres (a database bench_cluster_<random> per
# run, dropped after). Both nodes run pinned to CPU 0 (`taskset -c 0`), the load generator
# to CPU 1. Loopback only, every port below 32768. Medians of RUNS runs.
#
#   scripts/bench-cluster.sh
#   RUNS=1 ONLY=busy PROFILE=1 NO_BUILD=1 scripts/bench-cluster.sh
#
# Knobs: RUNS (3), DURATION (s, 15), ONLY (busy or small), PG_URL
# (postgres://postgres:postgres@127.0.0.1:5432; createdb and dropdb must reach it),
# PROFILE (set: `perf record $PERF_ARGS` the first node during every two-node run, perf on
# CPU 1 beside the generator, so keep those runs' numbers out of comparisons), PERF_ARGS
# (-e cpu-clock -g; `--call-graph dwarf` gives whole stacks, for scripts/perf-stages.py),
# NODE2_CPU (0; 1 puts the second node beside the generator instead of the first node:
# shows how much of the hop is the two nodes waiting for each other's CPU).

set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-3}
DURATION=${DURATION:-15}
ONLY=${ONLY:-}
PROFILE=${PROFILE:-}
PERF_ARGS=${PERF_ARGS:--e cpu-clock -g}
NODE2_CPU=${NODE2_CPU:-0}
PG_URL=${PG_URL:-postgres://postgres:postgres@127.0.0.1:5432}
OUT=${OUT:-$ROOT/target/bench-cluster/$(date -u +%Y%m%dT%H%M%SZ)}
SECRET=bench-cluster-0123456789abcdef0123456789abcdef

command -v redis-server >/dev/null || { echo "redis-server is missing" >&2; exit 1; }
[ -z "$PROFILE" ] || command -v perf >/dev/null || { echo "PROFILE needs perf" >&2; exit 1; }

. scripts/bench-common.sh
FAILED=0

REDIS_PID= PIDS=() PORTS=() DATA= DB= PERF_PID=
stop_nodes() {
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=
    fi
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=() PORTS=()
    if [ -n "$DB" ]; then
        dropdb --if-exists --maintenance-db="$PG_URL/postgres" "$DB" 2>/dev/null || true
        DB=
    fi
    if [ -n "$DATA" ]; then
        rm -rf "$DATA"
        DATA=
    fi
}
cleanup() {
    stop_nodes
    if [ -n "$REDIS_PID" ]; then
        kill "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
        REDIS_PID=
    fi
}
trap cleanup EXIT

# Redis for the whole sitting, on a port of its own (SERVER_PID is what wait_port watches).
for attempt in 1 2 3; do
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$OUT/redis.log" 2>&1 &
    REDIS_PID=$!
    SERVER_PID=$REDIS_PID
    if wait_port "$REDIS_PORT"; then break; fi
    wait "$REDIS_PID" 2>/dev/null || true
    REDIS_PID=
    [ "$attempt" -lt 3 ] || { echo "redis-server did not start; see $OUT/redis.log" >&2; exit 1; }
done
log "redis on port $REDIS_PORT (pid $REDIS_PID)"

# start_node LOG CPU: one node on the run's database and the sitting's Redis, on CPU; its
# pid and port are appended to PIDS and PORTS. Nodes start one after the other, so the
# second finds the migrations done.
start_node() {
    local logfile=$1 cpu=$2 port attempt n=${#PIDS[@]}
    mkdir -p "$DATA/node$n"
    for attempt in 1 2 3; do
        port=$(free_port)
        TANDEM_LISTEN=127.0.0.1:$port TANDEM_DATA_DIR=$DATA/node$n TANDEM_DATABASE_URL=$PG_URL/$DB \
            TANDEM_REDIS_URL=redis://127.0.0.1:$REDIS_PORT TANDEM_JWT_SECRET=$SECRET \
            TANDEM_MAX_CONNECTIONS_PER_IP_PER_MINUTE=0 RUST_LOG=warn \
            taskset -c "$cpu" "$TANDEM" >"$logfile" 2>&1 &
        SERVER_PID=$!
        if wait_port "$port"; then
            PIDS+=("$SERVER_PID") PORTS+=("$port")
            return 0
        fi
        wait "$SERVER_PID" 2>/dev/null || true
    done
    echo "a node did not start; see $logfile" >&2
    exit 1
}

# run_one two|one SCENARIO RUN
run_one() {
    local which=$1 scenario=$2 run=$3 args second_url second_pid=()
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-cluster-XXXXXX")
    DB=bench_cluster_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
    createdb --maintenance-db="$PG_URL/postgres" "$DB"
    start_node "$OUT/server-$scenario-$which-$run-a.log" 0
    if [ "$which" = two ]; then
        start_node "$OUT/server-$scenario-$which-$run-b.log" "$NODE2_CPU"
        second_url=ws://127.0.0.1:${PORTS[1]}/ws
        second_pid=(--second-server-pid "${PIDS[1]}")
        if [ -n "$PROFILE" ]; then
            # shellcheck disable=SC2086 # PERF_ARGS is a list of words
            taskset -c 1 perf record $PERF_ARGS -p "${PIDS[0]}" -o "$OUT/perf-$scenario-$run.data" \
                >"$OUT/perf-$scenario-$run.log" 2>&1 &
            PERF_PID=$!
        fi
    else
        # Both halves on the one node: the same clients, writers and rooms, no Redis hop.
        second_url=ws://127.0.0.1:${PORTS[0]}/ws
    fi
    case $scenario in
    busy) args=(fanout --rooms 1 --clients 50 --rate 20) ;;
    small) args=(fanout --rooms 100 --clients 4 --rate 1) ;;
    esac
    log "$scenario on $which node(s), run $run (pids ${PIDS[*]}, ports ${PORTS[*]})"
    timeout 600 taskset -c 1 "$LOADTEST" "${args[@]}" --duration "$DURATION" --secret "$SECRET" \
        --url "ws://127.0.0.1:${PORTS[0]}/ws" --server-pid "${PIDS[0]}" --second-url "$second_url" "${second_pid[@]}" \
        --room-prefix "r$run" --json "$OUT/$scenario-$which-$run.json" >"$OUT/$scenario-$which-$run.txt" 2>&1 ||
        { echo "load generator failed; see $OUT/$scenario-$which-$run.txt" >&2; tail -5 "$OUT/$scenario-$which-$run.txt" >&2; FAILED=$((FAILED + 1)); }
    stop_nodes
}

for scenario in busy small; do
    [ -z "$ONLY" ] || [ "$ONLY" = "$scenario" ] || continue
    for run in $(seq 1 "$RUNS"); do
        alternate two one "$scenario" "$run"
    done
done

ROWS='same-node delivery p99 ms|fan-out same-node p99 ms
cross-node delivery p99 ms|fan-out cross-node p99 ms
extra p99 ms (cross − same)|cross-node extra p99 ms
hop per edit p50 ms|cross-node hop p50 ms
hop per edit p99 ms|cross-node hop p99 ms
fan-out p50 ms (all)|fan-out p50 ms
server CPU µs per delivery (total)|server cpu us per delivery
node 1 CPU µs per delivery to its clients|node 1 cpu us per delivery
node 2 CPU µs per delivery to its clients|node 2 cpu us per delivery
delivery %|delivery %'
python3 scripts/bench-table.py "$OUT" "$RUNS" two,one "$(for s in busy small; do printf '%s\n' "$ROWS" | sed "s/^/$s|/"; done)"
if [ -n "$PROFILE" ]; then
    for f in "$OUT"/perf-*.data; do
        [ -e "$f" ] || continue
        perf report -i "$f" --no-children --stdio --percent-limit 1.5 -g none 2>/dev/null >"${f%.data}.txt" || true
        log "profile: ${f%.data}.txt"
    done
fi
if [ "$FAILED" -gt 0 ]; then
    echo "$FAILED run(s) failed: their medians above are over fewer runs" >&2
    exit 1
fi
