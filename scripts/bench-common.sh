# Sourced by the bench-*.sh scripts (after ROOT and OUT are set): the pinning they all
# need (two CPUs, taskset), the release build unless NO_BUILD, the binaries, a spare
# port, waiting for a server to listen on it, and runs that take turns.

log() { printf '==> %s\n' "$*" >&2; }

[ "$(nproc)" -ge 2 ] || { echo "needs two CPUs (servers on 0, load generator on 1)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is missing" >&2; exit 1; }

if [ -z "${NO_BUILD:-}" ]; then
    log "building tandem and tandem-loadtest (release)"
    cargo build --release -p tandem -p tandem-loadtest >&2
fi
TANDEM=$ROOT/target/release/tandem
LOADTEST=$ROOT/target/release/tandem-loadtest
mkdir -p "$OUT"

# A port nothing is bound to, below 32768: the kernel's own choice would come from the
# ephemeral range (32768 and up), where the load generator's connections take theirs.
free_port() {
    python3 -c '
import random, socket
for _ in range(500):
    port = random.randrange(20000, 32768)
    try:
        socket.socket().bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
else:
    raise SystemExit("no free port in 20000-32767")
'
}

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

# Runs `run_one SETUP SCENARIO RUN` for both setups, the first one first on odd runs:
# each pair starts with the other setup, so whatever one run leaves behind (Postgres
# writing out a dropped database, freed page cache) does not always fall on the same one.
alternate() { # first second scenario run
    if [ $(($4 % 2)) -eq 1 ]; then
        run_one "$1" "$3" "$4"
        run_one "$2" "$3" "$4"
    else
        run_one "$2" "$3" "$4"
        run_one "$1" "$3" "$4"
    fi
}
