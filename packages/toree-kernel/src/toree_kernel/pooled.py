"""The kernel's side of a warm pool (``pool.py`` is the pool's): started ahead of use, it warms up, says
so, and waits to be adopted by one notebook.

Its stdin is one end of a socket pair whose other end the pool (the server process) holds. Lines of
JSON go both ways: ``{"state": "ready"}`` from the kernel once warm, ``{"adopt": {...}}`` from the pool
with the connection file, the notebook's working directory and its per-launch variables. End-of-file
means the server is gone (exited, or killed with SIGKILL): the kernel then shuts down, JVM and all,
whether it was adopted or still waiting.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .pool import POOL_ENV, JsonLines, encode

log = logging.getLogger(__name__)


@attrs.frozen
class Adoption:
    connection_file: str
    cwd: str | None
    env: Mapping[str, str]


class PoolChannel:
    """The socket pair to the pool. Taken off fd 0 at once: stdin becomes ``/dev/null`` so that children
    (the JVM, ``!cmd``) neither read nor hold it."""

    def __init__(self, fd: int = 0) -> None:
        self._sock = socket.socket(fileno=os.dup(fd))
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
        self._lines = JsonLines()
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PoolChannel | None:
        """The channel of a pooled kernel (``TOREE_POOL=1``), None for any other kernel."""
        env = os.environ if environ is None else environ
        if env.get(POOL_ENV) != "1":
            return None
        os.environ.pop(POOL_ENV, None)  # not for the kernel's children
        return cls()

    def tell(self, state: str) -> None:
        """Report a state to the pool (``ready``); a pool that is gone is noticed by ``wait_for_adoption``."""
        try:
            with self._lock:
                self._sock.sendall(encode({"state": state}))
        except OSError:
            log.debug("the warm pool is gone", exc_info=True)

    def wait_for_adoption(self, stopping: Callable[[], bool]) -> Adoption | None:
        """Block until a notebook adopts this kernel; None when the pool hung up or ``stopping()``."""
        self._sock.settimeout(0.2)
        while not stopping():
            messages = self._receive()
            if messages is None:
                return None
            for message in messages:
                adopt = message.get("adopt")
                if isinstance(adopt, dict):
                    env = adopt.get("env") or {}
                    return Adoption(
                        str(adopt["connection_file"]),
                        adopt.get("cwd"),
                        {str(k): str(v) for k, v in env.items()},
                    )
        return None

    def watch(self, on_gone: Callable[[str], None]) -> None:
        """After adoption: call ``on_gone`` once the pool's end closes (the server process is gone)."""

        def watch() -> None:
            self._sock.settimeout(None)
            while self._receive() is not None:
                pass
            on_gone("the server that adopted this kernel from its warm pool is gone")

        threading.Thread(target=watch, name="pool-watch", daemon=True).start()

    def _receive(self) -> list[dict[str, Any]] | None:
        """The messages in what the pool sent next (none after a timeout); None: the pool hung up."""
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            return []
        except OSError:
            return None
        return self._lines.feed(data) if data else None


def apply(adoption: Adoption) -> None:
    """The notebook's working directory and per-launch variables, in this process (the JVM's side is the
    session manager's ``set_working_directory``)."""
    if adoption.cwd:
        try:
            os.chdir(adoption.cwd)
        except OSError as exc:
            log.warning("cannot change to the notebook's directory %s: %s", adoption.cwd, exc)
    os.environ.update(adoption.env)
