"""Fixtures for the cross-package tests that drive the kernel with real clients.

Every process a test starts goes through ``processes.spawn``: its own session (process group), and a
finalizer that kills it together with every descendant (kernels start in sessions of their own, so
killing one group is not enough), whether the test passed or not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

# kernel_support.py, the kernel test driver this workspace's tests share (importlib import mode).
sys.path.insert(0, str(Path(__file__).parents[1] / "packages" / "toree-kernel" / "tests"))
from kernel_support import TEST_SPARK_OPTS, toree_install


@pytest.fixture(scope="session")
def toree_jupyter_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PySpark, Scala and SQL kernelspecs, installed by the real CLI into a private prefix."""
    prefix = tmp_path_factory.mktemp("toree-prefix")
    return toree_install(prefix, "--interpreters=PySpark,Scala,SQL", f"--spark_opts={TEST_SPARK_OPTS}")


@pytest.fixture
def client_env(toree_jupyter_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for clients and the kernels they start (also set in os.environ for in-process clients)."""
    monkeypatch.setenv("JUPYTER_PATH", str(toree_jupyter_path))
    monkeypatch.setenv("TOREE_HISTORY_FILE", str(tmp_path / "history.sqlite"))
    return dict(os.environ)


class Processes:
    """Start processes in their own sessions; ``kill_all`` ends them and all their descendants."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def spawn(self, argv: list[str], **kw: Any) -> subprocess.Popen:
        proc = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL, **kw)
        self.started.append(proc)
        return proc

    def tree(self, roots: list[subprocess.Popen]) -> list[psutil.Process]:
        found: list[psutil.Process] = []
        for proc in roots:
            with contextlib.suppress(psutil.Error):
                parent = psutil.Process(proc.pid)
                found += [parent, *parent.children(recursive=True)]
        return found

    def kill_all(self, roots: list[subprocess.Popen] | None = None, grace: float = 10) -> None:
        """SIGTERM to every process of the trees (all of ``started`` by default), SIGKILL after ``grace``."""
        roots = self.started if roots is None else roots
        tree = self.tree(roots)  # before anything dies: orphans are re-parented and out of reach
        for proc in roots:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in tree:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _, alive = psutil.wait_procs(tree, timeout=grace)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        for proc in roots:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)


@pytest.fixture(scope="module")
def processes() -> Iterator[Processes]:
    procs = Processes()
    yield procs
    procs.kill_all()


def run_to_end(processes: Processes, argv: list[str], timeout: float, **kw: Any) -> tuple[int, str, str]:
    """Run a command to completion (text output); on timeout its whole tree is killed and the test fails."""
    proc = processes.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        processes.kill_all([proc])
        out, err = proc.communicate()
        pytest.fail(
            f"{argv[:3]} did not finish in {timeout} s\nstdout:\n{out[-3000:]}\nstderr:\n{err[-3000:]}"
        )
    return proc.returncode, out, err


@pytest.fixture
def run(processes: Processes):
    def _run(argv: list[str], timeout: float = 240, **kw: Any) -> tuple[int, str, str]:
        return run_to_end(processes, argv, timeout, **kw)

    return _run


@pytest.fixture
def reap_children() -> Iterator[None]:
    """For in-process clients that start kernels themselves (papermill): kill what they leave behind."""
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    left = [p for p in me.children(recursive=True) if p.pid not in before]
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(left, timeout=5)
