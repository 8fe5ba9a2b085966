#!/usr/bin/env bash
# What one hostile render costs the server: wall time, HTML bytes and the server's peak
# RSS growth (VmHWM in /proc), for `POST /api/v1/render` and for a document's
# `GET …/render`, each against a freshly started server.
#
#   cargo build --release --bin tandem && scripts/render-bench.sh [code|table|nest] [MiB]
#
# code:  one fenced Rust block (highlighting amplification), the default
# table: a 100-column header and one-cell rows (each row is padded to 100 cells)
# tables: many such tables, each short of comrak's 500,000 padded cells per table
# nest:  deeply nested block quotes and lists
# prose: an ordinary long document (headings, paragraphs, lists, links, a table, short code)
set -euo pipefail
cd "$(dirname "$0")/.."

KIND=${1:-code}
MIB=${2:-1}
BIN=${BIN:-./target/release/tandem}
PORT=${PORT:-4517}
BASE="http://127.0.0.1:$PORT"
DIR=$(mktemp -d)
PID=

stop() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
    fi
}
trap 'stop; rm -rf "$DIR"' EXIT

python3 - "$KIND" "$MIB" >"$DIR/in.md" <<'EOF'
import sys
kind, size = sys.argv[1], int(float(sys.argv[2]) * 1024 * 1024)
out = []
n = 0
if kind == "code":
    line = 'fn f(x: &str) -> Result<Vec<u8>, String> { let y = x.len() * 2; Ok(vec![y as u8]) } // "s"\n'
    out.append("```rust\n")
    while n < size:
        out.append(line); n += len(line)
    out.append("```\n")
elif kind == "table":
    out.append("|" + "a|" * 100 + "\n|" + "-|" * 100 + "\n")
    while n < size:
        out.append("|a\n"); n += 3
elif kind == "tables":
    table = "|" + "a|" * 100 + "\n|" + "-|" * 100 + "\n" + "|a\n" * 6000 + "\n"
    while n < size:
        out.append(table); n += len(table)
elif kind == "nest":
    line = "> " * 30 + "- " * 30 + "x\n"
    while n < size:
        out.append(line); n += len(line)
elif kind == "prose":
    section = (
        "## Section {i}\n\nSome *emphasis*, some **strong** text, `code` and a [link](https://example.com/{i}).\n"
        "A second sentence that goes on for a while so paragraphs look like paragraphs do.\n\n"
        "- first item\n- second item with ~~strike~~\n- [ ] a task\n\n"
        "| a | b |\n|---|---|\n| {i} | two |\n\n"
        "```python\ndef f(x):\n    return x * {i}\n```\n\n> A quote.[^{i}]\n\n[^{i}]: Its note.\n\n"
    )
    i = 0
    while n < size:
        s = section.format(i=i); out.append(s); n += len(s); i += 1
else:
    sys.exit(f"unknown kind {kind}")
sys.stdout.write("".join(out))
EOF

start() {
    rm -rf "$DIR/data"
    TANDEM_LISTEN=127.0.0.1:$PORT TANDEM_DATA_DIR="$DIR/data" RUST_LOG=warn \
        TANDEM_MAX_REQUESTS_PER_USER_PER_MINUTE=0 "$BIN" >"$DIR/server.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        curl -sf "$BASE/healthz" >/dev/null && break
        sleep 0.1
    done
    TOKEN=$(curl -sf "$BASE/api/v1/auth/signup" -H 'content-type: application/json' \
        -d '{"email":"bench@example.com","password":"correct horse battery","name":"bench"}' | jq -r .access_token)
}

hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$PID/status"; }

# measure LABEL curl-args…: status, seconds, response bytes, peak RSS growth.
measure() {
    local label=$1 before after result
    shift
    before=$(hwm_kib)
    result=$(curl -s -o "$DIR/out" -w '%{http_code} %{time_total} %{size_download}' -H "authorization: Bearer $TOKEN" "$@")
    after=$(hwm_kib)
    read -r status secs bytes <<<"$result"
    printf '%-16s input %s B: HTTP %s in %s s, %s B out, peak RSS +%s MiB (VmHWM %s MiB)\n' \
        "$label" "$(stat -c %s "$DIR/in.md")" "$status" "$secs" "$bytes" \
        "$(((after - before) / 1024))" "$((after / 1024))"
    [ "$status" = 200 ] || echo "    $(head -c 300 "$DIR/out")"
}

start
measure "POST render" -H 'content-type: text/markdown' --data-binary @"$DIR/in.md" "$BASE/api/v1/render"
stop

start
DOC=$(curl -sf "$BASE/api/v1/documents" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"title":"bench"}' | jq -r .id)
curl -sf -X PUT "$BASE/api/v1/documents/$DOC/content" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: text/markdown' --data-binary @"$DIR/in.md" >/dev/null
measure "document render" "$BASE/api/v1/documents/$DOC/render"
stop
