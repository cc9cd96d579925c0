"""Memory over many cells through the real kernel: cells that create and drop DataFrames must not make
the kernel's Python process (history, outputs, py4j proxies, progress trackers) or the JVM grow without
bound. Figures are printed (``-s``): RSS of both processes, the JVM heap in use after a GC, threads.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Iterator

import psutil
import pytest
from kernel_support import Kernel

pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]

CELL = (
    "df = spark.range(1000).selectExpr('id * 2 as x')\n"
    "df.createOrReplaceTempView('t')\n"
    "n = spark.sql('select count(*) from t').collect()[0][0]\n"
    "del df\n"
    "n"
)
WARM_UP = 100
MB = 1024 * 1024
# What the kernel process reports about itself, after a full collection in both runtimes.
PROBE = """
import gc, threading
gc.collect(); spark._jvm.java.lang.System.gc()
_rt = spark._jvm.java.lang.Runtime.getRuntime()
(threading.active_count(), int(_rt.totalMemory() - _rt.freeMemory()))
"""


class MemoryKernel(Kernel):
    def __init__(self, processes, env: dict[str, str]) -> None:
        super().__init__(env=env, processes=processes, timeout=300, ready_timeout=120)
        self.python = psutil.Process(self.pid)  # the kernel's Python process

    def snapshot(self) -> dict[str, float]:
        threads, heap = ast.literal_eval(self.value(PROBE))  # a tuple of two ints, printed by the kernel
        jvm = self.jvm()
        return {
            "python_rss": self.python.memory_info().rss / MB,
            "threads": threads,
            "jvm_rss": jvm.memory_info().rss / MB,
            "jvm_heap": heap / MB,
            "jvm_threads": jvm.num_threads(),
        }


@pytest.fixture
def kernel(processes, client_env) -> Iterator[MemoryKernel]:
    with MemoryKernel(processes, client_env) as k:  # client_env set JUPYTER_PATH, where the spec is found
        yield k


def show(label: str, before: dict[str, float], after: dict[str, float]) -> None:
    print(label)
    for key, unit in (("python_rss", "MB"), ("threads", ""), ("jvm_rss", "MB"), ("jvm_heap", "MB"), ("jvm_threads", "")):
        print(f"  {key:11} {before[key]:8.1f} {unit:2} -> {after[key]:8.1f} {unit:2}  ({after[key] - before[key]:+.1f})")


def run_cells(kernel: MemoryKernel, cells: int) -> tuple[dict[str, float], dict[str, float]]:
    assert kernel.value("spark.range(1).count()") == "1"
    for _ in range(WARM_UP):
        assert kernel.value(CELL) == "1000"
    before = kernel.snapshot()
    started = time.monotonic()
    for _ in range(cells - WARM_UP):
        assert kernel.value(CELL) == "1000"
    took = time.monotonic() - started
    after = kernel.snapshot()
    show(f"\n{cells} cells, after cell {WARM_UP} -> end ({1000 * took / (cells - WARM_UP):.0f} ms a cell):", before, after)
    assert after["python_rss"] - before["python_rss"] < 100, (before, after)
    assert after["threads"] <= before["threads"] + 2, (before, after)  # no thread left per cell (progress, drains)
    # The JVM's live objects after a full GC: Spark's status store keeps the last 1000 jobs/stages/queries
    # (spark.ui.retained*), a bounded few MB; more would be a leak.
    assert after["jvm_heap"] - before["jvm_heap"] < 100, (before, after)
    return before, after


def test_300_cells_of_dataframes_keep_memory_bounded(kernel) -> None:
    before, after = run_cells(kernel, 300)
    # Spark's adaptive execution runs each query's stages on cached pools ("shuffle-exchange",
    # "ResultQueryStageExecution") that start a thread per query until 1024 and keep it 60 s: the JVM's
    # RSS grows with cells per minute, not with cells (the slow test shows them go).
    assert after["jvm_rss"] - before["jvm_rss"] < 512, (before, after)


@pytest.mark.slow
def test_1000_cells_of_dataframes_keep_memory_bounded(kernel) -> None:
    before, after = run_cells(kernel, 1000)
    time.sleep(75)  # Spark's idle pool threads expire after 60 s
    idle = kernel.snapshot()
    show("after 75 s idle (end -> idle):", after, idle)
    assert idle["jvm_threads"] < before["jvm_threads"] + 50, (before, after, idle)
    assert idle["python_rss"] - before["python_rss"] < 100, (before, idle)
