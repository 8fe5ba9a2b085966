# Sourced by scripts/bench-compare.sh and scripts/bench-load.sh (after ROOT and OUT are
# set): the release build unless NO_BUILD, the binaries, a spare port, and waiting for a
# server to listen on it.

if [ -z "${NO_BUILD:-}" ]; then
    log "building tandem and tandem-loadtest (release)"
    cargo build --release -p tandem -p tandem-loadtest >&2
fi
TANDEM=$ROOT/target/release/tandem
LOADTEST=$ROOT/target/release/tandem-loadtest
mkdir -p "$OUT"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (at most 30 s) until the server listens on 127.0.0.1:$1; fails at once if it
# exited (another process took the port between free_port and its bind).
wait_port() {
    local i
    for i in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    echo "nothing listened on port $1 within 30 s" >&2
    return 1
}
