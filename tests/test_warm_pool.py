"""The warm pool with the real kernel: started by plain jupyter_client in a stand-in server
(``pool_server.py``), a notebook adopts a warmed kernel (its session up, its directory, variables and
language applied); under the Kernel Gateway (Jupyter Server's kernel manager) with a prespawned kernel,
the next notebook gets a warmed kernel that shares nothing with the prespawned one. Killing either server
with SIGKILL leaves no kernel and no JVM behind. Timing is the benchmarks' business (``benchmarks/README.md``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from jupyter_client.blocking import BlockingKernelClient
from kernel_support import TEST_SPARK_OPTS, free_port, gateway_command, is_jvm, toree_install

pytestmark = pytest.mark.timeout(600)  # not "spark": nothing here differs on Spark 3.5


def client(connection_file: str) -> BlockingKernelClient:
    kc = BlockingKernelClient(connection_file=connection_file)
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return kc


def value(kc: BlockingKernelClient, code: str, timeout: float = 120) -> str:
    outputs: list[dict] = []
    reply = kc.execute_interactive(code, output_hook=outputs.append, timeout=timeout)
    assert reply["content"]["status"] == "ok", (code, reply["content"])
    return [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"][-1]


def test_a_pooled_kernel_is_adopted_once_and_nothing_outlives_a_killed_server(processes, tmp_path: Path) -> None:
    jupyter_path = toree_install(
        tmp_path / "prefix",
        "--interpreters=PySpark,Scala",
        f"--spark_opts={TEST_SPARK_OPTS}",
        "--warm-pool=1",
        "--no-class-sharing",  # kernels use the archive if the session's install built one
    )
    notebook = tmp_path / "notebooks"
    notebook.mkdir()
    (notebook / "data.txt").write_text("a\nb\nc\n")
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "JUPYTER_PATH": str(jupyter_path),
        "TOREE_HISTORY_FILE": str(tmp_path / "history.sqlite"),
        "TOREE_PROGRESS": "off",
    }
    server = processes.spawn(
        [sys.executable, str(Path(__file__).parent / "pool_server.py"), str(report), str(notebook)],
        env=env,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 540
    while not report.exists():
        assert server.poll() is None, "the stand-in server died"
        assert time.monotonic() < deadline, "the stand-in server reported nothing"
        time.sleep(0.5)
    found = json.loads(report.read_text())
    print(f"a pooled kernel was ready {found['ready_after']:.1f} s after the pool was made")
    adopted = found["adopted"]
    assert adopted["pid"] == found["pooled"]  # the warmed kernel went to the notebook

    kc = client(adopted["connection_file"])
    try:
        assert kc.kernel_info(reply=True, timeout=30)["content"]["language_info"]["name"] == "scala"
        assert value(kc, "%%pyspark\nkernel.spark_ready_at is not None") == "True"  # warm before it was asked
        assert value(kc, "spark.range(10).count()") == "10"
        assert value(kc, "%%pyspark\nimport os\nos.getcwd()") == repr(str(notebook))
        assert value(kc, "%%pyspark\nos.environ['KERNEL_PROBE']") == "'one'"
        assert value(kc, "%%pyspark\nspark.read.text('data.txt').count()") == "3"  # relative to the notebook
        assert value(kc, "spark.read.textFile(\"data.txt\").count()") == "3"  # in the JVM too
        assert value(kc, "%%pyspark\nIn[1]") == repr("kernel.spark_ready_at is not None")  # no warm-up cell
    finally:
        kc.stop_channels()

    tree = processes.tree([server])
    assert any(is_jvm(p) for p in tree)
    os.kill(server.pid, signal.SIGKILL)  # no atexit, no shutdown: the kernels must notice by themselves
    _, alive = psutil.wait_procs([p for p in tree if p.pid != server.pid], timeout=20)
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"


@pytest.mark.slow
def test_the_kernel_gateway_with_prespawned_kernels_hands_out_pooled_ones(processes, tmp_path: Path) -> None:
    """Jupyter Server's kernel manager (the gateway's): the gateway's prespawned kernel makes the pool, the
    next kernel asked for is a warmed one, with Spark up before it was asked for; SIGKILL the gateway and
    nothing of it lives on."""
    sys.path.insert(0, str(Path(__file__).parent))
    from test_kernel_gateway import Gateway

    jupyter_path = toree_install(
        tmp_path / "prefix", f"--spark_opts={TEST_SPARK_OPTS}", "--warm-pool=1", "--no-class-sharing"
    )
    port = free_port()
    log_path = tmp_path / "gateway.log"
    with open(log_path, "wb") as log:
        gateway_process = processes.spawn(
            gateway_command(
                port,
                "--KernelGatewayApp.prespawn_count=1",
                "--KernelGatewayApp.default_kernel_name=apache_toree_pyspark",
                "--JupyterWebsocketPersonality.list_kernels=True",
                "--MappingKernelManager.kernel_info_timeout=300",
            ),
            env={
                **os.environ,
                "JUPYTER_PATH": str(jupyter_path),
                "TOREE_HISTORY_FILE": str(tmp_path / "history.sqlite"),
                "TOREE_LOG_LEVEL": "INFO",  # the pooled kernel says when it is warm
                "TOREE_PROGRESS": "off",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    gateway = Gateway(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 540
    while b"ready for a notebook" not in log_path.read_bytes():
        assert gateway_process.poll() is None, log_path.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, "no pooled kernel got warm"
        time.sleep(0.5)
    prespawned = {k["id"] for k in gateway.rest("GET", "/api/kernels") or []}
    assert len(prespawned) == 1

    asked = time.time()
    kernel_id = gateway.start("apache_toree_pyspark")
    channels = gateway.channels(kernel_id)
    try:
        assert float(channels.value("kernel.spark_ready_at")) < asked  # warm before it was asked for
        assert channels.value("spark.range(10).count()") == "10"
        assert channels.value("%%scala\nspark.range(5).count()") == "5"
        # Declared at adoption (the REPL was built before the kernel knew of the Gateway): notebook-http assigns it.
        assert channels.value('%%scala\nREQUEST = "{}"\nREQUEST.length') == "2"
        assert channels.value("spark.range(3).createOrReplaceTempView('only_here')\n'ok'") == "'ok'"
    finally:
        channels.close()
    channels = gateway.channels(prespawned.pop())  # another notebook's kernel: a session of its own
    try:
        assert channels.value("spark.catalog.tableExists('only_here')") == "False"
    finally:
        channels.close()

    tree = processes.tree([gateway_process])
    assert sum(is_jvm(p) for p in tree) >= 2  # the prespawned kernel's and the adopted one's at least
    os.kill(gateway_process.pid, signal.SIGKILL)
    _, alive = psutil.wait_procs([p for p in tree if p.pid != gateway_process.pid], timeout=20)
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"
