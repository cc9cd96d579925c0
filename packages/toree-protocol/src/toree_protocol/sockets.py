"""The kernel's five zmq sockets and the two threads that own sockets of their own.

zmq sockets are not thread-safe, so each one has exactly one owner: shell and stdin the main
thread, control the control thread (server.py), IOPub the ``IOPubThread`` below, heartbeat the
``Heartbeat`` thread. Other threads hand IOPub frames over through a queue.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Sequence

import zmq

from .connection import ConnectionInfo
from .threads import service_thread

log = logging.getLogger(__name__)

_SOCKET_TYPES = {
    "shell": zmq.ROUTER,
    "control": zmq.ROUTER,
    "stdin": zmq.ROUTER,
    "iopub": zmq.XPUB,
    "hb": zmq.REP,
}


def bind_kernel_sockets(
    context: zmq.Context, connection: ConnectionInfo
) -> tuple[dict[str, zmq.Socket], ConnectionInfo]:
    """Bind all five sockets; a port of 0 is chosen by zmq at bind time (no probe-then-bind race)."""
    sockets: dict[str, zmq.Socket] = {}
    ports: dict[str, int] = {}
    try:
        for channel, kind in _SOCKET_TYPES.items():
            sock = context.socket(kind)
            sock.setsockopt(zmq.LINGER, 1000)
            if kind == zmq.ROUTER:
                sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a reconnecting client keeps its identity
            if kind == zmq.XPUB:
                sock.setsockopt(zmq.XPUB_VERBOSE, 1)  # see every subscription, to welcome each one
            sockets[channel] = sock
            port = connection.port(channel)
            if port == 0 and connection.transport == "tcp":
                ports[channel] = sock.bind_to_random_port(f"tcp://{connection.ip}")
            else:
                sock.bind(connection.url(channel))
                ports[channel] = port
    except zmq.ZMQError:
        for sock in sockets.values():
            sock.close(linger=0)
        raise
    return sockets, connection.with_ports(**ports)


class Heartbeat(threading.Thread):
    """Echo every ping back, independent of whatever the kernel is doing."""

    def __init__(self, sock: zmq.Socket) -> None:
        super().__init__(name="heartbeat", daemon=True)
        service_thread(self)
        self._sock = sock
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            if self._sock.poll(100):
                self._sock.send(self._sock.recv())

    def stop(self) -> None:
        self._stopping.set()


class IOPubThread(threading.Thread):
    """Owns the XPUB socket: sends queued frames in order, welcomes each new subscriber (spec 5.4)
    unless ``welcome`` is None."""

    def __init__(self, sock: zmq.Socket, welcome: Callable[[bytes], Sequence[bytes]] | None) -> None:
        super().__init__(name="iopub", daemon=True)
        service_thread(self)
        self._sock = sock
        self._welcome = welcome
        self._queue: queue.SimpleQueue[Sequence[bytes] | None] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    def send(self, frames: Sequence[bytes]) -> None:
        """Thread-safe: queue frames and wake the IOPub thread."""
        self._queue.put(frames)
        self._poke()

    def _poke(self) -> None:
        try:
            os.write(self._wake_w, b"\0")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already: the thread will drain the queue anyway
        except OSError:
            pass  # closed during shutdown

    def run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        while True:
            events = dict(poller.poll())
            if self._sock in events:
                self._handle_subscription(self._sock.recv())
            if self._wake_r in events:
                os.read(self._wake_r, 65536)
                if not self._drain():
                    return

    def _handle_subscription(self, event: bytes) -> None:
        if event[:1] == b"\x01" and self._welcome is not None:  # subscribe (b"\x00" is unsubscribe)
            self._sock.send_multipart(list(self._welcome(event[1:])))

    def _drain(self) -> bool:
        while True:
            try:
                frames = self._queue.get_nowait()
            except queue.Empty:
                return True
            if frames is None:
                return False
            self._sock.send_multipart(list(frames))

    def stop(self) -> None:
        """Send what is queued, then end the thread."""
        self._queue.put(None)
        self._poke()

    def close(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
