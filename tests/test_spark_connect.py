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
from jupyter_client.manager import KernelManager

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def connect_server(processes) -> Iterator[str]:
    """A Spark Connect server (local[2] inside) on 127.0.0.1; killed with its tree by ``processes``."""
    home = Path(pyspark.__file__).parent
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    env.pop("SPARK_REMOTE", None)
    port = _free_port()
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
def kernel(connect_server, tmp_path_factory) -> Iterator[KernelManager]:
    prefix = tmp_path_factory.mktemp("connect-prefix")
    subprocess.run(
        [sys.executable, "-m", "toree_kernel.cli", "install", f"--prefix={prefix}",
         "--interpreters=PySpark,Scala,SQL", f"--remote={connect_server}"],
        check=True, capture_output=True)
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")  # where KernelManager finds the spec
    km = KernelManager(kernel_name="apache_toree_pyspark")
    try:
        km.start_kernel(env={**os.environ, "TOREE_PROGRESS": "off",
                             "TOREE_HISTORY_FILE": str(prefix / "history.sqlite")})
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH")
        else:
            os.environ["JUPYTER_PATH"] = saved
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    km.kc = kc  # type: ignore[attr-defined]
    yield km
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def _run(km, code: str, timeout: float = 180) -> tuple[dict, list[dict]]:
    outputs: list[dict] = []
    reply = km.kc.execute_interactive(code, output_hook=outputs.append, timeout=timeout)
    return reply["content"], outputs


def _value(km, code: str) -> str:
    content, outputs = _run(km, code)
    assert content["status"] == "ok", (content, outputs)
    return next(m for m in outputs if m["msg_type"] == "execute_result")["content"]["data"]["text/plain"]


def _error(km, code: str) -> dict:
    content, _ = _run(km, code)
    assert content["status"] == "error", content
    return content


def test_dataframes_udfs_and_sql_run_on_the_server(kernel) -> None:
    assert "connect" in _value(kernel, "type(spark).__module__")
    assert _value(kernel, "spark.range(10).selectExpr('sum(id * 2)').collect()[0][0]") == "90"
    table = _value(kernel, "spark.range(3).withColumnRenamed('id', 'n')")  # rendered as a table
    assert "n" in table and "2" in table
    udf = "from pyspark.sql.functions import udf\n[r[0] for r in spark.range(3).select(udf(lambda x: x + 1, 'long')('id')).collect()]"
    assert _value(kernel, udf) == "[1, 2, 3]"
    _value(kernel, "spark.range(5).createOrReplaceTempView('nums')\n1")
    assert "10" in _value(kernel, "%%SQL\nSELECT sum(id) AS total FROM nums")


def test_jvm_features_say_they_need_the_classic_session(kernel, tmp_path) -> None:
    jar = tmp_path / "empty.jar"
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    for code in ("%%Scala\n1 + 1", "sc.parallelize([1, 2]).count()", "spark.sparkContext.defaultParallelism",
                 f"%AddJar {jar.as_uri()}"):
        error = _error(kernel, code)
        assert error["ename"] == "SparkConnectUnsupported", (code, error)
        assert "not available with Spark Connect" in error["evalue"] and "sc://127.0.0.1:" in error["evalue"]
    assert _value(kernel, "spark.range(2).count()") == "2"  # the kernel carries on


def test_interrupt_cancels_the_cells_operation(kernel) -> None:
    slow = "from pyspark.sql.functions import udf\nimport time\nspark.range(40).repartition(2).select(udf(lambda x: time.sleep(1) or x, 'long')('id')).collect()"
    threading.Timer(4, kernel.interrupt_kernel).start()
    started = time.monotonic()
    content, _ = _run(kernel, slow, timeout=120)
    assert content["status"] == "error" and content["ename"] == "KeyboardInterrupt", content
    assert time.monotonic() - started < 15
    started = time.monotonic()  # the server's 2 cores are free again: its tasks were cancelled
    assert _value(kernel, "spark.range(3).count()") == "3"
    assert time.monotonic() - started < 10




def test_spark_remote_to_a_server_that_is_not_there_is_reported_at_once(client_env) -> None:
    port = _free_port()  # nothing listens there
    km = KernelManager(kernel_name="apache_toree_pyspark")
    km.start_kernel(env={**client_env, "SPARK_REMOTE": f"sc://127.0.0.1:{port}"})
    km.kc = km.client()  # type: ignore[attr-defined]
    km.kc.start_channels()
    try:
        km.kc.wait_for_ready(timeout=60)
        started = time.monotonic()
        error = _error(km, "spark.range(1).count()")
        assert time.monotonic() - started < 30
        assert error["ename"] == "SparkUnavailable"
        assert f"cannot reach the Spark Connect server at 127.0.0.1:{port}" in error["evalue"]
        assert _value(km, "6 * 7") == "42"
    finally:
        km.kc.stop_channels()
        km.shutdown_kernel(now=True)
