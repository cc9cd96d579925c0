"""A generic kernel server: the protocol's bookkeeping around a handler object.

The handler has one method per message type (``execute_request(ctx)`` ...); a request method
returns the reply content (or ``(content, metadata)``). The server publishes ``status: busy`` /
``idle`` around every message with the message as parent, replies on the channel it came from,
answers unknown requests with an error, drops malformed or badly signed input (logged), serves
control on its own thread so interrupt/shutdown are answered while a cell runs on the main thread,
and aborts queued cells after an error when the client asked for ``stop_on_error``.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

import zmq

from .codec import deserialize, serialize
from .connection import ConnectionInfo, write_connection_file
from .messages import Message, ProtocolError, new_id, new_message, reply_to
from .sockets import Heartbeat, IOPubThread, bind_kernel_sockets

POLL_MS = 100

# A message type names a handler method only if it looks like one: lower-case words, no leading
# underscore (so ``__init__``, ``_run`` or ``close`` can never be called by a client).
_MSG_TYPE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
# Messages that are not requests but are handled (the rest are ignored).
NOTIFICATIONS = frozenset({"comm_open", "comm_msg", "comm_close"})
# What the control thread serves: requests that must be answered while a cell runs and that do not
# touch an interpreter (running code there would race the cell on the main thread).
CONTROL_TYPES = frozenset(
    {
        "kernel_info_request",
        "interrupt_request",
        "shutdown_request",
        "debug_request",
        "usage_request",
        "comm_info_request",
    }
)


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
    """What a handler method gets: the request, and ways to answer with the request as parent."""

    def __init__(self, server: KernelServer, request: Message, channel: str) -> None:
        self._server = server
        self.request = request
        self.channel = channel

    def publish(
        self,
        msg_type: str,
        content: Mapping[str, Any],
        *,
        metadata: Mapping[str, Any] | None = None,
        buffers: Sequence[bytes] = (),
    ) -> None:
        """An IOPub message whose parent is this request. Thread-safe."""
        self._server.publish(msg_type, content, self.request, metadata=metadata, buffers=buffers)

    def input(self, prompt: str, password: bool = False) -> str:
        """Ask the requesting client for a line (stdin channel). Main thread only."""
        if not self.request.content.get("allow_stdin", False):
            raise StdinNotAllowed("this client does not accept input requests (allow_stdin is false)")
        return self._server._ask_stdin(self.request, prompt, password)


class KernelServer:
    def __init__(
        self,
        connection: ConnectionInfo,
        handler: object,
        *,
        connection_file: str | os.PathLike[str] | None = None,
        session: str | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.connection = connection
        self.handler = handler
        self.session = session or new_id()
        self.log = log or logging.getLogger(__name__)
        self._connection_file = connection_file
        self._signer = connection.signer()
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
        self._iopub = IOPubThread(self._sockets["iopub"], self._welcome)
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
        self.publish("status", {"execution_state": "starting"})
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
        self,
        msg_type: str,
        content: Mapping[str, Any],
        parent: Message | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        buffers: Sequence[bytes] = (),
    ) -> None:
        """IOPub from any thread (frames are handed to the IOPub thread)."""
        topic = f"kernel.{self.session}.{msg_type}".encode()
        msg = new_message(
            msg_type,
            content,
            session=self.session,
            parent=parent,
            metadata=metadata,
            buffers=buffers,
            identities=[topic],
        )
        assert self._iopub is not None, "bind() first"
        self._iopub.send(serialize(msg, self._signer))

    def _welcome(self, topic: bytes) -> list[bytes]:
        msg = new_message(
            "iopub_welcome",
            {"subscription": topic.decode("utf-8", "replace")},
            session=self.session,
            identities=[topic],
        )
        return serialize(msg, self._signer)

    def _send(self, channel: str, msg: Message) -> None:
        self._sockets[channel].send_multipart(serialize(msg, self._signer))

    def _reply(
        self, channel: str, request: Message, content: Mapping[str, Any], metadata: Any = None
    ) -> None:
        self._send(channel, reply_to(request, content, session=self.session, metadata=metadata))

    # Receiving -----------------------------------------------------------------------------------
    def _receive(self, channel: str) -> Message | None:
        frames = self._sockets[channel].recv_multipart()
        try:
            return deserialize(frames, self._signer)
        except ProtocolError as exc:
            self.rejects.note(channel, f"dropped: {exc}")
            return None

    def _serve(self, channel: str) -> None:
        sock = self._sockets[channel]
        while not self._stop.is_set():
            if not sock.poll(POLL_MS):
                self.rejects.flush()
                continue
            msg = self._receive(channel)
            if msg is None:
                continue
            try:
                self._dispatch(channel, msg)
            except Exception:  # one message must never end the loop (and with it the kernel)
                self.log.exception("could not answer %s on %s", msg.msg_type[:100], channel)

    def _dispatch(self, channel: str, msg: Message) -> None:
        self.publish("status", {"execution_state": "busy"}, msg)
        pending: list[Message] = []
        try:
            content, metadata = self._handle(channel, msg)
            if content is not None:
                if self._aborts_queue(msg, content):
                    # Only requests that arrived before the error is reported are aborted.
                    pending = self._drain(channel)
                if msg.msg_type == "shutdown_request":
                    self.publish("shutdown_reply", content, msg)  # every client learns of the shutdown
                self._reply(channel, msg, content, metadata)
        finally:
            self.publish("status", {"execution_state": "idle"}, msg)
        if msg.msg_type == "shutdown_request":
            self.stop()
        for queued in pending:
            if queued.msg_type == "execute_request":
                self.publish("status", {"execution_state": "busy"}, queued)
                self._reply(channel, queued, {"status": "aborted"})
                self.publish("status", {"execution_state": "idle"}, queued)
            else:
                self._dispatch(channel, queued)

    @staticmethod
    def _aborts_queue(msg: Message, reply: Mapping[str, Any]) -> bool:
        return (
            msg.msg_type == "execute_request"
            and reply.get("status") == "error"
            and reply.get("ename") != "InvalidRequest"  # it never ran
            and bool(msg.content.get("stop_on_error", True))
        )

    def _drain(self, channel: str) -> list[Message]:
        sock, drained = self._sockets[channel], []
        while sock.poll(0):
            msg = self._receive(channel)
            if msg is not None:
                drained.append(msg)
        return drained

    def _handle(self, channel: str, msg: Message) -> tuple[Mapping[str, Any] | None, Any]:
        """Run the handler: (reply content, reply metadata) for requests, (None, None) otherwise."""
        msg_type = msg.msg_type
        is_request = msg_type.endswith("_request")
        callable_name = is_request and bool(_MSG_TYPE.fullmatch(msg_type))
        method = None
        if callable_name or msg_type in NOTIFICATIONS:
            method = getattr(self.handler, msg_type, None) or getattr(self, f"_default_{msg_type}", None)
        if method is not None and channel == "control" and msg_type not in CONTROL_TYPES:
            self.rejects.note(channel, f"{msg_type!r} is not served on control")
            if not is_request:
                return None, None
            return _error("WrongChannel", f"{msg_type!r} is served on shell, not on control"), None
        if method is None:
            if not msg_type.endswith("_request"):
                self.rejects.note(channel, f"ignored {msg_type[:100]!r}: no handler")
                return None, None
            self.rejects.note(channel, f"unknown request type {msg_type[:100]!r}")
            return _error("UnknownMessageType", f"this kernel does not handle {msg_type[:200]!r}"), None
        try:
            result = method(RequestContext(self, msg, channel))
        except ProtocolError as exc:  # the request's content is not what the spec says: the client's fault
            self.rejects.note(channel, f"invalid {msg_type}: {exc}")
            result = _error("InvalidRequest", str(exc))
        except Exception as exc:  # a handler bug must not take the kernel down
            self.log.exception("handler for %s failed", msg.msg_type)
            result = {
                "status": "error",
                "ename": type(exc).__name__,
                "evalue": str(exc),
                "traceback": traceback.format_exception(exc),
            }
        if not is_request:
            return None, None
        content, metadata = result if isinstance(result, tuple) else (result, None)
        return content or {"status": "ok"}, metadata

    def _ask_stdin(self, request: Message, prompt: str, password: bool) -> str:
        sock = self._sockets["stdin"]
        ask = new_message(
            "input_request",
            {"prompt": prompt, "password": password},
            session=self.session,
            parent=request,
            identities=request.identities,
        )
        self._send("stdin", ask)
        while True:
            if self._stop.is_set():
                raise EOFError("kernel is shutting down")
            if not sock.poll(POLL_MS):  # a SIGINT handler may raise KeyboardInterrupt here: let it
                continue
            reply = self._receive("stdin")
            if reply is not None and reply.msg_type == "input_reply":
                return str(reply.content.get("value", ""))

    # Defaults for requests the handler does not implement ---------------------------------------
    def _default_kernel_info_request(self, ctx: RequestContext) -> dict[str, Any]:
        return {
            "status": "ok",
            "protocol_version": "5.4",
            "implementation": "toree_protocol",
            "implementation_version": "0",
            "language_info": {
                "name": "unknown",
                "version": "",
                "mimetype": "text/plain",
                "file_extension": ".txt",
            },
            "banner": "",
            "help_links": [],
        }

    def _default_interrupt_request(self, ctx: RequestContext) -> dict[str, Any]:
        # interrupt_mode "message" ends in the same SIGINT handler as interrupt_mode "signal".
        os.kill(os.getpid(), signal.SIGINT)
        return {"status": "ok"}

    def _default_shutdown_request(self, ctx: RequestContext) -> dict[str, Any]:
        return {"status": "ok", "restart": bool(ctx.request.content.get("restart", False))}


def _error(ename: str, evalue: str) -> dict[str, Any]:
    return {"status": "error", "ename": ename, "evalue": evalue, "traceback": []}
