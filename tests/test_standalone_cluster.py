"""A real standalone Spark cluster on loopback (a master and one worker from the pyspark install): the kernel's
Python UDFs and Scala closures run in the worker's executor, and %AddJar reaches it."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_support import Kernel, free_port, installed_kernel

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def cluster(processes) -> Iterator[str]:
    import pyspark

    home = Path(pyspark.__file__).parent
    # No PYSPARK_PYTHON for the worker: the kernel's session manager picks the Python its executors run.
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("PYSPARK_PYTHON", None)
    port, ui, worker_ui = free_port(), free_port(), free_port()
    spark_class = str(home / "bin" / "spark-class")
    master = f"spark://127.0.0.1:{port}"
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"toree-cluster-{port}.log"
    with logs.open("w") as log:
        processes.spawn(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(ui)], env=env, stdout=log, stderr=subprocess.STDOUT)
        processes.spawn(
            [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "2",
             "--memory", "2g", "--webui-port", str(worker_ui), master], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the master's JSON status lists the worker once it registered
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as response:
                if b'"state" : "ALIVE"' in response.read().split(b'"workers"')[-1]:
                    break
        except OSError:
            pass
        time.sleep(0.5)
    else:
        pytest.fail(f"the standalone cluster did not come up:\n{logs.read_text()[-3000:]}")
    yield master


@pytest.fixture(scope="module")
def kernel(cluster, tmp_path_factory) -> Iterator[Kernel]:
    prefix = tmp_path_factory.mktemp("cluster-prefix")
    opts = f"--master {cluster} --conf spark.ui.enabled=false --executor-memory 512m --conf spark.driver.host=127.0.0.1"
    with installed_kernel(prefix, ["--interpreters=PySpark", f"--spark_opts={opts}"], {"TOREE_PROGRESS": "off"}) as started:
        yield started


def test_python_udfs_and_scala_closures_run_on_the_worker(kernel) -> None:
    assert kernel.value("sc.master").startswith("'spark://127.0.0.1:")
    pids = kernel.value("import os\nsorted(set(sc.parallelize(range(8), 4).map(lambda _: os.getpid()).collect()))")
    assert str(os.getpid()) not in pids and str(kernel.pid) not in pids
    python = "import sys\nsc.parallelize([0], 1).map(lambda _: sys.executable).collect()[0] == sys.executable"
    assert kernel.value(python) == "True"  # executors run the kernel's Python (PYSPARK_PYTHON from the kernel)
    executors = kernel.value("%%Scala\nsc.parallelize(1 to 8, 4).map(_ => org.apache.spark.SparkEnv.get.executorId).collect().toSet.mkString(\",\")")
    assert executors and "driver" not in executors


def test_add_jar_reaches_the_executor(kernel, tmp_path) -> None:
    src = tmp_path / "demo" / "Twice.java"
    src.parent.mkdir()
    src.write_text("package demo; public class Twice { public static int twice(int x) { return 2 * x; } }")
    subprocess.run(["javac", "-d", str(tmp_path / "classes"), str(src)], check=True)
    jar = tmp_path / "twice.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(tmp_path / "classes"), "."], check=True)
    kernel.value(f"%AddJar {jar.as_uri()}\n1")
    code = "%%Scala\nsc.parallelize(1 to 4, 2).map(x => (demo.Twice.twice(x), org.apache.spark.SparkEnv.get.executorId)).collect().toList"
    result = kernel.value(code)
    assert "(2," in result and "(8," in result and "driver" not in result
