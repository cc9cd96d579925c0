"""A DAP client of debugpy's adapter, over TCP on loopback.

Requests are numbered by this client (a Jupyter client's ``seq`` and the kernel's own requests never
collide) and each waits, bounded, for its response, which gets the asker's ``seq`` back as
``request_seq``. Events go to ``on_event`` from the reader thread, in the order the adapter sent them.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from toree_protocol.threads import service_thread

from .dap import DapError, FrameReader, encode

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 30.0


class AdapterGone(ConnectionError):
    """The adapter closed the connection, or never answered in time."""


class AdapterClient:
    def __init__(self, on_event: Callable[[dict[str, Any]], None]) -> None:
        self._on_event = on_event
        self._sock: socket.socket | None = None
        self._seq = itertools.count(1)
        self._pending: dict[int, tuple[Future[dict[str, Any]], Any]] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._reader: threading.Thread | None = None

    def connect(self, host: str, port: int, timeout: float = 10.0) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(None)
        self._sock = sock
        self._reader = service_thread(
            threading.Thread(target=self._read, args=(sock,), name="dap-reader", daemon=True)
        )
        self._reader.start()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def send(self, message: Mapping[str, Any]) -> Future[dict[str, Any]]:
        """Send a request (the asker's ``seq`` is kept for the response); its response comes in the future."""
        sock = self._sock
        future: Future[dict[str, Any]] = Future()
        if sock is None:
            future.set_exception(AdapterGone("not connected to the debug adapter"))
            return future
        seq = next(self._seq)
        with self._lock:
            self._pending[seq] = (future, message.get("seq"))
        try:
            with self._send_lock:
                sock.sendall(encode({**message, "seq": seq}))
        except OSError as exc:
            with self._lock:
                self._pending.pop(seq, None)
            future.set_exception(AdapterGone(f"the debug adapter connection failed: {exc}"))
        return future

    def request(self, message: Mapping[str, Any], timeout: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
        """Send and wait for the response (``AdapterGone`` if none comes within ``timeout``)."""
        return wait(self.send(message), timeout, str(message.get("command")))

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._fail_pending("the debug adapter connection is closed")

    # The reader thread ----------------------------------------------------------------------------
    def _read(self, sock: socket.socket) -> None:
        reader = FrameReader()
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                for message in reader.feed(data):
                    self._dispatch(message)
        except (OSError, DapError) as exc:
            if self._sock is sock:
                log.warning("debug adapter connection lost: %s", exc)
        finally:
            if self._sock is sock:
                self._sock = None
            self._fail_pending("the debug adapter closed the connection")

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "event":
            try:
                self._on_event(message)
            except Exception:
                log.exception("handling debug event %s failed", message.get("event"))
            return
        if kind != "response":
            return
        with self._lock:
            entry = self._pending.pop(message.get("request_seq", -1), None)
        if entry is None:
            return  # its asker timed out already
        future, asker_seq = entry
        future.set_result({**message, "request_seq": asker_seq})

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for future, _ in pending.values():
            if not future.done():
                future.set_exception(AdapterGone(why))


def wait(future: Future[dict[str, Any]], timeout: float, what: str) -> dict[str, Any]:
    try:
        return future.result(timeout)
    except FutureTimeout:
        raise AdapterGone(f"the debug adapter did not answer {what} within {timeout:.0f} s") from None
