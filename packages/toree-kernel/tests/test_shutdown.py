"""Shutdown within its deadline in the states the other tests do not reach (Spark starting, idle and a
sleeping cell: test_kernel_spark.py; SIGTERM: tests/test_faults.py): a main-shell cell that swallows every
interrupt while a subshell's cell runs and a child process of the kernel lives, and the Scala REPL being
built. The kernel process ends, with its JVM and every child. The ≤ 2 s figures are the benchmarks'
(``shutdown_*``); the bounds here only prove nothing is waited for."""

from __future__ import annotations

import time

import psutil
import pytest
from kernel_support import Kernel, is_jvm
from test_subshells import control, execute_on

pytestmark = pytest.mark.timeout(300)  # not "spark": nothing here differs on Spark 3.5

STUBBORN = (
    "import subprocess, time\n"
    "child = subprocess.Popen(['sleep', '300'])  # stands for an R process of an R room\n"
    "while True:\n"
    "    try:\n"
    "        time.sleep(1)\n"
    "    except KeyboardInterrupt:\n"
    "        pass\n"
)


def shut_down(k: Kernel) -> tuple[float, list[psutil.Process]]:
    """shutdown_request alone (no SIGINT first, unlike jupyter_client's shutdown_kernel): the time until
    the kernel process is gone, and what of its tree is still alive shortly after."""
    tree = k.tree()
    started = time.monotonic()
    k.kc.shutdown()
    k.process.wait(timeout=30)
    elapsed = time.monotonic() - started
    _, alive = psutil.wait_procs(tree, timeout=3)
    return elapsed, alive


def test_a_cell_that_ignores_interrupts_does_not_hold_up_the_shutdown() -> None:
    with Kernel(TOREE_PROGRESS="off") as k:
        assert k.value("spark.range(3).count()") == "3"
        sid = control(k, "create_subshell_request")["subshell_id"]
        execute_on(k, sid, "import time\nwhile True: time.sleep(0.1)")
        execute_on(k, None, STUBBORN)
        deadline = time.monotonic() + 30
        while not any(p.name() == "sleep" for p in k.tree()):
            assert time.monotonic() < deadline, "the cell's child process did not start"
            time.sleep(0.1)
        elapsed, alive = shut_down(k)
        assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"
        assert elapsed < 8, f"the shutdown took {elapsed:.1f} s"


def test_shutdown_while_the_scala_repl_is_built() -> None:
    with Kernel(TOREE_PROGRESS="off") as k:
        assert k.value("spark.range(3).count()") == "3"
        execute_on(k, None, "%%scala\n1 + 1")  # builds the REPL first: ~10 s of compiling
        time.sleep(1.5)
        assert any(is_jvm(p) for p in k.tree())
        elapsed, alive = shut_down(k)
        assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"
        assert elapsed < 8, f"the shutdown took {elapsed:.1f} s"
