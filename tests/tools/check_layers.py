#!/usr/bin/env python3
"""Checks that every #include "..." in the product sources follows the layer rules.

The rules are written once, in docs/architecture.md, section "Layers": a Markdown table whose
first column is a folder in backticks and whose last column lists, in backticks, the folders
that files of that folder may include. A file belongs to the longest folder of the table that
is a prefix of its path; so does an included header. The script fails (exit 1) and names the
file, the line and the rule when:
  - a product file (not under tests/ or bench/) includes a header of a folder its rule does not
    list, or a header that does not exist;
  - a product file lies in no folder of the table;
  - the rules themselves form a cycle between folders, or the includes form a cycle between
    files.
Usage: tests/tools/check_layers.py [REPO_ROOT]   (default: the checkout this script is in)
"""
import pathlib
import re
import sys

EXTENSIONS = {".h", ".cc"}
EXEMPT = ("tests/", "bench/", "build", ".deps/")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
RULE_ROW = re.compile(r"^\|\s*`([^`]+/)`\s*\|.*\|([^|]*)\|\s*$")


def read_rules(doc):
    """{folder: set of folders it may include}, from the Layers table of the architecture doc."""
    rules = {}
    in_layers = False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_layers = line.strip() == "## Layers"
            continue
        m = RULE_ROW.match(line) if in_layers else None
        if m:
            rules[m.group(1)] = set(re.findall(r"`([^`]+/)`", m.group(2)))
    return rules


def folder_of(path, rules):
    best = None
    for folder in rules:
        if path.startswith(folder) and (best is None or len(folder) > len(best)):
            best = folder
    return best


def find_cycle(graph):
    """A list of nodes forming a cycle in {node: iterable of nodes}, or None."""
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])
    doc = root / "docs" / "architecture.md"
    rules = read_rules(doc)
    if not rules:
        print(f"check_layers: no rules found in {doc} (section '## Layers')")
        return 1
    errors = []
    folder_graph = {f: {g for g in allowed if g != f} for f, allowed in rules.items()}
    cycle = find_cycle(folder_graph)
    if cycle:
        errors.append("the layer rules form a cycle: " + " -> ".join(cycle))
    file_graph = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.suffix not in EXTENSIONS or rel.startswith(EXEMPT) or "/." in "/" + rel:
            continue
        folder = folder_of(rel, rules)
        if folder is None:
            errors.append(f"{rel}: in no folder of the layer table ({doc.name}, '## Layers')")
            continue
        edges = file_graph.setdefault(rel, set())
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(1)
            if not (root / target).is_file():
                errors.append(f"{rel}:{number}: includes {target}, which does not exist")
                continue
            edges.add(target)
            target_folder = folder_of(target, rules)
            if target_folder not in rules[folder] and target_folder != folder:
                allowed = ", ".join(sorted(rules[folder] | {folder}))
                errors.append(f"{rel}:{number}: includes {target} ({target_folder}); "
                              f"{folder} may include {allowed}")
    cycle = find_cycle(file_graph)
    if cycle:
        errors.append("include cycle: " + " -> ".join(cycle))
    for e in errors:
        print("check_layers: " + e)
    if not errors:
        print(f"check_layers: {len(file_graph)} files follow the rules of {len(rules)} folders")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
