"""A warm pool of kernel processes, kept in the process that starts kernels (Jupyter Server, the Kernel
Gateway, a jupyter_client script), so a new notebook gets a kernel whose Spark session is up, whose
Scala REPL is built and whose first Spark job has run.

Each pooled kernel is a whole kernel process (its own Spark driver JVM) started with the kernelspec's
command and environment, but without a connection: it warms up, tells the pool it is ready, and waits
on a socket pair (its stdin) for one notebook to adopt it. Adopting hands it the connection file the
kernel manager wrote (ports and key as for any kernel), the notebook's working directory and its
per-launch variables (``JPY_*``, ``KERNEL_*``, ``DEFAULT_INTERPRETER``); then it serves, and is never
handed out again. The pool refills in the background, one kernel at a time.

The pool's end of each socket pair lives in this process: when it exits, even killed with SIGKILL,
every pooled and adopted kernel reads end-of-file, stops its JVM and exits (``toree_kernel.pooled``).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import selectors
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

POOL_ENV = "TOREE_POOL"  # "1" in a pooled kernel's environment: its stdin is the pool's socket
CONNECTION_PLACEHOLDER = "{connection_file}"
# Variables that only name the launch (the notebook, the kernel id, the parent): applied at adoption,
# so they do not have to match the pool's. Every other variable must be equal, or the kernel starts cold.
PER_LAUNCH_PREFIXES = ("JPY_", "KERNEL_")
PER_LAUNCH_NAMES = ("DEFAULT_INTERPRETER", "PYTHONEXECUTABLE")
READY_TIMEOUT_S = 300.0  # a pooled kernel not ready by then is replaced
# After a kernel is handed out, the next one starts this much later: a JVM start takes the cores for
# seconds, and the notebook that just got its kernel runs its first cells now.
REFILL_DELAY_S = 10.0
MAX_FAILURES = 3  # pooled kernels in a row that die before they are ready: the pool stops refilling


def per_launch(name: str) -> bool:
    return name.startswith(PER_LAUNCH_PREFIXES) or name in PER_LAUNCH_NAMES


PoolKey = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]


def encode(message: Mapping[str, Any]) -> bytes:
    """One message on a pooled kernel's channel, either way: a line of JSON."""
    return json.dumps(message).encode() + b"\n"


class JsonLines:
    """The reading end of a pooled kernel's channel, sans-IO: bytes in, whole messages (JSON objects) out."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        messages = []
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                message = None
            if isinstance(message, dict):
                messages.append(message)
            else:
                log.warning("unreadable message on a warm pool's channel: %r", line[:200])
        return messages


def command_template(cmd: Sequence[str], connection_file: str) -> list[str]:
    """A launch's command with its connection file as ``CONNECTION_PLACEHOLDER``: what pools are kept by."""
    return [arg.replace(connection_file, CONNECTION_PLACEHOLDER) for arg in cmd]


def pool_key(argv: Sequence[str], env: Mapping[str, str]) -> PoolKey:
    """Which pool serves a launch: the command (connection file as a placeholder) and every variable that
    is not per launch. Kernels of the PySpark, Scala and SQL specs share one pool."""
    return tuple(argv), tuple(sorted((k, v) for k, v in env.items() if not per_launch(k)))


class Member:
    """One pooled kernel: its process and the pool's end of its socket pair."""

    def __init__(self, process: subprocess.Popen[bytes], channel: socket.socket) -> None:
        self.process = process
        self.channel = channel
        self.started = time.monotonic()
        self.ready = False
        self._lines = JsonLines()

    def read_states(self) -> bool:
        """Take the states the kernel reported (``{"state": "ready"}``); False once it hung up."""
        try:
            data = self.channel.recv(4096)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        if any(message.get("state") == "ready" for message in self._lines.feed(data)):
            self.ready = True
        return True

    def adopt(self, connection_file: str, cwd: str | None, env: Mapping[str, str]) -> None:
        """Hand the kernel to one notebook (OSError: it is gone)."""
        message = {"adopt": {"connection_file": connection_file, "cwd": cwd, "env": dict(env)}}
        self.channel.setblocking(True)
        self.channel.sendall(encode(message))

    def alive(self) -> bool:
        return self.process.poll() is None

    def discard(self) -> None:
        """Close the pool's end (the kernel then stops by itself); kill it if it does not within 3 s."""
        try:
            self.channel.close()
        finally:
            threading.Thread(target=_reap, args=(self.process,), daemon=True).start()


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(3)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class WarmPool:
    """Keeps ``size`` pooled kernels of one command and environment; ``take`` hands one out."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str | None, size: int, output: Any = None
    ) -> None:
        self.argv, self.env, self.cwd, self.size = list(argv), dict(env), cwd, size
        self.output = output  # the kernels' stdout and stderr (None: this process's, as for any kernel)
        self._members: list[Member] = []
        self._taken_at = 0.0  # when a kernel was last handed out
        self._lock = threading.Lock()
        self._closed = False
        self.failures = 0
        self._thread = threading.Thread(target=self._refill, name="toree-warm-pool", daemon=True)
        self._thread.start()

    @property
    def members(self) -> list[Member]:
        with self._lock:
            return list(self._members)

    def take(self) -> Member | None:
        """A pooled kernel for one notebook (ready ones first, then the one warming longest), or None."""
        with self._lock:
            live = [m for m in self._members if m.alive()]
            live.sort(key=lambda m: (not m.ready, m.started))
            member = live[0] if live else None
            if member is not None:
                self._members.remove(member)  # the refill thread starts another, a little later
                self._taken_at = time.monotonic()
        return member

    def resize(self, size: int, cwd: str | None) -> None:
        """The latest launch's wishes: the pool's size, and where new pooled kernels start."""
        self.size, self.cwd = size, cwd

    def close(self) -> None:
        self._closed = True
        with self._lock:
            members, self._members = self._members, []
        for member in members:
            member.discard()

    # The refill thread -----------------------------------------------------------------------------
    def _refill(self) -> None:
        selector = selectors.DefaultSelector()  # the states of the kernels still warming up
        starting: Member | None = None  # one kernel warms up at a time: JVM starts compete for the cores
        while not self._closed:
            starting = self._tend(starting)
            members = self.members
            watched = {key.data for key in selector.get_map().values()}
            for member in members:
                if not member.ready and member not in watched:
                    selector.register(member.channel, selectors.EVENT_READ, member)
            for key in list(selector.get_map().values()):
                if key.data.ready or key.data not in members:
                    selector.unregister(key.fileobj)
            for key, _ in selector.select(timeout=0.25):
                if not key.data.read_states():
                    selector.unregister(key.fileobj)
        selector.close()

    def _tend(self, starting: Member | None) -> Member | None:
        """Drop pooled kernels that died or never got ready; start one when the pool is short."""
        with self._lock:
            for member in list(self._members):
                late = not member.ready and time.monotonic() - member.started > READY_TIMEOUT_S
                if member.alive() and not late:
                    continue
                self._members.remove(member)
                if not member.ready:
                    self.failures += 1
                    log.warning("a pooled Toree kernel ended before it was ready (exit %s)", member.process.poll())
                member.discard()
            if starting is not None and (starting.ready or starting not in self._members):
                if starting.ready:
                    self.failures = 0
                starting = None
            settled = time.monotonic() - self._taken_at > REFILL_DELAY_S
            wanted = (
                starting is None and settled and len(self._members) < self.size and self.failures < MAX_FAILURES
            )
        if wanted and not self._closed:
            return self._start_member()
        return starting

    def _start_member(self) -> Member | None:
        ours, theirs = socket.socketpair()
        env = {**self.env, POOL_ENV: "1", "JPY_PARENT_PID": str(os.getpid())}
        try:
            process = subprocess.Popen(
                self.argv,
                env=env,
                cwd=self.cwd,
                stdin=theirs.fileno(),
                stdout=self.output,
                stderr=self.output,
                start_new_session=True,
            )
        except OSError:
            log.exception("could not start a pooled Toree kernel: %s", self.argv)
            self.failures += 1
            ours.close()
            return None
        finally:
            theirs.close()
        ours.setblocking(False)
        member = Member(process, ours)
        with self._lock:
            self._members.append(member)
        log.info("started pooled Toree kernel %d", process.pid)
        return member


_pools: dict[PoolKey, WarmPool] = {}
_pools_lock = threading.Lock()


def pool_for(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None, size: int, output: Any = None
) -> WarmPool:
    """The pool for this command and environment in this process, made (and filling) on first use;
    ``output``: where its kernels write (a file; None: where this process writes)."""
    key = pool_key(argv, env)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            launch_env = {k: v for k, v in env.items() if not per_launch(k)}
            pool = _pools[key] = WarmPool(argv, launch_env, cwd, size, output)
            if len(_pools) == 1:
                atexit.register(close_all)
        else:
            pool.resize(size, cwd)
    return pool


def close_all() -> None:
    """Stop every pooled kernel of this process (not the adopted ones: their notebooks own them)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


def stats() -> list[dict[str, Any]]:
    """What the pools of this process hold (for logs and tests)."""
    return [
        {"size": p.size, "members": [{"pid": m.process.pid, "ready": m.ready} for m in p.members]}
        for p in list(_pools.values())
    ]
