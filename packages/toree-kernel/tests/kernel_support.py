"""The one test driver for the real kernel process: jupyter_client (what Jupyter itself uses) starts it,
and helpers collect one request's IOPub output. Used by this package's tests and by the cross-package
tests in the workspace's ``tests/`` (both conftests put this folder on sys.path: importlib import mode).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import jupyter_kernel_test
import psutil
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

# Small, quiet Spark for tests: 2 cores on CI, no UI port to collide on.
TEST_SPARK_OPTS = "--master local[2] --conf spark.ui.enabled=false --conf spark.sql.shuffle.partitions=4"


def toree_install(prefix: Path, *args: str) -> Path:
    """``toree install --prefix=PREFIX *args`` through the real CLI; the Jupyter data dir it installed into."""
    subprocess.run(
        [sys.executable, "-m", "toree_kernel.cli", "install", f"--prefix={prefix}", *args],
        check=True,
        capture_output=True,
    )
    return prefix / "share" / "jupyter"


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gateway_command(port: int, *options: str) -> list[str]:
    """The Jupyter Kernel Gateway on 127.0.0.1:``port`` (that port only), with ``options`` added."""
    return [
        sys.executable, "-m", "kernel_gateway", "--KernelGatewayApp.ip=127.0.0.1",
        f"--KernelGatewayApp.port={port}", "--KernelGatewayApp.port_retries=0", *options,
    ]  # fmt: skip


def is_jvm(proc: psutil.Process) -> bool:
    """A live (not zombie) Java process."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE and "java" in proc.name() + " ".join(proc.cmdline()[:1])
    except psutil.Error:
        return False


def stderr_of(outputs: list[dict]) -> str:
    return "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")


class Kernel:
    """A started kernel plus helpers that collect one request's IOPub output.

    ``env`` is the kernel's environment (``os.environ`` by default) plus ``extra_env``; ``jupyter_path``,
    when given, is where the kernelspec is looked up (and the kernel's ``JUPYTER_PATH``), otherwise
    ``os.environ``'s ``JUPYTER_PATH`` decides. ``processes`` (the cross-package tests' fixture) gets the
    kernel's process, so its finalizer kills the kernel's whole tree whatever happens. ``timeout`` is each
    cell's default, ``ready_timeout`` the wait for the first ``kernel_info_reply``.
    """

    def __init__(
        self,
        kernel_name: str = "apache_toree_pyspark",
        *,
        env: Mapping[str, str] | None = None,
        jupyter_path: Path | None = None,
        processes: Any = None,
        cwd: Path | None = None,
        timeout: float = 120,
        ready_timeout: float = 60,
        **extra_env: str,
    ) -> None:
        self.timeout = timeout
        kernel_env = {**(os.environ if env is None else env), **extra_env}
        if jupyter_path is None:
            self.km = KernelManager(kernel_name=kernel_name)
        else:
            kernel_env["JUPYTER_PATH"] = str(jupyter_path)
            specs = KernelSpecManager(kernel_dirs=[str(jupyter_path / "kernels")])
            self.km = KernelManager(kernel_name=kernel_name, kernel_spec_manager=specs)
        self.km.start_kernel(env=kernel_env, **({} if cwd is None else {"cwd": str(cwd)}))
        if processes is not None:
            processes.started.append(self.process)
        self.kc: BlockingKernelClient = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=ready_timeout)
        except BaseException:
            Kernel.close(self)  # not a subclass's close: its own parts do not exist yet
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def process(self) -> subprocess.Popen:
        """The kernel's process (a new one after ``km.restart_kernel()``)."""
        return self.km.provisioner.process  # type: ignore[union-attr]

    @property
    def pid(self) -> int:
        return self.process.pid

    def run(self, code: str, timeout: float | None = None, **kw: Any) -> tuple[dict, list[dict]]:
        """The execute_reply content and the cell's IOPub messages other than ``status``."""
        outputs: list[dict] = []
        reply = self.kc.execute_interactive(
            code, output_hook=outputs.append, timeout=self.timeout if timeout is None else timeout, **kw
        )
        return reply["content"], [m for m in outputs if m["msg_type"] != "status"]

    def value(self, code: str, timeout: float | None = None) -> str:
        """The text/plain result of a cell that must succeed and have one."""
        content, outputs = self.run(code, timeout)
        assert content["status"] == "ok", (content, outputs)
        results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
        assert results, outputs
        return results[-1]

    def ok(self, code: str, timeout: float | None = None) -> tuple[str, str]:
        """Run a cell that must succeed: (its text/plain result or "", its stderr)."""
        content, outputs = self.run(code, timeout)
        assert content["status"] == "ok", (code, content)
        results = [m["content"]["data"].get("text/plain", "") for m in outputs if m["msg_type"] == "execute_result"]
        return (results[-1] if results else ""), stderr_of(outputs)

    def error(self, code: str, timeout: float | None = None) -> dict[str, Any]:
        """The execute_reply content of a cell that must fail."""
        content, outputs = self.run(code, timeout)
        assert content["status"] == "error", (content, outputs)
        return content

    def stdout(self, code: str) -> str:
        content, outputs = self.run(code)
        assert content["status"] == "ok", content
        return "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")

    def tree(self) -> list[psutil.Process]:
        """The kernel's process and all its descendants."""
        kernel = psutil.Process(self.pid)
        return [kernel, *kernel.children(recursive=True)]

    def jvm(self, timeout: float = 120) -> psutil.Process:
        """The kernel's Spark JVM (its java descendant), waiting for it to be there."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(psutil.Error):
                for proc in psutil.Process(self.pid).children(recursive=True):
                    if is_jvm(proc):
                        return proc
            assert time.monotonic() < deadline, "no Spark JVM under the kernel"
            time.sleep(0.2)

    def close(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)


@contextmanager
def installed_kernel(
    prefix: Path,
    install_args: list[str],
    env: Mapping[str, str] | None = None,
    name: str = "apache_toree_pyspark",
    timeout: float = 240,
) -> Iterator[Kernel]:
    """``toree install --prefix=PREFIX *install_args``, then that kernel started and ready; shut down afterwards."""
    # No class-sharing build here: kernels use the archive when the session install (conftest) or
    # test_class_sharing built one for this Spark; a Connect-only env need not spend a minute on one.
    jupyter_path = toree_install(prefix, "--no-class-sharing", *install_args)
    env = {**os.environ, "TOREE_HISTORY_FILE": str(prefix / "history.sqlite"), **(env or {})}
    with Kernel(name, env=env, jupyter_path=jupyter_path, timeout=timeout) as kernel:
        yield kernel


def answer_during_start_up(ask: Callable[[], dict], answered: Callable[[dict], bool], bound: float) -> dict:
    """The reply to a request (completion, inspect) sent while the kernel's Spark is still starting.

    The kernel waits up to ``bound`` s for what the request needs and answers. On a machine too slow to
    start it within the bound (a loaded 2-core box) the first reply may come empty, but only once the bound
    passed, never sooner, and the work goes on: a later request must answer. Any other outcome fails."""
    started = time.monotonic()
    reply = ask()
    took = time.monotonic() - started
    assert took < bound + 5, f"the first request took {took:.1f} s: the wait is not bounded by {bound} s"
    if answered(reply):
        return reply
    assert took > bound - 1, f"an empty answer after {took:.1f} s, before the {bound} s bound: it did not wait"
    for _ in range(5):
        reply = ask()
        if answered(reply):
            return reply
    raise AssertionError(f"no answer in 6 requests after start-up: {reply}")


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
