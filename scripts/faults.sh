#!/usr/bin/env bash
# Faults under load, against the real server binary (see RELIABILITY.md for the numbers):
#   kill -9 cycles under continuous writers on SQLite and on Postgres (acknowledged edits
#   lost must be 0), Postgres stopped (immediate) and started again under writers on two
#   nodes sharing a Redis (a throwaway cluster and redis-server of the run's own; lost must
#   be 0, recovery timed), a writer far over the per-connection limits (nothing lost), clients
#   that never read (disconnected, server memory flat), and a reconnect storm with the
#   server's RSS sampled every 10 s.
#
#   scripts/faults.sh            full runs on the release build (100 cycles, 30-minute storm)
#   scripts/faults.sh --short    a few cycles and seconds each, on the debug build (CI)
#
# Postgres: TANDEM_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
# each run makes its own database and drops it afterwards. The restart scenario never
# touches that server: it runs initdb for a cluster of its own on a spare loopback port
# (needs Postgres' server binaries and redis-server, installed from Debian's packages if
# missing).
set -euo pipefail
cd "$(dirname "$0")/.."

short=0
[ "${1:-}" = "--short" ] && short=1
. scripts/common.sh

ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v pg_config >/dev/null || apt_install postgresql
command -v redis-server >/dev/null || apt_install redis-server
# As root, the throwaway cluster runs as `postgres` (initdb refuses root), as in scripts/test.sh.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then useradd --system --no-create-home postgres; fi

if [ $short = 1 ]; then
    profile=debug; cycles=5; storm_s=20; sample_s=5; limit_s=8
    cargo build --workspace --all-targets # a no-op after scripts/test.sh built it
else
    profile=release; cycles=100; storm_s=1800; sample_s=10; limit_s=30
    cargo build --release --workspace
fi
BIN=$PWD/target/$profile/tandem
L=$PWD/target/$profile/tandem-loadtest

PG_URL=${TANDEM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db="tandem_test_faults_$$"
psql "$PG_URL" -qc "create database $db" >/dev/null
cleanups+=("psql '$PG_URL' -qc 'drop database if exists $db' >/dev/null")
PG_DB_URL="${PG_URL%/*}/$db"

log "kill -9 x $cycles under 4 writers, SQLite"
"$L" kill-cycles --server-bin "$BIN" --cycles $cycles --writers 4 --run-ms 300
log "kill -9 x $cycles under 4 writers, Postgres"
"$L" kill-cycles --server-bin "$BIN" --cycles $cycles --writers 4 --run-ms 300 --database-url "$PG_DB_URL"

# Two nodes, one Redis, a Postgres of this step's own that is stopped under load.
if [ $short = 1 ]; then
    log "Postgres stopped and started again under writers on two nodes (2 restarts)"
    "$L" pg-restart --server-bin "$BIN" --writers 2 --restarts 2 --every-ms 1500 --down-ms 1000 --after-ms 1000 ||
        pg_failed=1
else
    log "Postgres restarted (pg_ctl -m immediate stop, start) under writers on two nodes, 20 times"
    "$L" pg-restart --server-bin "$BIN" --writers 2 --restarts 20 --every-ms 3000 --down-ms 0 --after-ms 2000 ||
        pg_failed=1
    log "Postgres down 5 s under writers on two nodes, 5 times"
    "$L" pg-restart --server-bin "$BIN" --writers 2 --restarts 5 --every-ms 3000 --down-ms 5000 --after-ms 2000 ||
        pg_failed=1
fi

# One server with default limits for the rest.
data=$(mktemp -d /tmp/tandem-faults.XXXXXX)
cleanups+=("rm -rf $data")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
secret=faults-secret-of-at-least-thirty-two-bytes
TANDEM_LISTEN=127.0.0.1:$port TANDEM_DATA_DIR=$data TANDEM_JWT_SECRET=$secret \
    TANDEM_MAX_CONNECTIONS_PER_IP_PER_MINUTE=0 RUST_LOG=error "$BIN" &
pid=$!
cleanups+=("kill $pid")
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
C=(--url "ws://127.0.0.1:$port/ws" --secret "$secret" --server-pid "$pid")

# Every scenario runs; those whose check failed are listed at the end (exit 1).
failed=()
[ -n "${pg_failed:-}" ] && failed+=(pg-restart)
log "a writer faster than the limits"
"$L" fast-writer "${C[@]}" --edits 1000 --settle 10 || failed+=(fast-writer)
if [ $short = 1 ]; then
    # A debug-build writer cannot send enough in seconds to fill a stuck reader's kernel
    # buffers and its send queue, so the short run would prove nothing; the full run does it.
    log "clients that never read: full run only"
else
    log "clients that never read"
    # Memory flat: every queue is bounded (8 MiB, frames shared between queues); the run
    # needs well under 200 MiB, so 512 MiB is a generous ceiling.
    "$L" slow-reader "${C[@]}" --readers 10 --size 16384 --rate 150 --duration $limit_s --max-rss-mib 512 ||
        failed+=(slow-reader)
fi
log "reconnect storm for $storm_s s, RSS every $sample_s s"
"$L" reconnect-storm "${C[@]}" --clients 200 --rooms 20 --wave 50 --every 1 \
    --duration $storm_s --sample-every $sample_s || failed+=(reconnect-storm)
if [ ${#failed[@]} -gt 0 ]; then
    log "failed: ${failed[*]}"
    exit 1
fi
