#!/usr/bin/env bash
# Runs every test: Rust (unit, store contract on SQLite and Postgres, rooms over real
# WebSockets, kill -9 / SIGTERM against the real binary) and the JS tests that drive
# the server with unmodified Yjs providers.
#
# Needs nothing running: when no Postgres answers at TANDEM_TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres) it starts a throwaway cluster on a spare
# loopback port, installing PostgreSQL from Debian's packages if need be; the cluster
# tests run redis-server processes of their own (installed if missing); Node packages
# are installed from client-js/package-lock.json and web/package-lock.json; the browser
# tests use Debian's chromium (installed if missing); the attachments' S3 tests use
# s3s-fs from crates.io (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/common.sh

# --- Postgres ---------------------------------------------------------------------
PG_URL=${TANDEM_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
command -v python3 >/dev/null || apt_install python3 # spare-port lookups here and in scripts/faults.sh
command -v psql >/dev/null || apt_install postgresql-client
pg_ok() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if ! pg_ok "$PG_URL"; then
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    pgdir=$(mktemp -d /tmp/tandem-pg.XXXXXX)
    port=$(free_port)
    as_pg=()
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$pgdir"
        as_pg=(runuser -u postgres --)
    fi
    log "starting a throwaway Postgres on 127.0.0.1:$port"
    "${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/data" -U postgres --auth=trust >/dev/null
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -w \
        -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    cleanups+=("${as_pg[*]} $pgbin/pg_ctl -D $pgdir/data -m immediate stop >/dev/null; rm -rf $pgdir")
    PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
fi
export TANDEM_TEST_POSTGRES_URL=$PG_URL
drop_test_databases() {
    psql "$PG_URL" -Atqc "select datname from pg_database where datname like 'tandem_test_%'" |
        while read -r db; do psql "$PG_URL" -qc "drop database if exists \"$db\"" >/dev/null; done
}
drop_test_databases
cleanups+=(drop_test_databases)

# --- Redis (the cluster tests start their own redis-server on spare ports) -----------
command -v redis-server >/dev/null || apt_install redis-server

# --- S3 (the attachments' bucket tests run s3s-fs, a file-backed S3 server) ------------
# 0.14.1: the newest release whose toolchain need this machine's rustc meets. About
# 200 CPU-seconds to build, once per machine (then kept in ~/.cargo/bin).
S3S_FS_VERSION=0.14.1
S3S_FS=${TANDEM_TEST_S3S_FS:-${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs}
if ! "$S3S_FS" --version 2>/dev/null | grep -q "$S3S_FS_VERSION"; then
    log "installing s3s-fs $S3S_FS_VERSION (a local S3-compatible server for the tests)"
    cargo install s3s-fs --version "$S3S_FS_VERSION" --locked --features binary --quiet
fi
export TANDEM_TEST_S3S_FS=$S3S_FS

# --- Node ---------------------------------------------------------------------------
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
if [ ! -d client-js/node_modules ] || [ client-js/package-lock.json -nt client-js/node_modules ]; then
    log "installing client-js packages"
    (cd client-js && npm ci --no-audit --no-fund --loglevel=error)
fi

# --- The web app: rebuilt from its lock file, and the committed build must match it ------
if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules ]; then
    log "installing web packages"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
log "building the web app (web/dist is committed and embedded in the binary)"
(cd web && npm run build --silent >/dev/null)
if [ -n "$(git status --porcelain web/dist)" ]; then
    git status --porcelain web/dist >&2
    echo "web/dist is stale: run npm run build in web/" >&2
    exit 1
fi
# Browser tests drive Debian's Chromium (never a downloaded browser).
[ -x /usr/bin/chromium ] || apt_install chromium

# --- docker/compose.yaml stays valid (no Docker engine here: a config check only) -------
command -v docker-compose >/dev/null || apt_install docker-compose
log "checking docker/compose.yaml"
TANDEM_JWT_SECRET=compose-check-only-0123456789abcdef docker-compose -f docker/compose.yaml config -q
# ...and refuses to run without a secret (no default that anyone could forge tokens with).
if env -u TANDEM_JWT_SECRET docker-compose -f docker/compose.yaml config -q 2>/dev/null; then
    echo "docker/compose.yaml must fail without TANDEM_JWT_SECRET" >&2
    exit 1
fi

# --- Tests --------------------------------------------------------------------------
log "formatting and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
log "no import cycles between the server's modules"
python3 scripts/import_cycles.py src
log "building"
cargo build --workspace --all-targets
log "Rust tests"
cargo test --workspace
log "fuzz targets: their seed corpora, then 25 s each (fuzz/ci.sh; long runs in RELIABILITY.md)"
command -v c++ >/dev/null || apt_install g++
fuzz/ci.sh 25
log "JS tests (unmodified y-websocket providers against the real server)"
TANDEM_BIN="$PWD/target/debug/tandem" npm --prefix client-js test
log "browser tests (the web app in Chromium against the real server)"
TANDEM_BIN="$PWD/target/debug/tandem" npm --prefix web test
log "faults under load, short (scripts/faults.sh; the long runs are documented in RELIABILITY.md)"
scripts/faults.sh --short
