#!/usr/bin/env python3
"""Fails (exit 1) when the top-level modules of a svalbard crate import each other in a cycle.

Cargo already forbids cycles between the workspace's crates (crates/*); this checks inside each crate (the
app in src/, and crates/*/src). A module is a file or folder directly under a crate's src/ (`config.rs`,
`signal/`). An edge A -> B is any path
`crate::B` (or `crate::{.., B, ..}`) in A's code, comments removed, tests included: a cycle through test code
is still a cycle once the modules become crates. Prints the graph, the cycles (strongly connected components,
each with one path around it) and exits 0 only when there are none.

    python3 scripts/check_module_cycles.py [SRC...]      # default: src and crates/*/src
    python3 scripts/check_module_cycles.py --self-test   # the check finds a planted cycle, and only that
"""
from __future__ import annotations

import glob
import os
import re
import sys

COMMENT = re.compile(r"//[^\n]*")
PATH = re.compile(r"\bcrate::(\{|[A-Za-z_][A-Za-z0-9_]*)")
# What lib.rs re-exports at the root, by the module it comes from.
ROOT_REEXPORTS = {"Error": "error", "Result": "error"}
ROOT_FILES = {"lib.rs", "main.rs"}


def module_files(src: str) -> dict[str, list[str]]:
    mods: dict[str, list[str]] = {}
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if name.endswith(".rs") and name not in ROOT_FILES:
            mods.setdefault(name[:-3], []).append(path)
        elif os.path.isdir(path):
            for d, _, files in os.walk(path):
                mods.setdefault(name, []).extend(os.path.join(d, f) for f in files if f.endswith(".rs"))
    return mods


def imported_names(code: str) -> list[str]:
    """The first segment after each `crate::`: `crate::a::X` names `a`; `crate::{a::{X, Y}, b}` names `a` and `b`
    (braces matched, so a nested group does not end the list)."""
    names = []
    for hit in PATH.finditer(code):
        if hit.group(1) != "{":
            names.append(hit.group(1))
            continue
        depth, item = 1, ""
        for ch in code[hit.end():]:
            depth += (ch == "{") - (ch == "}")
            if depth == 0 or (depth == 1 and ch == ","):
                names.append(item.strip().split("::")[0])
                item = ""
                if depth == 0:
                    break
            elif depth == 1:
                item += ch
    return [n for n in names if n]


def edges(src: str) -> dict[str, set[str]]:
    mods = module_files(src)
    graph = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            with open(f, encoding="utf-8") as fh:
                code = COMMENT.sub("", fh.read())
            names = [ROOT_REEXPORTS.get(n, n) for n in imported_names(code)]
            graph[m].update(n for n in names if n in mods and n != m)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def path_around(graph, comp):
    """One cycle through the component's first module, for the message."""
    start = comp[0]
    members = set(comp)
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                p = [v]
                while prev[p[-1]] is not None:
                    p.append(prev[p[-1]])
                return list(reversed(p)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


def self_test() -> int:
    """A planted cycle through a folder module and a braced import is found; the same tree without it passes;
    comments and `crate::Error` count as they should."""
    import tempfile

    with tempfile.TemporaryDirectory() as src:
        def write(name, code):
            path = os.path.join(src, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(code)

        write("lib.rs", "pub mod a; pub mod b; pub mod c; pub mod error;")
        write("a.rs", "use crate::{b::Thing, error};\n// crate::c in a comment is no edge\n")
        write("b/mod.rs", "pub mod inner;")
        write("b/inner.rs", "fn f() -> crate::Result<()> { crate::c::g() }")
        write("c.rs", "use crate::{error::{self, Error}, a::X};")
        write("error.rs", "")
        graph = edges(src)
        assert graph == {"a": {"b", "error"}, "b": {"c", "error"}, "c": {"a", "error"}, "error": set()}, graph
        assert cycles(graph) == [["a", "b", "c"]], cycles(graph)
        write("c.rs", "")
        assert cycles(edges(src)) == []
    print("self-test passed")
    return 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    roots = sys.argv[1:] or [os.path.join(here, "src")] + sorted(glob.glob(os.path.join(here, "crates", "*", "src")))
    failed = False
    for src in roots:
        graph = edges(src)
        print(f"# {os.path.relpath(src, here)}")
        for m in sorted(graph):
            print(f"{m} -> {', '.join(sorted(graph[m])) or '(nothing)'}")
        for comp in cycles(graph):
            failed = True
            print(f"{src}: cycle among {len(comp)} modules: {' -> '.join(path_around(graph, comp))}", file=sys.stderr)
    if failed:
        return 1
    print("no import cycle between the top-level modules of any crate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
