"""The R process: started, connected over a loopback socket, interrupted and stopped.

R runs in a process of its own, so ``q()`` or a crash in R ends that process and never the kernel;
the next R cell starts a new one. On Linux R dies with the kernel (a parent-death signal), also when
the kernel is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.resources
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

from ..process_tree import end_process
from . import wire

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 30.0
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux
STOP_WAIT_S = 0.5
INSTALL_HINT = (
    "R cells need R with the repr, IRdisplay and jsonlite packages. On Debian/Ubuntu: "
    "apt-get install r-base-core r-cran-repr r-cran-irdisplay r-cran-jsonlite r-cran-evaluate "
    "(set TOREE_R to use another R)."
)


class RUnavailable(RuntimeError):
    """R cannot be started here; the message says what to install."""


class RExited(RuntimeError):
    """The R process ended (``q()``, a crash, or it was stopped)."""


def r_binary() -> str | None:
    """The ``R`` to run: ``$TOREE_R``, else ``R`` on PATH; None when that is not an executable."""
    return shutil.which(os.environ.get("TOREE_R") or "R")


def _resource(name: str) -> str:
    return str(importlib.resources.files(__package__).joinpath("resources", name))


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class RProcess:
    """One R session: ``send`` a frame to R, then ``events`` yields R's text and frames as they come."""

    def __init__(self, output: Callable[[str, str], None]) -> None:
        self._output = output  # (stream name, text): where R's process-level output goes (the running cell)
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._parser = wire.StreamParser()
        self._pending: list[wire.Text | wire.Frame] = []

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and self._sock is not None

    def start(self) -> None:
        """Start R and wait until its side is ready (RUnavailable if it cannot be)."""
        binary = r_binary()
        if binary is None:
            where = f"TOREE_R={os.environ['TOREE_R']} is not an executable" if os.environ.get("TOREE_R") else "no R on PATH"
            raise RUnavailable(f"R is not installed ({where}). {INSTALL_HINT}")
        token = secrets.token_hex(16)
        with socket.create_server(("127.0.0.1", 0)) as server:
            server.settimeout(CONNECT_TIMEOUT_S)
            port = server.getsockname()[1]
            env = dict(os.environ)
            if "UTF-8" not in env.get("LC_ALL", env.get("LANG", "")).upper().replace("UTF8", "UTF-8"):
                env["LC_ALL"] = "C.UTF-8"  # R's strings reach the kernel as UTF-8
            command = [binary, "--no-save", "--no-restore", "--quiet", "--no-echo",
                       f"--file={_resource('toree.R')}", "--args", str(port), token, _resource("sparkr.R")]
            try:
                self._proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                    # a process group of its own: Jupyter's SIGINT to the kernel's group must not reach R
                    # (a second SIGINT while R answers an interrupted cell would end it); interrupt() sends
                    # R its one SIGINT, only while a cell runs
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                )
            except OSError as exc:
                raise RUnavailable(f"could not run {binary}: {exc}. {INSTALL_HINT}") from None
            for name, pipe in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
                threading.Thread(target=self._forward, args=(name, pipe), name=f"toree-r-{name}", daemon=True).start()
            try:
                sock, _ = server.accept()
            except TimeoutError:
                self.stop()
                raise RUnavailable(f"R did not connect within {CONNECT_TIMEOUT_S:.0f} s. {INSTALL_HINT}") from None
        sock.settimeout(CONNECT_TIMEOUT_S)
        if sock.recv(len(token), socket.MSG_WAITALL) != token.encode():
            sock.close()
            self.stop()
            raise RUnavailable("the R process did not identify itself")
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        try:
            self._next_frame()  # R's "ready"
        except RExited:
            self.stop()
            raise RUnavailable(f"R stopped while it started (missing packages?). {INSTALL_HINT}") from None

    def _forward(self, name: str, pipe: IO[bytes]) -> None:
        """What bypasses R's sink (``system()``'s programs, C code, R's own start-up errors) goes to the
        running cell too, a line at a time."""
        for line in iter(pipe.readline, b""):
            self._output(name, line.decode("utf-8", "replace"))

    def _receive(self) -> Iterator[wire.Text | wire.Frame]:
        while True:
            while self._pending:
                yield self._pending.pop(0)
            sock = self._sock
            if sock is not None and _QUICKACK is not None:
                # ACK at once: R cannot turn Nagle off on its socket, so its next small write (a cell's
                # "done" after its result) would otherwise wait for our delayed ACK, ~40 ms
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            data = sock.recv(1 << 16) if sock is not None else b""
            if not data:
                raise RExited(self._exit_message())
            self._pending.extend(self._parser.feed(data))

    def _next_frame(self) -> wire.Frame:
        for item in self._receive():
            if isinstance(item, wire.Frame):
                return item
            self._output("stdout", item.text)
        raise AssertionError("unreachable")

    def send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        if self._sock is None:
            raise RExited("the R session is not running")
        self._sock.sendall(wire.encode(header, payload))

    def events(self) -> Iterator[wire.Text | wire.Frame]:
        """R's text and frames, in order, until the caller stops iterating (RExited if R ends)."""
        return self._receive()

    def _exit_message(self) -> str:
        proc = self._proc
        code = None
        if proc is not None:
            try:
                code = proc.wait(2.0)
            except subprocess.TimeoutExpired:
                code = None
        self._close_socket()
        if code is None:
            return "the R session stopped answering"
        if code < 0:
            return f"the R session crashed ({signal.Signals(-code).name})"
        return f"the R session ended (exit status {code}: q() or quit() in a cell ends R)"

    def interrupt(self) -> None:
        """SIGINT to R: the running R code stops with an interrupt condition. Never blocks."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGINT)

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self) -> None:
        """End R within ``STOP_WAIT_S`` (its socket closes: it quits; else SIGKILL)."""
        self._close_socket()
        proc, self._proc = self._proc, None
        if proc is not None:
            end_process(proc, STOP_WAIT_S)
