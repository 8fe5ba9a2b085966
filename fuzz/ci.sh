#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer on the stable toolchain and runs each from its
# seed corpus and past findings (regressions/<target>/) for SECONDS (default 25) with a
# fixed seed; a crash fails the run and leaves
# its input in fuzz/artifacts/<target>/. Needs only cargo and a C++ compiler: the rustc
# flags are those `cargo fuzz build --sanitizer none` passes, so cargo-fuzz need not be
# installed. RELIABILITY.md has the long runs.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-25}
host=$(rustc -vV | sed -n 's/^host: //p')
flags=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    --cfg fuzzing
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0
    -Cllvm-args=-sanitizer-coverage-stack-depth
    -Cdebug-assertions
    -Ccodegen-units=1
)
RUSTFLAGS="${flags[*]}" CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
    cargo build --release --locked --target "$host" --bins
bin=${CARGO_TARGET_DIR:-target}/$host/release
for target in decode hocuspocus awareness room_apply; do
    corpus=$(mktemp -d)
    log=$(mktemp)
    mkdir -p "artifacts/$target"
    echo "==> fuzzing $target for ${seconds}s"
    status=0
    "$bin/$target" -seed=1 -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" "$corpus" "seeds/$target" \
        $(test -d "regressions/$target" && echo "regressions/$target") >"$log" 2>&1 || status=$?
    grep -E '^#[0-9]+\s+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec)' "$log" || true
    if [ "$status" -ne 0 ]; then
        grep -vE '^#[0-9]+ ' "$log" | tail -n 40 >&2
        echo "fuzz target $target failed (exit $status); its input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    rm -rf "$corpus" "$log"
done
