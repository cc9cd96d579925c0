"""A generic kernel server: sockets and threads driving the sans-IO ``core.KernelCore``.

The handler implements ``handler.KernelHandler`` (typed requests in, reply content out). The core
decides what every message means and what its reply is; this module only moves frames: it
publishes ``status: busy`` / ``idle`` around every decoded message, sends the reply on the channel
the request came from, serves control on its own thread so interrupt/shutdown are answered while
a cell runs on the main thread, drains the queue when the core says an error aborts it, and logs
rejected input without letting a flood of it flood the log.

Shell messages are read by the shell channel thread (``shell_channel.py``), which hands each to its
shell: the main shell runs on the main thread, each subshell (JEP 91, created on control) on a
worker thread of its own, so a subshell answers while the main shell runs a long cell.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import zmq

from .connection import ConnectionInfo, write_connection_file
from .core import Dispatch, Event, Finished, KernelCore, Rejected
from .handler import CONTROL_TYPES, HandlerDefaults, KernelHandler, Reply, Unsupported
from .messages import Message, ProtocolError, new_id
from .requests import ExecuteRequest
from .shell_channel import ShellChannel, ShellQueue
from .sockets import Heartbeat, IOPubThread, bind_kernel_sockets
from .threads import service_thread

POLL_MS = 100

__all__ = [
    "CONTROL_TYPES",
    "HandlerDefaults",
    "KernelServer",
    "RequestContext",
    "StdinNotAllowed",
    "Subshells",
]


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
        """Ask the requesting client for a line (stdin channel). Main shell only."""
        if not (isinstance(self._request, ExecuteRequest) and self._request.allow_stdin):
            raise StdinNotAllowed("this client does not accept input requests (allow_stdin is false)")
        if self.message.header.subshell_id is not None:
            raise StdinNotAllowed("input requests are not available on a subshell, only on the main shell")
        return self._server._ask_stdin(self.message, prompt, password)

    @property
    def subshells(self) -> Subshells:
        return self._server.subshells


class Subshells:
    """``handler.SubshellControl``: subshells in the core's registry, each served on a thread of its own."""

    def __init__(self, server: KernelServer) -> None:
        self._server = server
        self._threads: list[threading.Thread] = []

    def create(self) -> str:
        work = ShellQueue()
        work.subshell_id = self._server.core.subshells.add(work)
        thread = threading.Thread(
            target=self._server._serve_shell,
            args=(work,),
            name=f"subshell-{work.subshell_id[:8]}",
            daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return work.subshell_id

    def delete(self, subshell_id: str) -> None:
        self._server.core.subshells.remove(subshell_id).stop()

    def list(self) -> list[str]:
        return self._server.core.subshells.ids()

    def close(self, timeout: float) -> None:
        for work in self._server.core.subshells.clear():
            work.stop()
        end = time.monotonic() + timeout
        for thread in self._threads:  # a subshell still in a cell is a daemon: it does not hold the exit up
            thread.join(timeout=max(0.0, end - time.monotonic()))


class KernelServer:
    def __init__(
        self,
        connection: ConnectionInfo,
        handler: KernelHandler,
        *,
        connection_file: str | os.PathLike[str] | None = None,
        session: str | None = None,
        log: logging.Logger | None = None,
        welcome: bool = True,
    ) -> None:
        """``welcome=False``: no ``iopub_welcome`` for new IOPub subscribers (for clients that take every
        IOPub message for a reply to one of their requests, such as the Kernel Gateway's notebook-http mode)."""
        self.connection = connection
        self.welcome = welcome
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
        self.subshells = Subshells(self)
        self._main = ShellQueue()  # the main shell's messages, served on the main thread
        self._replies_url = f"inproc://shell-replies-{new_id()}"
        self._reply_lock = threading.Lock()  # the shells' threads share the PUSH end of the replies pair
        self._shell: ShellChannel | None = None  # the shell socket's thread, once serving

    # Lifecycle -------------------------------------------------------------------------------------
    def bind(self) -> ConnectionInfo:
        self._sockets, self.connection = bind_kernel_sockets(self._context, self.connection)
        self._sockets["shell-replies"] = self._context.socket(zmq.PULL)  # the shell channel thread's
        self._sockets["shell-replies"].bind(self._replies_url)
        self._sockets["shell-push"] = self._context.socket(zmq.PUSH)  # any shell's, under _reply_lock
        self._sockets["shell-push"].connect(self._replies_url)
        if self._connection_file is not None:
            write_connection_file(self.connection, self._connection_file)
        welcome = (lambda topic: self.core.encode(self.core.welcome(topic))) if self.welcome else None
        self._iopub = IOPubThread(self._sockets["iopub"], welcome)
        self._iopub.start()
        return self.connection

    def serve_forever(self) -> None:
        """Serve the main shell on the calling (main) thread until ``stop()``; the shell socket, control,
        heartbeat and subshells on threads of their own."""
        if not self._sockets:
            self.bind()
        heartbeat = Heartbeat(self._sockets["hb"])
        control = service_thread(threading.Thread(target=self._serve_control, name="control", daemon=True))
        shell = ShellChannel(
            self._sockets["shell"],
            self._sockets["shell-replies"],
            self.core,
            self._main,
            unrouted=lambda done: self._answer("shell", done, list),
            reject=lambda note: self.rejects.note("shell", note),
            idle=self.rejects.flush,
            stop=self._stop,
            wake=self._push,
            poll_ms=POLL_MS,
        )
        service_thread(shell)  # routes shell messages: a debugger stopping a cell must not stop it
        self._shell = shell
        self._threads = [heartbeat, control, shell]
        for thread in self._threads:
            thread.start()
        self._publish(self.core.status(None, "starting"))
        self._serve_shell(self._main)

    def stop(self) -> None:
        self._stop.set()

    def close(self, timeout: float = 2.0) -> None:
        """Stop serving and close the sockets, waiting up to ``timeout`` s for each of the threads (a
        subshell still in a cell is a daemon thread: it does not hold the process up)."""
        self._stop.set()
        self.rejects.flush(force=True)
        for thread in self._threads:
            if isinstance(thread, Heartbeat):
                thread.stop()
            thread.join(timeout=timeout)
        self.subshells.close(timeout=timeout)
        if self._iopub is not None:
            self._iopub.stop()
            self._iopub.join(timeout=timeout)
            self._iopub.close()
        with self._reply_lock:
            for sock in self._sockets.values():
                sock.close(linger=0 if sock.socket_type in (zmq.PUSH, zmq.PULL) else None)
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
        frames = self.core.encode(msg)
        if channel == "shell":  # from any shell's thread: the shell channel thread sends it
            self._push(frames)
        else:
            self._sockets[channel].send_multipart(frames)

    def _push(self, frames: list[bytes]) -> None:
        """To the shell channel thread (a reply it sends on, or a ``CATCH_UP``), from any thread."""
        with self._reply_lock:
            self._sockets["shell-push"].send_multipart(frames)

    # Receiving -----------------------------------------------------------------------------------
    def _serve_control(self) -> None:
        sock = self._sockets["control"]
        while not self._stop.is_set():
            if not sock.poll(POLL_MS):
                self.rejects.flush()
                continue
            try:
                msg = self._decode("control", sock.recv_multipart())
                if msg is not None:
                    self._handle("control", msg, self._drain_control)
            except Exception:  # a bug of ours reading one message must not end the loop (and the kernel)
                self.log.exception("could not handle a message on control")

    def _serve_shell(self, work: ShellQueue) -> None:
        """One shell's messages in order: the main shell's on the main thread, a subshell's on its own."""
        while not self._stop.is_set():
            msg = work.get(POLL_MS / 1000)
            if msg is False:
                return  # the subshell was deleted
            if not isinstance(msg, Message):
                continue
            try:
                self._handle("shell", msg, lambda: self._drain_shell(work))
            except Exception:
                self.log.exception("could not handle a message on shell (subshell %s)", work.subshell_id)

    def _decode(self, channel: str, frames: list[bytes]) -> Message | None:
        msg = self.core.decode(frames)
        if isinstance(msg, Rejected):
            self.rejects.note(channel, msg.note)
            return None
        return msg

    def _drain_shell(self, work: ShellQueue) -> list[Message]:
        """A shell's queued messages, including any still on the socket (routed first)."""
        if self._shell is not None:
            self._shell.catch_up()
        return work.drain()

    def _drain_control(self) -> list[Message]:
        sock, drained = self._sockets["control"], []
        while sock.poll(0):
            msg = self._decode("control", sock.recv_multipart())
            if msg is not None:
                drained.append(msg)
        return drained

    def _handle(
        self, channel: str, msg: Message, drain: Callable[[], list[Message]], aborting: bool = False
    ) -> None:
        self._answer(channel, self.core.receive_message(channel, msg, aborting=aborting), drain)

    def _answer(self, channel: str, event: Event, drain: Callable[[], list[Message]]) -> None:
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
                pending = drain()  # only requests that arrived before the error is reported
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
            self._handle(channel, queued, drain, aborting=True)

    def _call(self, dispatch: Dispatch) -> Finished:
        try:
            result: Reply = dispatch.call(self.handler, RequestContext(self, dispatch))
        except Exception as exc:  # a handler bug must not take the kernel down
            if not isinstance(exc, (ProtocolError, Unsupported)):
                self.log.exception("handler for %s failed", dispatch.message.msg_type)
            return self.core.failed(dispatch, exc)
        return self.core.finish(dispatch, result)

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
