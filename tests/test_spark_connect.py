"""The kernel on a Spark Connect server (``jupyter toree install --remote=sc://HOST:PORT``): a server from the pyspark
install on loopback, PySpark DataFrame and %%SQL cells through it, and a clear SparkConnectUnsupported error
for what needs the driver JVM in the kernel (Scala, sc, %AddJar). Interrupts cancel the cell's tagged operations.

Needs pyspark 4.x with the Connect client's dependencies: ``hatch run connect:pytest tests/test_spark_connect.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest
from kernel_support import Kernel, free_port, installed_kernel

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.timeout(420)]

if int(pyspark.__version__.split(".")[0]) < 4:
    pytest.skip(
        f"Spark Connect from the kernel is tested on pyspark 4.x only (this is {pyspark.__version__}, whose "
        "Connect server is a separate package)",
        allow_module_level=True,
    )
try:
    import pyspark.sql.connect.session  # checks grpcio, pandas, pyarrow ...
except ImportError as exc:
    pytest.skip(
        f"the Spark Connect client's dependencies are not installed ({exc}); run "
        "`hatch run connect:pytest tests/test_spark_connect.py`",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def connect_server(processes) -> Iterator[str]:
    """A Spark Connect server (local[2] inside) on 127.0.0.1; killed with its tree by ``processes``."""
    home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    env.pop("SPARK_REMOTE", None)
    port = free_port()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"toree-connect-{port}.log"
    with logs.open("w") as log:
        server = processes.spawn(
            [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
             "--master", "local[2]", "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1", "--conf", "spark.ui.enabled=false",
             "--conf", "spark.sql.shuffle.partitions=4"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and server.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        pytest.fail(f"the Spark Connect server did not come up:\n{logs.read_text()[-3000:]}")
    yield f"sc://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def kernel(connect_server, tmp_path_factory) -> Iterator[Kernel]:
    prefix = tmp_path_factory.mktemp("connect-prefix")
    args = ["--interpreters=PySpark,Scala,SQL", f"--remote={connect_server}"]
    with installed_kernel(prefix, args, {"TOREE_PROGRESS": "off"}) as started:
        yield started


def test_dataframes_udfs_and_sql_run_on_the_server(kernel) -> None:
    assert "connect" in kernel.value("type(spark).__module__")
    assert kernel.value("spark.range(10).selectExpr('sum(id * 2)').collect()[0][0]") == "90"
    table = kernel.value("spark.range(3).withColumnRenamed('id', 'n')")  # rendered as a table
    assert "n" in table and "2" in table
    udf = "from pyspark.sql.functions import udf\n[r[0] for r in spark.range(3).select(udf(lambda x: x + 1, 'long')('id')).collect()]"
    assert kernel.value(udf) == "[1, 2, 3]"
    kernel.value("spark.range(5).createOrReplaceTempView('nums')\n1")
    assert "10" in kernel.value("%%SQL\nSELECT sum(id) AS total FROM nums")


def test_jvm_features_say_they_need_the_classic_session(kernel, tmp_path) -> None:
    jar = tmp_path / "empty.jar"
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    for code in ("%%Scala\n1 + 1", "sc.parallelize([1, 2]).count()", "spark.sparkContext.defaultParallelism",
                 f"%AddJar {jar.as_uri()}"):
        error = kernel.error(code)
        assert error["ename"] == "SparkConnectUnsupported", (code, error)
        assert "not available with Spark Connect" in error["evalue"] and "sc://127.0.0.1:" in error["evalue"]
    assert kernel.value("spark.range(2).count()") == "2"  # the kernel carries on


def test_interrupt_cancels_the_cells_operation(kernel) -> None:
    slow = "from pyspark.sql.functions import udf\nimport time\nspark.range(40).repartition(2).select(udf(lambda x: time.sleep(1) or x, 'long')('id')).collect()"
    threading.Timer(4, kernel.km.interrupt_kernel).start()
    started = time.monotonic()
    content, _ = kernel.run(slow, timeout=120)
    assert content["status"] == "error" and content["ename"] == "KeyboardInterrupt", content
    assert time.monotonic() - started < 15
    started = time.monotonic()  # the server's 2 cores are free again: its tasks were cancelled
    assert kernel.value("spark.range(3).count()") == "3"
    assert time.monotonic() - started < 10




def test_spark_remote_to_a_server_that_is_not_there_is_reported_at_once(tmp_path) -> None:
    port = free_port()  # nothing listens there
    with installed_kernel(tmp_path, [], {"SPARK_REMOTE": f"sc://127.0.0.1:{port}"}) as kernel:
        started = time.monotonic()
        error = kernel.error("spark.range(1).count()")
        assert time.monotonic() - started < 30
        assert error["ename"] == "SparkUnavailable"
        assert f"cannot reach the Spark Connect server at 127.0.0.1:{port}" in error["evalue"]
        assert kernel.value("6 * 7") == "42"
