"""The real Jupyter Kernel Gateway on loopback serving our kernels: REST + websocket, from Python and JavaScript."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import websocket
from kernel_support import free_port, gateway_command

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.timeout(300)]

JS_CLIENT = Path(__file__).parent / "js" / "gateway_client.mjs"
LONG_SPARK_JOB = (
    "from pyspark.sql import functions as F\n"
    "slow = F.udf(lambda x: __import__('time').sleep(0.5) or x, 'long')\n"
    "spark.range(0, 240, 1, 2).select(slow('id').alias('x')).agg(F.sum('x')).collect()"
)  # ~60 s unless interrupted


class Gateway:
    def __init__(self, url: str) -> None:
        self.url = url

    def rest(self, method: str, path: str, body: dict | None = None, timeout: float = 120) -> dict | None:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
        return json.loads(text) if text else None

    def start(self, name: str) -> str:
        return self.rest("POST", "/api/kernels", {"name": name})["id"]  # type: ignore[index]

    def channels(self, kernel_id: str) -> Channels:
        return Channels(self.url.replace("http", "ws", 1) + f"/api/kernels/{kernel_id}/channels")


class Channels:
    """Jupyter messages as JSON text frames, each with its channel (the legacy websocket protocol)."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=180)
        self.session = uuid.uuid4().hex

    def send(self, msg_type: str, content: dict, channel: str = "shell") -> str:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": msg_type,
            "session": self.session,
            "username": "test",
            "date": "2026-01-01T00:00:00Z",
            "version": "5.4",
        }
        self.ws.send(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "channel": channel,
                    "buffers": [],
                }
            )
        )
        return msg_id

    def execute(self, code: str) -> tuple[dict, list[dict]]:
        """Send one cell; return its execute_reply content and its IOPub outputs."""
        msg_id = self.send(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
            },
        )
        reply, outputs, idle = None, [], False
        while reply is None or not idle:
            msg = json.loads(self.ws.recv())
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell":
                reply = msg["content"]
            elif msg["msg_type"] == "status":
                idle = msg["content"]["execution_state"] == "idle"
            else:
                outputs.append(msg)
        return reply, outputs

    def value(self, code: str) -> str:
        reply, outputs = self.execute(code)
        assert reply["status"] == "ok", reply
        return [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"][-1]

    def close(self) -> None:
        self.ws.close()


@pytest.fixture(scope="module")
def gateway(processes, toree_jupyter_path: Path, tmp_path_factory) -> Iterator[Gateway]:
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_PATH": str(toree_jupyter_path),
        "TOREE_HISTORY_FILE": str(tmp_path_factory.mktemp("kg") / "history.sqlite"),
    }
    log = open(tmp_path_factory.mktemp("kg-log") / "gateway.log", "w+b")  # noqa: SIM115 - closed below
    proc = processes.spawn(
        gateway_command(
            port,
            "--JupyterWebsocketPersonality.list_kernels=True",
            "--MappingKernelManager.kernel_info_timeout=180",  # Spark's JVM may take a while on a busy host
        ),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    gw = Gateway(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while True:
        try:
            names = gw.rest("GET", "/api/kernelspecs")["kernelspecs"]  # type: ignore[index]
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"gateway did not come up:\n{log.read().decode(errors='replace')[-3000:]}")
            time.sleep(0.2)
    assert {"apache_toree_pyspark", "apache_toree_scala", "apache_toree_sql"} <= set(names)
    yield gw
    try:  # shut the kernels down through the gateway first; kill_all gets whatever is left
        for kernel in gw.rest("GET", "/api/kernels") or []:
            gw.rest("DELETE", f"/api/kernels/{kernel['id']}")
    except OSError:
        pass
    finally:
        processes.kill_all([proc])
        log.close()


@pytest.mark.parametrize(
    ("name", "code", "expected"),
    [
        ("apache_toree_pyspark", "spark.range(7).count()", "7"),
        ("apache_toree_scala", "spark.range(8).count()", "8"),
        ("apache_toree_sql", "SELECT count(*) AS n FROM range(9)", "|  9|"),
    ],
)
def test_gateway_runs_each_language(gateway: Gateway, name: str, code: str, expected: str) -> None:
    kernel_id = gateway.start(name)
    channels = gateway.channels(kernel_id)
    try:
        assert expected in channels.value(code)
    finally:
        channels.close()
        gateway.rest("DELETE", f"/api/kernels/{kernel_id}")
    assert kernel_id not in {k["id"] for k in gateway.rest("GET", "/api/kernels")}  # type: ignore[union-attr]


def test_gateway_interrupt_and_restart(gateway: Gateway) -> None:
    kernel_id = gateway.start("apache_toree_pyspark")
    channels = gateway.channels(kernel_id)
    try:
        assert channels.value("keep = 41\nspark.range(1).count()") == "1"
        timer = threading.Timer(2.0, gateway.rest, ("POST", f"/api/kernels/{kernel_id}/interrupt"))
        timer.start()
        started = time.monotonic()
        reply, _ = channels.execute(LONG_SPARK_JOB)
        elapsed = time.monotonic() - started
        timer.join()
        assert (reply["status"], reply["ename"]) == ("error", "KeyboardInterrupt")
        assert elapsed < 15, f"the interrupt took {elapsed:.1f} s"
        assert channels.value("keep + 1") == "42"  # the next cell works, state kept
        channels.close()
        gateway.rest("POST", f"/api/kernels/{kernel_id}/restart")
        channels = gateway.channels(kernel_id)
        assert channels.value("spark.range(3).count()") == "3"
        reply, _ = channels.execute("keep")
        assert reply["ename"] == "NameError"  # a new kernel process
    finally:
        channels.close()
        gateway.rest("DELETE", f"/api/kernels/{kernel_id}")


@pytest.fixture(scope="module")
def node_deps(tmp_path_factory) -> Path:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("node and npm are needed for the JavaScript client")
    prefix = tmp_path_factory.mktemp("node")
    try:
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(prefix),
                "--no-audit",
                "--no-fund",
                "@jupyterlab/services",
                "ws",
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"npm install @jupyterlab/services ws failed: {getattr(exc, 'stderr', exc)!r}"[:500])
    return prefix


def test_javascript_client_through_gateway(gateway: Gateway, node_deps: Path, run) -> None:
    code, out, err = run(
        ["node", str(JS_CLIENT), gateway.url, "apache_toree_pyspark"],
        timeout=180,
        env={**os.environ, "NODE_DEPS": str(node_deps)},
    )
    assert code == 0, f"{out}\n{err[-3000:]}"
    assert any(line.startswith("KERNEL ") for line in out.splitlines())
    assert "RESULT 5" in out.splitlines()
    assert "STATUS ok" in out
