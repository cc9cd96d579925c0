"""The warm pool (``pool.py``), the kernel's side of it (``pooled.py``) and the ``toree-warm-pool``
provisioner, with a stand-in kernel (``fake_pooled_kernel.py``: the real channel code, no Spark), so
they run in seconds. The real kernel in a pool: ``tests/test_warm_pool.py``."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

from toree_kernel import kernelspecs, pool, provisioner

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pooled kernels are POSIX processes"),
]
FAKE = str(Path(__file__).parent / "fake_pooled_kernel.py")


def wait_for(condition: Callable[[], object], timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.05)


def reports(directory: Path, event: str) -> dict[int, dict]:
    return {int(p.stem): json.loads(p.read_text() or "{}") for p in directory.glob(f"*.{event}")}


@pytest.fixture(autouse=True)
def quick_refill(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(pool, "REFILL_DELAY_S", 0.0)
    yield
    pool.close_all()


def test_per_launch_variables_do_not_split_pools() -> None:
    argv = ["python", "-m", "toree_kernel", "-f", pool.CONNECTION_PLACEHOLDER]
    base = {"SPARK_OPTS": "--master local[2]", "PATH": "/bin"}
    one = pool.pool_key(argv, {**base, "JPY_SESSION_NAME": "a.ipynb", "KERNEL_ID": "1", "DEFAULT_INTERPRETER": "Scala"})
    two = pool.pool_key(argv, {**base, "JPY_SESSION_NAME": "b.ipynb", "KERNEL_USERNAME": "x"})
    assert one == two
    assert pool.pool_key(argv, {**base, "SPARK_OPTS": "--master local[4]"}) != one


def test_the_pool_fills_hands_each_kernel_out_once_and_refills(tmp_path: Path) -> None:
    argv = [sys.executable, FAKE, str(tmp_path), pool.CONNECTION_PLACEHOLDER]
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    warm = pool.pool_for(argv, {**os.environ, "POOL_PROBE": "kept"}, str(tmp_path), 2)
    wait_for(lambda: sum(m.ready for m in warm.members) == 2, what="two ready pooled kernels")
    first = warm.take()
    assert first is not None and first.ready
    assert first not in warm.members  # handed out once: never again
    first.adopt("/run/kernel-1.json", str(notebook), {"JPY_SESSION_NAME": "a.ipynb", "KERNEL_PROBE": "yes"})
    wait_for(lambda: first.process.pid in reports(tmp_path, "adopted"), what="the adoption")
    adopted = reports(tmp_path, "adopted")[first.process.pid]
    assert adopted["connection_file"] == "/run/kernel-1.json" and adopted["cwd"] == str(notebook)
    assert adopted["env"]["KERNEL_PROBE"] == "yes" and adopted["env"]["POOL_PROBE"] == "kept"
    assert adopted["env"]["JPY_PARENT_PID"] == str(os.getpid())
    assert "TOREE_POOL" not in adopted["env"]  # not passed on to the kernel's own children
    wait_for(lambda: sum(m.ready for m in warm.members) == 2, what="the refill")
    waiting = [m.process for m in warm.members]

    pool.close_all()  # the server exits: kernels still waiting in the pool stop
    for process in waiting:
        assert process.wait(10) == 0
    assert set(reports(tmp_path, "orphaned")) == {p.pid for p in waiting}
    assert first.alive()  # the adopted kernel is its notebook's, not the pool's
    first.channel.close()  # ... until its provisioner lets go: the kernel hears it and ends
    assert first.process.wait(10) == 0
    assert first.process.pid in reports(tmp_path, "gone")


def test_kernels_that_die_before_they_are_ready_are_replaced_then_the_pool_gives_up(tmp_path: Path) -> None:
    argv = [sys.executable, FAKE, str(tmp_path), pool.CONNECTION_PLACEHOLDER]
    warm = pool.pool_for(argv, {**os.environ, "FAKE_FAIL": "1"}, str(tmp_path), 1)
    wait_for(lambda: warm.failures >= pool.MAX_FAILURES, what="failed starts")
    time.sleep(1)
    assert warm.failures == pool.MAX_FAILURES and not warm.members  # no endless restarts
    assert warm.take() is None


def write_spec(root: Path, reports_dir: Path, size: int) -> KernelSpecManager:
    spec = kernelspecs.build_kernel_json("PySpark", warm_pool=size)
    assert spec["metadata"]["kernel_provisioner"] == {
        "provisioner_name": "toree-warm-pool",
        "config": {"pool_size": size},
    }
    spec["argv"] = [sys.executable, FAKE, str(reports_dir), "{connection_file}"]
    directory = root / "kernels" / "pooled"
    directory.mkdir(parents=True)
    (directory / "kernel.json").write_text(json.dumps(spec))
    return KernelSpecManager(kernel_dirs=[str(root / "kernels")])


def test_the_provisioner_adopts_a_pooled_kernel_and_starts_cold_when_the_pool_is_empty(tmp_path: Path) -> None:
    specs = write_spec(tmp_path, tmp_path, 1)
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    warm = provisioner.fill_pool("pooled", kernel_spec_manager=specs, cwd=str(tmp_path))
    assert warm is not None
    wait_for(lambda: any(m.ready for m in warm.members), what="a ready pooled kernel")
    pooled_pid = warm.members[0].process.pid
    pool.REFILL_DELAY_S = 60.0  # type: ignore[misc]  # the pool stays empty for the second kernel
    managers = [KernelManager(kernel_name="pooled", kernel_spec_manager=specs) for _ in range(2)]
    try:
        env = {**os.environ, "JPY_SESSION_NAME": "nb.ipynb", "KERNEL_PROBE": "one"}
        managers[0].start_kernel(env=env, cwd=str(notebook))
        adopted_process = managers[0].provisioner.process  # type: ignore[union-attr]
        assert adopted_process.pid == pooled_pid
        wait_for(lambda: pooled_pid in reports(tmp_path, "adopted"), what="the adoption")
        adopted = reports(tmp_path, "adopted")[pooled_pid]
        assert adopted["connection_file"] == managers[0].connection_file
        assert adopted["cwd"] == str(notebook) and adopted["env"]["KERNEL_PROBE"] == "one"
        assert adopted["env"]["JPY_SESSION_NAME"] == "nb.ipynb"

        managers[1].start_kernel(env={**env, "KERNEL_PROBE": "two"}, cwd=str(notebook))
        cold_pid = managers[1].provisioner.process.pid  # type: ignore[union-attr]
        assert cold_pid != pooled_pid
        wait_for(lambda: cold_pid in reports(tmp_path, "cold"), what="the cold start")
        assert reports(tmp_path, "cold")[cold_pid]["argv"][-1] == managers[1].connection_file
    finally:
        for manager in managers:
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
    assert adopted_process.poll() is not None
