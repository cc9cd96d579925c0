"""The shape the code keeps (issue #15): small modules, no import cycles, one owner of Spark job groups,
programs in other languages kept as resources rather than inside Python strings.

These read the sources; they start nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
SOURCES = sorted(PACKAGES.glob("*/src/*/**/*.py"))
MAX_LINES = 400
MAX_STRING_LINES = 30
JOB_GROUP_CALLS = {"setJobGroup", "clearJobGroup", "cancelJobGroup", "addTag", "removeTag", "cancelJobsWithTag",
                   "interruptTag"}


def module_name(path: Path) -> str:
    """``.../src/toree_x/a/b.py`` → ``toree_x.a.b`` (a package's ``__init__`` is the package)."""
    parts = path.with_suffix("").parts
    parts = parts[len(parts) - parts[::-1].index("src"):]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SOURCES}


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    guarded: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded.update(n for stmt in node.body for n in ast.walk(stmt))
    return guarded


def imports_of(name: str) -> set[str]:
    """The first-party modules ``name`` imports (at any depth of its code, but not for type checking only)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in guarded:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names)
    return {module for module in found if module in MODULES and module != name}


def cycles() -> list[list[str]]:
    graph = {name: imports_of(name) for name in MODULES}
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return found


def test_sources_are_found() -> None:
    assert len(MODULES) > 40, sorted(MODULES)
    assert "toree_interpreters.spark.cell" in MODULES and "toree_protocol" in MODULES


def test_no_module_is_over_the_line_limit() -> None:
    long = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_no_import_cycles() -> None:
    assert not cycles(), cycles()


def test_cycle_finder_sees_a_cycle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Guard the guard: two modules importing each other (one relatively, in a function) are a cycle."""
    pkg = tmp_path / "toree_fake" / "src" / "toree_fake"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from toree_fake.b import x\n")
    (pkg / "b.py").write_text("def f():\n    from .a import y\n")
    monkeypatch.setitem(globals(), "MODULES", {module_name(p): p for p in sorted(pkg.rglob("*.py"))})
    assert cycles() == [["toree_fake.a", "toree_fake.b", "toree_fake.a"]]


def test_only_the_spark_cell_touches_job_groups() -> None:
    owners = sorted(
        name
        for name, path in MODULES.items()
        if any(isinstance(node, ast.Attribute) and node.attr in JOB_GROUP_CALLS for node in ast.walk(ast.parse(path.read_text())))
    )
    assert owners == ["toree_interpreters.spark.cell"]


def test_no_long_string_literals() -> None:
    """Scala programs and the like live in resource files, read at start-up."""
    long = [
        f"{name}:{node.lineno}"
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and node.value.count("\n") + 1 >= MAX_STRING_LINES
    ]
    assert not long, f"string literals of {MAX_STRING_LINES}+ lines: {long}"
