"""Helpers for the cross-package tests: free loopback ports and kernels installed with their own options."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import KernelManager


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def installed_kernel(
    prefix: Path, install_args: list[str], env: Mapping[str, str] | None = None, name: str = "apache_toree_pyspark"
) -> Iterator[tuple[KernelManager, BlockingKernelClient]]:
    """``toree install --prefix=PREFIX *install_args``, then that kernel started and ready; shut down afterwards."""
    subprocess.run(
        # No class-sharing build here: kernels use the archive when the session install (conftest) or
        # test_class_sharing built one for this Spark; a Connect-only env need not spend a minute on one.
        [sys.executable, "-m", "toree_kernel.cli", "install", f"--prefix={prefix}", "--no-class-sharing", *install_args],
        check=True,
        capture_output=True,
    )
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")  # where KernelManager finds the spec
    km = KernelManager(kernel_name=name)
    try:
        km.start_kernel(env={**os.environ, "TOREE_HISTORY_FILE": str(prefix / "history.sqlite"), **(env or {})})
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH")
        else:
            os.environ["JUPYTER_PATH"] = saved
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def run_cell(kc: BlockingKernelClient, code: str, timeout: float = 240) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The execute_reply content and the IOPub messages of one cell."""
    outputs: list[dict[str, Any]] = []
    reply = kc.execute_interactive(code, output_hook=outputs.append, timeout=timeout)
    return reply["content"], outputs


def cell_value(kc: BlockingKernelClient, code: str, timeout: float = 240) -> str:
    """The text/plain result of a cell that must succeed."""
    content, outputs = run_cell(kc, code, timeout)
    assert content["status"] == "ok", (content, outputs)
    return next(m for m in outputs if m["msg_type"] == "execute_result")["content"]["data"]["text/plain"]


def cell_error(kc: BlockingKernelClient, code: str, timeout: float = 240) -> dict[str, Any]:
    """The execute_reply content of a cell that must fail."""
    content, outputs = run_cell(kc, code, timeout)
    assert content["status"] == "error", (content, outputs)
    return content
