#!/usr/bin/env python3
"""Fails if modules of the server crate import each other in a cycle.

Each file under src/ is a module (`src/room/actor.rs` is `room::actor`, a `mod.rs` is its
folder). Every `crate::…`, `super::…` and `self::…` path in a file (in `use` items or inline,
groups `{…}` expanded) is an edge from that file's module to the module the path names,
cut at the longest module that exists. Edges are then grouped at each level: two siblings
(children of one parent, e.g. `room::actor` and `room::presence`, or the top-level `api` and
`app`) are in a cycle if each reaches the other through imports between their subtrees.
A parent's `mod.rs` re-exporting its children is not a cycle with them (the edge from a
module to its own descendants is ignored).

Usage: scripts/import_cycles.py [src dir]   (exit 1 and the cycles printed if any)
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super|self)((?:::\w+)*)(::\{)?")


def module_of(src: Path, file: Path) -> tuple[str, ...]:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return tuple(parts)


def strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def expand_group(text: str, start: int) -> list[str]:
    """The paths inside the `{…}` that opens at `start` (nested groups expanded)."""
    depth, i = 0, start
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                break
        i += 1
    inner = text[start + 1 : i]
    items, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    items.append(cur)
    paths = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        if "{" in item:
            head = item[: item.index("{")].rstrip(":").strip()
            for sub in expand_group(item, item.index("{")):
                paths.append(f"{head}::{sub}" if head else sub)
        else:
            paths.append(item.split(" as ")[0].strip())
    return paths


def references(text: str, here: tuple[str, ...]) -> list[tuple[str, ...]]:
    refs = []
    for m in PATH.finditer(text):
        root, rest, group = m.group(1), m.group(2), m.group(3)
        tails = [rest]
        if group:
            tails = [rest + "::" + p for p in expand_group(text, m.end() - 1)]
        for tail in tails:
            segs = [s for s in tail.split("::") if s and s != "self"]
            if root == "crate":
                base: list[str] = []
            elif root == "self":
                base = list(here)
            else:
                base = list(here[:-1])
                while segs and segs[0] == "super":
                    segs.pop(0)
                    base = base[:-1]
            refs.append(tuple(base + [s for s in segs if s != "super"]))
    return refs


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    files = sorted(src.rglob("*.rs"))
    modules = {module_of(src, f) for f in files}
    edges: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    for f in files:
        here = module_of(src, f)
        for ref in references(strip_comments(f.read_text()), here):
            target = max((ref[:n] for n in range(len(ref) + 1) if ref[:n] in modules), key=len)
            if target != here and target[: len(here)] != here and here[: len(target)] != target:
                edges.add((here, target))
    cycles = []
    parents = {m[:-1] for m in modules if m}
    for parent in sorted(parents):
        children = sorted({m[len(parent)] for m in modules if len(m) > len(parent) and m[: len(parent)] == parent})
        graph = {c: set() for c in children}
        for a, b in edges:
            if a[: len(parent)] == parent and b[: len(parent)] == parent and len(a) > len(parent) and len(b) > len(parent):
                ca, cb = a[len(parent)], b[len(parent)]
                if ca != cb:
                    graph[ca].add(cb)
        for scc in strongly_connected(graph):
            if len(scc) > 1:
                cycles.append(("::".join(parent) or "crate", sorted(scc), graph))
    for parent, scc, graph in cycles:
        print(f"import cycle in {parent}: {' <-> '.join(scc)}")
        for a in scc:
            for b in sorted(graph[a] & set(scc)):
                why = sorted(
                    "::".join(x) + " -> " + "::".join(y)
                    for x, y in edges
                    if x[len(parent.split("::")) if parent != "crate" else 0 :][:1] == (a,)
                    and y[len(parent.split("::")) if parent != "crate" else 0 :][:1] == (b,)
                    and (parent == "crate" or x[: len(parent.split("::"))] == tuple(parent.split("::")))
                )
                print(f"  {a} -> {b}: {', '.join(why[:4])}")
    return 1 if cycles else 0


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            out.append(scc)

    for v in graph:
        if v not in index:
            visit(v)
    return out


if __name__ == "__main__":
    sys.exit(main())
