#!/usr/bin/env python3
"""Fails if modules of the server crate import each other in a cycle.

Each file under src/ is a module (`src/realtime/room/actor.rs` is `room::actor`, a `mod.rs` is its
folder). Every `crate::…`, `super::…` and `self::…` path in a file (in `use` items or inline,
groups `{…}` expanded) is an edge from that file's module to the module the path names:
the longest module that exists, or the child it comes from when that module re-exports
the name (`pub use child::Name`); a parent naming a child by its bare name (`mod auth;`
then `auth::AuthConfig`) counts too. A child using what its ancestors define is not an
edge: a `mod.rs` declares its children, and they lean on it. Modules that reach each
other through these edges (a strongly connected set of two or more) are a cycle.

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


def reexports(src: Path, files: list[Path]) -> dict[tuple[str, ...], dict[str, str]]:
    """For each module, the names it re-exports from a child (`pub use child::{A, B}`)."""
    out: dict[tuple[str, ...], dict[str, str]] = {}
    for f in files:
        here = module_of(src, f)
        text = strip_comments(f.read_text())
        for m in re.finditer(r"pub(?:\([^)]*\))?\s+use\s+(?:self::)?(\w+)::([^;]+);", text):
            child, rest = m.group(1), m.group(2).strip()
            names = expand_group(rest, 0) if rest.startswith("{") else [rest]
            for name in names:
                name = name.split("::")[-1].split(" as ")[-1].strip()
                out.setdefault(here, {})[name] = child
    return out


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    files = sorted(src.rglob("*.rs"))
    modules = {module_of(src, f) for f in files}
    exported = reexports(src, files)
    edges: dict[tuple[str, ...], set[tuple[str, ...]]] = {m: set() for m in modules}
    for f in files:
        here = module_of(src, f)
        for ref in references(strip_comments(f.read_text()), here):
            n = max(n for n in range(len(ref) + 1) if ref[:n] in modules)
            target = ref[:n]
            # A name a module re-exports from a child is the child's.
            while n < len(ref) and ref[n] in exported.get(target, {}) and target + (exported[target][ref[n]],) in modules:
                target = target + (exported[target][ref[n]],)
            # A module leans on its ancestors (the items a `mod.rs` defines or re-exports
            # for its children); only the other way round is a dependency worth a cycle.
            if target != () and here[: len(target)] != target:
                edges[here].add(target)
        # A child named by its bare name (`mod auth;` then `auth::AuthConfig`).
        text = strip_comments(f.read_text())
        for child in {m[len(here)] for m in modules if len(m) == len(here) + 1 and m[: len(here)] == here}:
            if re.search(r"(?<![\w:])" + child + r"::", text):
                edges[here].add(here + (child,))
    graph = {"::".join(m) or "crate": {"::".join(t) or "crate" for t in ts} for m, ts in edges.items()}
    cycles = [sorted(scc) for scc in strongly_connected(graph) if len(scc) > 1]
    for scc in cycles:
        print(f"import cycle: {' <-> '.join(scc)}")
        for a in scc:
            for b in sorted(graph[a] & set(scc)):
                print(f"  {a} -> {b}")
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
