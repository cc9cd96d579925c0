"""The shell socket's own thread, and the queues of the shells it feeds (kernel subshells, JEP 91).

``ShellChannel`` owns the shell ROUTER socket: it reads every shell message, lets the core say which
shell runs it (``KernelCore.route_shell``: the main shell, a subshell, or an error reply for an unknown
subshell) and puts it on that shell's ``ShellQueue``. The main shell's queue is served on the main
thread (where SIGINT lands, so interrupts work as before); each subshell's on a thread of its own.
Replies come back from those threads through an inproc PUSH/PULL pair and leave on the shell socket
here, so the socket has exactly one owner.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

import zmq

from .core import Finished, KernelCore, Rejected
from .messages import Message

log = logging.getLogger(__name__)
_STOP = object()  # put on a queue: its shell ends once the messages before it are done
CATCH_UP = b"<toree-catch-up>"  # on the replies pair: route every message waiting on the socket now


class ShellQueue:
    """The messages waiting for one shell (main: ``subshell_id`` None), in arrival order."""

    def __init__(self, subshell_id: str | None = None) -> None:
        self.subshell_id = subshell_id
        self._queue: queue.Queue[object] = queue.Queue()

    def put(self, msg: Message) -> None:
        self._queue.put(msg)

    def stop(self) -> None:
        self._queue.put(_STOP)

    def get(self, timeout: float) -> Message | bool | None:
        """The next message; None: nothing came within ``timeout``; False: the shell is stopped."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _STOP:
            return False
        assert isinstance(item, Message)
        return item

    def drain(self) -> list[Message]:
        """Take the messages waiting now (an execute failed: they are aborted); a stop stays queued."""
        taken: list[Message] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return taken
            if item is _STOP:
                self._queue.put(_STOP)
                return taken
            assert isinstance(item, Message)
            taken.append(item)


class ShellChannel(threading.Thread):
    """Reads the shell socket and routes each message to its shell; sends the replies the shells pass back."""

    def __init__(
        self,
        sock: zmq.Socket,
        replies: zmq.Socket,
        core: KernelCore,
        main: ShellQueue,
        *,
        unrouted: Callable[[Finished], None],
        reject: Callable[[str], None],
        idle: Callable[[], None],
        stop: threading.Event,
        wake: Callable[[list[bytes]], None],
        poll_ms: int = 100,
    ) -> None:
        super().__init__(name="shell-channel", daemon=True)
        self._sock, self._replies, self._core, self._main = sock, replies, core, main
        self._unrouted, self._reject, self._idle, self._stopping = unrouted, reject, idle, stop
        self._wake = wake  # sends frames to this thread through the replies pair
        self._poll_ms = poll_ms
        self._caught_up: list[threading.Event] = []

    def catch_up(self, timeout: float = 1.0) -> None:
        """Return once every message that reached the shell socket before this call is on its shell's
        queue (a failed execute aborts what was sent before its error: the queue must hold all of it)."""
        if threading.current_thread() is self:
            self._route_waiting()
            return
        if self._stopping.is_set() or not self.is_alive():  # the kernel is stopping: nothing more is routed
            return
        done = threading.Event()
        self._caught_up.append(done)
        self._wake([CATCH_UP])
        done.wait(timeout)

    def run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._replies, zmq.POLLIN)
        while not self._stopping.is_set():
            try:
                events = dict(poller.poll(self._poll_ms))
                if not events:
                    self._idle()
                while self._replies in events and self._replies.poll(0):
                    frames = self._replies.recv_multipart()
                    if frames == [CATCH_UP]:
                        self._route_waiting()
                    else:
                        self._sock.send_multipart(frames)
                if self._sock in events:
                    self.route(self._sock.recv_multipart())
            except zmq.ContextTerminated:
                return
            except Exception:  # one bad message must not end the shell channel (and the kernel with it)
                log.exception("could not route a shell message")

    def _route_waiting(self) -> None:
        while self._sock.poll(0):
            self.route(self._sock.recv_multipart())
        waiting, self._caught_up = self._caught_up, []
        for done in waiting:
            done.set()

    def route(self, frames: list[bytes]) -> None:
        msg = self._core.decode(frames)
        if isinstance(msg, Rejected):
            self._reject(msg.note)
            return
        target = self._core.route_shell(msg)
        if isinstance(target, Finished):  # its subshell is not there: answered here, busy/idle included
            self._unrouted(target)
            return
        work = self._main if target[0] is None else target[1]
        work.put(msg)
