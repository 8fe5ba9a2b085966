#!/usr/bin/env python3
"""The table the benchmark scripts print: for each row, the median of the runs' JSON
reports (`<out>/<scenario>-<server>-<run>.json`, as tandem-loadtest --json writes them) for
each server that has any, each run's value in brackets, and every server's ratio to the
last one listed (the reference the others are compared against).

    bench-table.py OUT RUNS SERVERS ROWS
      SERVERS  comma-separated, e.g. tandem,baseline,ref (a server with no reports is left out)
      ROWS     one per line: scenario|label|report key
"""
import json
import pathlib
import statistics
import sys

out, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])
names = {"tandem": "Tandem", "baseline": "baseline", "ref": "y-websocket ref", "two": "two nodes", "one": "one node"}
servers = [s for s in sys.argv[3].split(",") if s and any(out.glob(f"*-{s}-*.json"))]
rows = [line.split("|") for line in sys.argv[4].strip().splitlines() if line.strip()]


def med(scenario, server, key):
    vals = []
    for run in range(1, runs + 1):
        p = out / f"{scenario}-{server}-{run}.json"
        if p.exists():
            v = json.loads(p.read_text()).get(key)
            if isinstance(v, (int, float)):
                vals.append(v)
    return (statistics.median(vals), vals) if vals else (None, [])


def fmt(m, vs):
    return "—" if m is None else f"{m:g} ({', '.join(f'{v:g}' for v in vs)})"


def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "—"


last = servers[-1] if servers else None
others = servers[:-1]
print(f"\nmedians of {runs} run(s) each; reports in {out}\n")
head = ["scenario", "metric"] + [names.get(s, s) for s in servers]
head += [f"{names.get(s, s)} / {names.get(last, last)}" for s in others]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for scenario, label, key in rows:
    vals = {s: med(scenario, s, key) for s in servers}
    if all(m is None for m, _ in vals.values()):
        continue
    cells = [scenario, label] + [fmt(*vals[s]) for s in servers]
    cells += [ratio(vals[s][0], vals[last][0]) for s in others]
    print("| " + " | ".join(cells) + " |")
