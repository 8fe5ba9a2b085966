#!/usr/bin/env python3
"""Splits a `perf record -g` profile of the server into the stages of an edit's path.

    perf script -i perf.data -F comm,tid,ip,sym,dso | scripts/perf-stages.py

Each sample is charged to one stage: walking its stack from the leaf up, the first frame
some specific rule matches decides (a kernel send under tungstenite's flush is "fan-out
writes", malloc under yrs is "allocation", a futex wait under sqlx's worker is
"wake-ups"); a stack no specific rule matches goes to the first general rule that matches
any frame. Frames are matched by symbol and library name, so it needs symbols (the
release profile keeps line tables) and whole stacks (`--call-graph dwarf`).
"""

import collections
import sys

# (stage, substrings of a frame's symbol or library).
SPECIFIC = [
    ("commit (SQLite, sqlx worker)", ["sqlite3", "libsqlite", "sqlx_sqlite", "sqlx_core"]),
    ("fan-out writes (send syscalls)", ["tcp_sendmsg", "sock_write_iter", "__sys_sendto", "sock_sendmsg", "__x64_sys_write", "ksys_write", "__x64_sys_writev", "do_writev"]),
    ("read (recv syscalls)", ["tcp_recvmsg", "sock_read_iter", "__x64_sys_read", "__x64_sys_recvfrom", "ksys_read"]),
    ("wake-ups, scheduling, epoll, futex", ["futex", "epoll", "ep_poll", "schedule", "finish_task_switch", "eventfd", "try_to_wake_up", "__x64_sys_sched_yield", "mio::", "parking_lot", "tokio::runtime::park", "std::thread::park"]),
    ("metrics and tracing", ["metrics::", "metrics_exporter", "metrics_util", "tracing::", "tracing_core", "tracing_subscriber"]),
    ("apply (yrs integrate)", ["yrs::update", "yrs::block", "yrs::transaction", "yrs::doc", "yrs::store", "yrs::id_set", "yrs::block_store", "tandem::realtime::room::apply"]),
    ("encode/decode (protocol, yrs encoding)", ["tandem_protocol", "yrs::encoding", "yrs::updates", "lib0", "tungstenite::protocol::frame", "tungstenite"]),
    ("allocation", ["malloc", "_int_free", "realloc", "_int_", "cfree", "__libc_calloc"]),
]
GENERAL = [
    ("room actor and channels (tandem, tokio sync)", ["tandem::", "tokio::sync", "futures_util", "flume"]),
    ("tokio runtime and other user space", ["tokio::", "std::", "core::", "axum", "hyper"]),
]


def stage(frames):
    for f in frames:
        for name, needles in SPECIFIC:
            if any(n in f for n in needles):
                return name
    for name, needles in GENERAL:
        for f in frames:
            if any(n in f for n in needles):
                return name
    if any("[kernel" in f for f in frames):
        return "other kernel"
    return "other"


def main():
    counts = collections.Counter()
    threads = collections.Counter()
    by_thread = collections.Counter()
    frames, head = [], None
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line.strip():
            if head is not None:
                st = stage(frames)
                counts[st] += 1
                threads[head] += 1
                by_thread[(head, st)] += 1
            frames, head = [], None
            continue
        if head is None and not line.startswith((" ", "\t")):
            head = line.split()[0] if line.split() else "?"
            continue
        frames.append(line.strip())
    if head is not None:
        st = stage(frames)
        counts[st] += 1
        threads[head] += 1
        by_thread[(head, st)] += 1
    total = sum(counts.values()) or 1
    print(f"{total} samples")
    print("| stage | share of server CPU |")
    print("|---|---|")
    for name, n in counts.most_common():
        print(f"| {name} | {100 * n / total:.1f} % |")
    print()
    print("| thread | share |")
    print("|---|---|")
    for name, n in threads.most_common(8):
        print(f"| {name} | {100 * n / total:.1f} % |")
    print()
    print("| thread | stage | share |")
    print("|---|---|---|")
    for (thread, name), n in by_thread.most_common(16):
        print(f"| {thread} | {name} | {100 * n / total:.1f} % |")


if __name__ == "__main__":
    main()
