#!/usr/bin/env python3
"""Tests for check_layers.py on small trees built here: a clean tree passes; a forbidden
include, a missing header, a file outside every folder, a file cycle and a rule cycle fail."""
import pathlib
import subprocess
import sys
import tempfile

SCRIPT = pathlib.Path(__file__).with_name("check_layers.py")
DOC = """# Architecture
## Layers
| folder | role | may include |
|---|---|---|
| `low/` | bottom | `low/` |
| `high/` | top | `high/`, `low/` |
## Next
| `high/` | not a rule: outside the Layers section | `anything/` |
"""


def run(files, doc=DOC):
    with tempfile.TemporaryDirectory() as d:
        root = pathlib.Path(d)
        (root / "docs").mkdir()
        (root / "docs" / "architecture.md").write_text(doc)
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        p = subprocess.run([sys.executable, str(SCRIPT), d], capture_output=True, text=True)
        return p.returncode, p.stdout


def expect(name, files, code, needle, doc=DOC):
    rc, out = run(files, doc)
    ok = rc == code and needle in out
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": rc={rc} out={out!r}"))
    return ok


CLEAN = {"low/a.h": "#pragma once\n", "high/b.cc": '#include "high/b.h"\n#include "low/a.h"\n',
         "high/b.h": "#pragma once\n", "tests/t.cc": '#include "high/b.h"\n'}
results = [
    expect("clean tree passes", CLEAN, 0, "follow the rules"),
    expect("upward include fails", {**CLEAN, "low/c.cc": '#include "high/b.h"\n'}, 1,
           "low/c.cc:1: includes high/b.h (high/); low/ may include low/"),
    expect("missing header fails", {**CLEAN, "high/d.cc": '#include "low/none.h"\n'}, 1,
           "does not exist"),
    expect("file outside the table fails", {**CLEAN, "other/e.cc": ""}, 1, "in no folder"),
    expect("file cycle fails", {**CLEAN, "low/x.h": '#include "low/y.h"\n',
                                "low/y.h": '#include "low/x.h"\n'}, 1, "include cycle"),
    expect("rule cycle fails", CLEAN, 1, "rules form a cycle",
           DOC.replace("| bottom | `low/` |", "| bottom | `low/`, `high/` |")),
]
sys.exit(0 if all(results) else 1)
