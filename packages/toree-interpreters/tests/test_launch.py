"""Killing a Spark launch in progress (spark/launch.py) on stand-in processes: no Spark, no JVM."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from toree_interpreters.spark import launch

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc"),
]


def fake_spark_submit(tmp_path: Path) -> Path:
    """A ``bin/spark-submit`` that starts a child (as Spark's launcher JVM) and waits, as a slow launch."""
    script = tmp_path / "spark" / "bin" / "spark-submit"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\nsleep 300 &\nwait\n")
    script.chmod(0o755)
    return script


def wait_for_children(proc: subprocess.Popen[bytes], count: int) -> list[psutil.Process]:
    deadline = time.monotonic() + 10
    while True:
        children = psutil.Process(proc.pid).children(recursive=True)
        if len(children) >= count or time.monotonic() > deadline:
            return children
        time.sleep(0.05)


def test_kill_launch_kills_the_launch_and_its_descendants_only(tmp_path: Path) -> None:
    launching = subprocess.Popen([str(fake_spark_submit(tmp_path)), "pyspark-shell"])
    bystander = subprocess.Popen(["sleep", "300"])  # another child of this process: not Spark's
    try:
        grandchild = wait_for_children(launching, 1)
        assert grandchild, "the stand-in launch started no child"
        assert launch.launch_processes() == [launching.pid, *(p.pid for p in grandchild)]
        assert launch.kill_launch() == 1 + len(grandchild)
        assert launching.wait(5) == -9
        _, alive = psutil.wait_procs(grandchild, timeout=5)
        assert not alive, "the launch's child survived"
        assert bystander.poll() is None, "a process that is not a Spark launch was killed"
        assert launch.launch_processes() == []
        assert launch.kill_launch() == 0
    finally:
        for proc in (launching, bystander):
            proc.kill()
            proc.wait()


def test_a_driver_jvm_after_the_exec_is_found_by_its_main_class(tmp_path: Path) -> None:
    """spark-submit replaces itself with ``java ... org.apache.spark.deploy.SparkSubmit``: same process."""
    driver = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(300)", "org.apache.spark.deploy.SparkSubmit", "pyspark-shell"]
    )
    try:
        assert launch.launch_processes() == [driver.pid]
        assert launch.launch_processes(parent=os.getppid()) == []  # only this process's own launches
        launch.kill_launch()
        assert driver.wait(5) == -9
    finally:
        driver.kill()
        driver.wait()
