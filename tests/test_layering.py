"""The package layering (DESIGN.md §1), enforced by reading every module's imports.

- toree_interpreters and toree_magics know nothing of the wire: no toree_protocol, no zmq.
- toree_magics knows Spark only through toree_interpreters: no pyspark, no py4j (Maven resolution, which
  needs the driver JVM, lives next to the session it changes: toree_interpreters.spark).
- toree_protocol knows nothing of Spark, and only its socket modules import zmq.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[1] / "packages"

FORBIDDEN = {
    "toree_interpreters": {"toree_protocol", "zmq", "toree_kernel", "toree_magics"},
    "toree_magics": {"toree_protocol", "zmq", "toree_kernel", "pyspark", "py4j"},
    "toree_protocol": {"pyspark", "py4j", "toree_interpreters", "toree_magics", "toree_kernel"},
}
ZMQ_MODULES = {"sockets.py", "server.py", "shell_channel.py", "client.py", "launcher.py"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            roots.add(node.args[0].value.split(".")[0])  # type: ignore[attr-defined]
    return roots


def _is_dynamic_import(node: ast.Call) -> bool:
    name = getattr(node.func, "attr", getattr(node.func, "id", ""))
    first = node.args[0] if node.args else None
    return (
        name in {"import_module", "__import__"}
        and isinstance(first, ast.Constant)
        and isinstance(first.value, str)
    )


def modules_of(import_name: str) -> list[Path]:
    src = next(PACKAGES.glob(f"*/src/{import_name}"))
    modules = sorted(src.rglob("*.py"))
    assert modules, f"no modules under {src}: the layering checks would pass vacuously"
    return modules


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_forbidden_layers(package: str) -> None:
    offenders = {
        str(path.relative_to(PACKAGES)): sorted(imported_roots(path) & FORBIDDEN[package])
        for path in modules_of(package)
        if imported_roots(path) & FORBIDDEN[package]
    }
    assert not offenders, f"{package} must not import {sorted(FORBIDDEN[package])}: {offenders}"


def test_only_socket_modules_of_protocol_import_zmq() -> None:
    offenders = [
        path.name
        for path in modules_of("toree_protocol")
        if "zmq" in imported_roots(path) and path.name not in ZMQ_MODULES
    ]
    assert not offenders, f"pure protocol modules import zmq: {offenders}"


def test_checker_sees_imports(tmp_path: Path) -> None:
    """Guard the guard: the import reader must notice each import form."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import zmq.asyncio\nfrom toree_protocol.codec import x\nimport importlib\n"
        "importlib.import_module('pyspark.sql')\n"
    )
    assert imported_roots(sample) >= {"zmq", "toree_protocol", "pyspark"}


def test_protocol_distribution_does_not_depend_on_spark() -> None:
    """`pip install toree-protocol` alone must pull neither pyspark nor py4j (other kernels reuse it)."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    names = {Requirement(r).name.lower() for r in requires("toree-protocol") or []}
    assert names, "toree-protocol metadata lists no requirements?"
    assert not names & {"pyspark", "py4j"}, names
    interpreters = {Requirement(r).name.lower() for r in requires("toree-interpreters") or []}
    assert not interpreters & {"pyzmq", "toree-protocol"}, interpreters


def test_magics_distribution_does_not_depend_on_spark_directly() -> None:
    """toree-magics reaches Spark through toree-interpreters only: neither pyspark nor py4j of its own."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    names = {Requirement(r).name.lower() for r in requires("toree-magics") or []}
    assert "toree-interpreters" in names, names
    assert not names & {"pyspark", "py4j"}, names


@pytest.mark.parametrize("package", ["toree_interpreters", "toree_magics"])
def test_libraries_mark_their_type_hints(package: str) -> None:
    """PEP 561: the embeddable libraries carry ``py.typed`` (hatchling puts every file of the package in
    the wheel: checked with ``hatch build -t wheel``)."""
    assert (next(PACKAGES.glob(f"*/src/{package}")) / "py.typed").is_file()
