"""The package's floors (docs/architecture.md): no import runs up a floor, none closes a circle.

Read with ast from the source (every import in a file counts, also those inside functions), so
this runs in well under a second and fails on the first import that points up.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "aebench"

#: floor -> the modules on it (a package name stands for every module in it; the longest name
#: that a module's name starts with decides). The folders are the floors: aebench/core/ (floors
#: 0-4), aebench/running/ (5), the commands at the top (6). A module imports only its own floor
#: and those below; on floor 2 the data sets, the networks and the baselines import nothing of
#: each other.
FLOORS = {
    0: ("core", "core.errors", "core.noise"),
    1: ("core.metrics", "core.degradations"),
    2: ("core.data", "core.models", "core.baselines"),
    3: ("core.module", "core.vae_module"),
    4: ("core.config",),
    5: ("running",),
    6: ("cli", "__main__", "__init__", "api", "restore", "evaluate", "export", "report", "analyze",
        "eda", "dashboard"),
}
FOLDER = {floor: "core" if floor <= 4 else "running" if floor == 5 else "" for floor in FLOORS}
APART = 2  # the floor whose members must not import each other


def modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports (aebench.x.y -> the longest existing module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1] if package else []
                base = ".".join([p for p in up if p] + ([base] if base else []))
            elif base.startswith("aebench"):
                base = base[len("aebench."):] if base != "aebench" else ""
            else:
                continue
            targets = [f"{base}.{a.name}" if base else a.name for a in node.names] + [base]
        else:
            continue
        for t in targets:
            t = t[len("aebench."):] if t.startswith("aebench.") else t
            parts = t.split(".")
            for k in range(len(parts), 0, -1):
                cand = ".".join(parts[:k])
                if cand in known:
                    if cand != name:
                        found.add(cand)
                    break
    return found


def member(name: str) -> str | None:
    """The longest entry of FLOORS that `name` is or lies in."""
    found = [m for ms in FLOORS.values() for m in ms if name == m or name.startswith(m + ".")]
    return max(found, key=len) if found else None


def floor_of(name: str) -> int:
    m = member(name)
    for floor, members in FLOORS.items():
        if m in members:
            return floor
    raise AssertionError(f"aebench.{name} is on no floor: add it to FLOORS (and to "
                         "docs/architecture.md)")


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def folder(name: str) -> str:
    """The folder of aebench/ a module sits in ("" for the top); a package sits in itself."""
    return name.split(".")[0] if "." in name or name in ("core", "running") else ""


def test_every_module_is_on_a_floor_and_in_its_floors_folder(graph):
    missing = sorted(n for n in graph if member(n) is None)
    assert not missing, (f"aebench modules on no floor: {', '.join(missing)}: add them to FLOORS "
                         "(and to docs/architecture.md's table of floors)")
    astray = [f"aebench.{n} (floor {floor_of(n)}: belongs in aebench/{FOLDER[floor_of(n)]})"
              for n in sorted(graph) if folder(n) != FOLDER[floor_of(n)]]
    assert not astray, "modules outside their floor's folder: " + ", ".join(astray)


def test_no_import_runs_up_a_floor(graph):
    up = []
    for name, targets in sorted(graph.items()):
        for t in sorted(targets):
            a, b = floor_of(name), floor_of(t)
            if b > a or (a == b == APART and member(name) != member(t)):
                up.append(f"aebench.{name} (floor {a}) imports aebench.{t} (floor {b})")
    assert not up, "imports that run up (or across floor 2):\n" + "\n".join(up)


def test_no_import_circle(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(f"aebench.{m}" for m in cycle)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(v):
        state[v] = 1
        path.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_the_check_sees_a_circle_and_an_upward_import(tmp_path):
    """The checks fail on what they guard against (a circle, an import up a floor)."""
    assert find_cycle({"report": {"html_report"}, "html_report": {"report"}}) is not None
    assert find_cycle({"report": {"trials"}, "html_report": {"trials"}, "trials": set()}) is None
    probe = tmp_path / "loggers.py"  # as loggers.py was: pointing up at train and cli
    probe.write_text("def f():\n    from aebench.running.train import build\n    from ..cli import fail\n")
    known = {"running.train", "cli", "running.loggers", "running"}
    assert not {"running.train", "cli"} & imports("running.loggers", SRC / "running" / "loggers.py", known)
    assert imports("running.loggers", probe, known) == {"running.train", "cli"}
    assert floor_of("running.train") < floor_of("cli")
    assert floor_of("core.models.unet") < floor_of("running.train") and floor_of("core") == 0
    assert floor_of("core.config") == 4 and member("core.data.cifar10") == "core.data"
