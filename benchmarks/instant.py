"""Instant kernels (issue #20), measured for ``run.py``: the first Spark result of a kernel adopted from a
warm pool and the memory of a pooled kernel waiting for a notebook, and the shutdown in each state.

Our kernels only (ours, ours-scala); the first result is compared with ipykernel's cold one of the same run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from jupyter_client.manager import KernelManager

POOLED = ("ours", "ours-scala")
# A cell that keeps the kernel busy, in the kernel's own language
SLEEP = {"ours": "import time\ntime.sleep(60)", "ours-scala": "Thread.sleep(60000)"}
SPARK_UP = "%%pyspark\nspark.range(1).count()"  # the session up, in either kernel
REPL_BUILD = "%%scala\n1 + 1"  # a kernel's first Scala cell builds the REPL (~10 s of compiling)


def pooled_spec(name: str, base: dict[str, Any]) -> dict[str, Any]:
    """The kernelspec of ``name`` with a warm pool of one (what ``toree install --warm-pool=1`` adds)."""
    return {
        **base,
        "metadata": {"kernel_provisioner": {"provisioner_name": "toree-warm-pool", "config": {"pool_size": 1}}},
    }


def tree_memory(pid: int) -> tuple[float, float]:
    """RSS and PSS (MiB) of a process and its descendants (the kernel and its JVM)."""
    root = psutil.Process(pid)
    rss = pss = 0
    for proc in [root, *root.children(recursive=True)]:
        info = proc.memory_full_info()
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 2**20, pss / 2**20


def measure_pooled(name: str, env: dict[str, str], log: Path, first: str) -> dict[str, Any]:
    """A pool of one for ``bench_<name>-pooled``; once its kernel is warm: its memory, then launch (as a
    notebook would) → first Spark result, which is what ``first_spark_result`` measures cold."""
    # imported here: `--skip pooled` measures kernels that have no pool (an older checkout's)
    from toree_kernel import pool, provisioner

    spec = f"bench_{name}-pooled"
    refill_delay = pool.REFILL_DELAY_S
    with log.open("ab") as output:
        started = time.perf_counter()
        warm = provisioner.fill_pool(spec, env=env, output=output)
        assert warm is not None, f"{spec} has no pool"
        try:
            while not any(m.ready for m in warm.members):
                assert time.perf_counter() - started < 600, "no pooled kernel got warm"
                time.sleep(0.2)
            warmed = time.perf_counter() - started
            rss, pss = tree_memory(warm.members[0].process.pid)
            pool.REFILL_DELAY_S = 3600.0  # no refill competing with the measurement
            km = KernelManager(kernel_name=spec)
            t0 = time.perf_counter()
            km.start_kernel(env=env)
            kc = km.client()
            kc.start_channels(hb=False)
            try:
                kc.wait_for_ready(timeout=120)
                info = time.perf_counter() - t0
                reply = kc.execute_interactive(first, timeout=300, store_history=False)
                result = time.perf_counter() - t0
                assert reply["content"]["status"] == "ok", reply["content"]
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
        finally:
            pool.close_all()
            pool.REFILL_DELAY_S = refill_delay
    return {
        "pool_warm_up": warmed,
        "kernel_info_pooled": info,
        "first_spark_result_pooled": result,
        "pooled_idle_rss_mib": round(rss),
        "pooled_idle_pss_mib": round(pss),
    }


def measure_shutdown_states(
    name: str, start: Callable[[], Any], shutdown: Callable[[Any], dict[str, Any]]
) -> dict[str, Any]:
    """``shutdown_kernel(now=False)`` → process gone, in a fresh kernel per state: idle (Spark up, nothing
    run since), busy (a sleeping cell in the kernel's language) and while the Scala REPL is built. (The
    ``shutdown`` figure is after an interrupt, ``shutdown_starting`` while Spark starts.)"""
    figures: dict[str, Any] = {}
    for state, prepare in (
        ("idle", lambda b: None),
        ("busy", lambda b: (b.kc.execute(SLEEP[name]), time.sleep(1.0))),
        ("repl_starting", lambda b: (b.kc.execute(REPL_BUILD), time.sleep(1.5))),
    ):
        bench = start()
        try:
            bench.kc.wait_for_ready(timeout=120)
            reply = bench.kc.execute_interactive(SPARK_UP, timeout=300, store_history=False)
            assert reply["content"]["status"] == "ok", reply["content"]
            prepare(bench)
            found = shutdown(bench)
        finally:
            bench.close()
        figures[f"shutdown_{state}"] = found["shutdown"]
        figures[f"shutdown_{state}_orphans"] = found["shutdown_orphans"]
    return figures


def environment(base: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **base}
