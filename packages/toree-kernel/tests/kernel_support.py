"""The real kernel process, driven by jupyter_client (what Jupyter itself uses), for the tests."""

from __future__ import annotations

import os
from typing import Any

import jupyter_kernel_test
import psutil
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import KernelManager


class WarmedKernelTests(jupyter_kernel_test.KernelTests):
    """jupyter_kernel_test gives each request 15 s; the first Spark cell (JVM, Scala compiler) can take
    longer on a busy 2-core machine, so one untimed, unrecorded cell runs first."""

    warm_up_code = ""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        if cls.warm_up_code:
            reply = cls.kc.execute_interactive(
                cls.warm_up_code, store_history=False, timeout=300, output_hook=lambda _: None
            )
            assert reply["content"]["status"] == "ok", reply["content"]


class Kernel:
    """A started kernel plus helpers that collect one request's IOPub output."""

    def __init__(self, kernel_name: str = "apache_toree_pyspark", **env: str) -> None:
        self.km = KernelManager(kernel_name=kernel_name)
        self.km.start_kernel(env={**os.environ, **env})
        self.kc: BlockingKernelClient = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 120, **kw: Any) -> tuple[dict, list[dict]]:
        outputs: list[dict] = []
        reply = self.kc.execute_interactive(code, output_hook=outputs.append, timeout=timeout, **kw)
        return reply["content"], [m for m in outputs if m["msg_type"] != "status"]

    def value(self, code: str) -> str:
        content, outputs = self.run(code)
        assert content["status"] == "ok", content
        results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
        assert results, outputs
        return results[-1]

    def stdout(self, code: str) -> str:
        content, outputs = self.run(code)
        assert content["status"] == "ok", content
        return "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")

    def processes(self) -> list[psutil.Process]:
        kernel = psutil.Process(self.km.provisioner.process.pid)  # type: ignore[union-attr]
        return [kernel, *kernel.children(recursive=True)]

    def close(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)


def is_jvm(proc: psutil.Process) -> bool:
    try:
        return "java" in proc.name() + " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return False
