#!/usr/bin/env bash
# Faults under load, against the real server binary (see RELIABILITY.md for the numbers):
#   kill -9 cycles under continuous writers on SQLite and on Postgres (acknowledged edits
#   lost must be 0), a writer far over the per-connection limits (nothing lost), clients
#   that never read (disconnected, server memory flat), and a reconnect storm with the
#   server's RSS sampled every 10 s.
#
#   scripts/faults.sh            full runs on the release build (100 cycles, 30-minute storm)
#   scripts/faults.sh --short    a few cycles and seconds each, on the debug build (CI)
#
# Postgres: TANDEM_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres);
# each run makes its own database and drops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

short=0
[ "${1:-}" = "--short" ] && short=1
log() { printf '==> %s\n' "$*" >&2; }
cleanups=()
cleanup() { local c; for c in "${cleanups[@]}"; do eval "$c" || true; done; }
trap cleanup EXIT

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
log "a writer faster than the limits"
"$L" fast-writer "${C[@]}" --edits 1000 --settle 10 || failed+=(fast-writer)
if [ $short = 1 ]; then
    # A debug-build writer cannot send enough in seconds to fill a stuck reader's kernel
    # buffers and its send queue, so the short run would prove nothing; the full run does it.
    log "clients that never read: full run only"
else
    log "clients that never read"
    "$L" slow-reader "${C[@]}" --readers 10 --size 16384 --rate 150 --duration $limit_s || failed+=(slow-reader)
fi
log "reconnect storm for $storm_s s, RSS every $sample_s s"
"$L" reconnect-storm "${C[@]}" --clients 200 --rooms 20 --wave 50 --every 1 \
    --duration $storm_s --sample-every $sample_s || failed+=(reconnect-storm)
if [ ${#failed[@]} -gt 0 ]; then
    log "failed: ${failed[*]}"
    exit 1
fi
