"""A generic kernel server: sockets and threads driving the sans-IO ``core.KernelCore``.

The handler implements ``handler.KernelHandler`` (typed requests in, reply content out). The core
decides what every message means and what its reply is; this module only moves frames: it
publishes ``status: busy`` / ``idle`` around every decoded message, sends the reply on the channel
the request came from, serves control on its own thread so interrupt/shutdown are answered while
a cell runs on the main thread, drains the queue when the core says an error aborts it, and logs
rejected input without letting a flood of it flood the log.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

import zmq

from .connection import ConnectionInfo, write_connection_file
from .core import Dispatch, Finished, KernelCore, Rejected
from .handler import CONTROL_TYPES, HandlerDefaults, KernelHandler, Reply, Unsupported
from .messages import Message, ProtocolError, new_id
from .requests import ExecuteRequest
from .sockets import Heartbeat, IOPubThread, bind_kernel_sockets

POLL_MS = 100

__all__ = ["CONTROL_TYPES", "HandlerDefaults", "KernelServer", "RequestContext", "StdinNotAllowed"]


class RejectLog:
    """Logs dropped input without letting a flood of it flood the log.

    The first ``burst`` rejects of every ``window`` seconds are logged one by one; the rest are
    counted and summarised (how many, the last reason) once the window is over. Thread-safe.
    """

    def __init__(self, log: logging.Logger, *, burst: int = 20, window: float = 10.0) -> None:
        self.log = log
        self.burst = burst
        self.window = window
        self.total = 0
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._logged = 0
        self._suppressed: dict[str, int] = {}
        self._last = ""

    def note(self, channel: str, reason: str) -> None:
        with self._lock:
            self.total += 1
            self._roll(time.monotonic())
            if self._logged < self.burst:
                self._logged += 1
                self.log.warning("rejected a message on %s: %s", channel, reason)
                if self._logged == self.burst:
                    self.log.warning(
                        "more than %d rejected messages in %.0f s: counting the rest", self.burst, self.window
                    )
            else:
                self._suppressed[channel] = self._suppressed.get(channel, 0) + 1
                self._last = f"{channel}: {reason}"

    def flush(self, force: bool = False) -> None:
        """Summarise what was counted, if the window is over (or ``force``)."""
        with self._lock:
            self._roll(time.monotonic(), force)

    def _roll(self, now: float, force: bool = False) -> None:
        if not force and now - self._start < self.window:
            return
        if self._suppressed:
            counts = ", ".join(f"{n} on {ch}" for ch, n in sorted(self._suppressed.items()))
            self.log.warning(
                "rejected %s more messages in the last %.0f s (not logged one by one; last: %s); %d in total",
                counts,
                now - self._start,
                self._last[:300],
                self.total,
            )
        self._start, self._logged, self._suppressed = now, 0, {}


class StdinNotAllowed(RuntimeError):
    """The request did not allow stdin (``allow_stdin`` false), so input cannot be asked for."""


class RequestContext:
    """What a handler method gets with its typed request: the message, and ways to answer with it
    as parent (``handler.Context``)."""

    def __init__(self, server: KernelServer, dispatch: Dispatch) -> None:
        self._server = server
        self._request = dispatch.request
        self.message = dispatch.message
        self.channel = dispatch.channel

    def publish(self, msg_type: str, content: Mapping[str, Any], **options: Any) -> None:
        """An IOPub message whose parent is this request (``metadata``, ``buffers``). Thread-safe."""
        self._server.publish(msg_type, content, self.message, **options)

    def input(self, prompt: str, password: bool = False) -> str:
        """Ask the requesting client for a line (stdin channel). Main thread only."""
        if not (isinstance(self._request, ExecuteRequest) and self._request.allow_stdin):
            raise StdinNotAllowed("this client does not accept input requests (allow_stdin is false)")
        return self._server._ask_stdin(self.message, prompt, password)


class KernelServer:
    def __init__(
        self,
        connection: ConnectionInfo,
        handler: KernelHandler,
        *,
        connection_file: str | os.PathLike[str] | None = None,
        session: str | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.connection = connection
        self.handler = handler
        self.session = session or new_id()
        self.core = KernelCore(connection.signer(), self.session)
        self.log = log or logging.getLogger(__name__)
        self._connection_file = connection_file
        self._context = zmq.Context()
        self._sockets: dict[str, zmq.Socket] = {}
        self._iopub: IOPubThread | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.rejects = RejectLog(self.log)

    # Lifecycle -------------------------------------------------------------------------------------
    def bind(self) -> ConnectionInfo:
        self._sockets, self.connection = bind_kernel_sockets(self._context, self.connection)
        if self._connection_file is not None:
            write_connection_file(self.connection, self._connection_file)
        self._iopub = IOPubThread(
            self._sockets["iopub"], lambda topic: self.core.encode(self.core.welcome(topic))
        )
        self._iopub.start()
        return self.connection

    def serve_forever(self) -> None:
        """Serve shell on the calling (main) thread until ``stop()``; control and heartbeat on their own."""
        if not self._sockets:
            self.bind()
        heartbeat = Heartbeat(self._sockets["hb"])
        control = threading.Thread(target=self._serve, args=("control",), name="control", daemon=True)
        self._threads = [heartbeat, control]
        for thread in self._threads:
            thread.start()
        self._publish(self.core.status(None, "starting"))
        self._serve("shell")

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self.rejects.flush(force=True)
        for thread in self._threads:
            if isinstance(thread, Heartbeat):
                thread.stop()
            thread.join(timeout=2)
        if self._iopub is not None:
            self._iopub.stop()
            self._iopub.join(timeout=2)
            self._iopub.close()
        for sock in self._sockets.values():
            sock.close()
        self._context.term()

    # Sending -------------------------------------------------------------------------------------
    def publish(
        self, msg_type: str, content: Mapping[str, Any], parent: Message | None = None, **options: Any
    ) -> None:
        """IOPub from any thread (frames are handed to the IOPub thread); ``options`` as ``core.iopub``'s."""
        self._publish(self.core.iopub(msg_type, content, parent, **options))

    def _publish(self, msg: Message) -> None:
        assert self._iopub is not None, "bind() first"
        self._iopub.send(self.core.encode(msg))

    def _send(self, channel: str, msg: Message) -> None:
        self._sockets[channel].send_multipart(self.core.encode(msg))

    # Receiving -----------------------------------------------------------------------------------
    def _serve(self, channel: str) -> None:
        sock = self._sockets[channel]
        while not self._stop.is_set():
            if not sock.poll(POLL_MS):
                self.rejects.flush()
                continue
            try:
                self._handle(channel, sock.recv_multipart())
            except Exception:  # a bug of ours reading one message must not end the loop (and the kernel)
                self.log.exception("could not handle a message on %s", channel)

    def _handle(self, channel: str, frames: list[bytes], aborting: bool = False) -> None:
        event = self.core.receive(channel, frames, aborting=aborting)
        if isinstance(event, Rejected):
            self.rejects.note(channel, event.note)
            return
        msg, pending = event.message, []
        try:
            self._publish(self.core.status(msg, "busy"))
            done = self._call(event) if isinstance(event, Dispatch) else event
            if done.note is not None:
                self.rejects.note(channel, done.note)
            if done.abort_queue:
                pending = self._drain(channel)  # only requests that arrived before the error is reported
            if done.broadcast is not None:
                self._publish(done.broadcast)  # every client learns of the shutdown
            if done.reply is not None:
                self._send(channel, done.reply)
            if done.stop:
                self.stop()
        except Exception:  # one message must never end the loop (and with it the kernel)
            self.log.exception("could not answer %s on %s", msg.msg_type[:100], channel)
        finally:
            self._publish(self.core.status(msg, "idle"))
        for queued in pending:
            self._handle(channel, queued, aborting=True)

    def _call(self, dispatch: Dispatch) -> Finished:
        try:
            result: Reply = dispatch.call(self.handler, RequestContext(self, dispatch))
        except Exception as exc:  # a handler bug must not take the kernel down
            if not isinstance(exc, (ProtocolError, Unsupported)):
                self.log.exception("handler for %s failed", dispatch.message.msg_type)
            return self.core.failed(dispatch, exc)
        return self.core.finish(dispatch, result)

    def _drain(self, channel: str) -> list[list[bytes]]:
        sock, drained = self._sockets[channel], []
        while sock.poll(0):
            drained.append(sock.recv_multipart())
        return drained

    def _ask_stdin(self, request: Message, prompt: str, password: bool) -> str:
        sock = self._sockets["stdin"]
        self._send("stdin", self.core.input_request(request, prompt, password))
        while True:
            if self._stop.is_set():
                raise EOFError("kernel is shutting down")
            if not sock.poll(POLL_MS):  # a SIGINT handler may raise KeyboardInterrupt here: let it
                continue
            answer = self.core.input_reply(sock.recv_multipart())
            if isinstance(answer, Rejected):
                self.rejects.note("stdin", answer.note)
            elif answer is not None:
                return answer.value
