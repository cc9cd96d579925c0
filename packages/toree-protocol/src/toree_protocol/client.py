"""A client for any Jupyter kernel, for applications that talk 0MQ directly (no jupyter_client).

``KernelClient`` is synchronous, ``AsyncKernelClient`` the asyncio flavour; both drive the same
sans-IO pieces: ``requests`` builds request messages and ``Execution`` tracks one execute request
(its outputs, reply and final ``idle``). IOPub messages of other requests are kept per parent, so
output is never lost to whoever waits for it next.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import attrs
import zmq
import zmq.asyncio

from .codec import deserialize, serialize
from .connection import ConnectionInfo, read_connection_file
from .messages import Message, ProtocolError, new_id, new_message

log = logging.getLogger(__name__)

OnOutput = Callable[[Message], None]
_EXECUTE_CHANNELS = ("iopub", "shell", "stdin")
OnInput = Callable[[str, bool], str]


@attrs.frozen
class ExecuteResult:
    reply: Message
    outputs: list[Message]  # IOPub messages of this request, in order, status messages excluded

    @property
    def status(self) -> str:
        return str(self.reply.content.get("status"))

    @property
    def execution_count(self) -> int | None:
        return self.reply.content.get("execution_count")

    def _stream(self, name: str) -> str:
        return "".join(
            m.content.get("text", "")
            for m in self.outputs
            if m.msg_type == "stream" and m.content.get("name") == name
        )

    @property
    def stdout(self) -> str:
        return self._stream("stdout")

    @property
    def stderr(self) -> str:
        return self._stream("stderr")

    @property
    def error(self) -> dict[str, Any] | None:
        return dict(self.reply.content) if self.status == "error" else None

    @property
    def data(self) -> list[dict[str, Any]]:
        """The MIME bundles of execute_result and display_data outputs."""
        return [
            dict(m.content["data"]) for m in self.outputs if m.msg_type in ("execute_result", "display_data")
        ]


def execute_content(
    code: str,
    *,
    silent: bool = False,
    store_history: bool = True,
    user_expressions: Mapping[str, str] | None = None,
    allow_stdin: bool = False,
    stop_on_error: bool = True,
) -> dict[str, Any]:
    return {
        "code": code,
        "silent": silent,
        "store_history": store_history,
        "user_expressions": dict(user_expressions or {}),
        "allow_stdin": allow_stdin,
        "stop_on_error": stop_on_error,
    }


class Execution:
    """Sans-IO state of one execute request: feed it messages, it says what to emit and when it is done."""

    def __init__(self, request: Message) -> None:
        self.request = request
        self.reply: Message | None = None
        self.idle = False
        self.outputs: list[Message] = []

    def owns(self, msg: Message) -> bool:
        return msg.parent_header.get("msg_id") == self.request.msg_id

    def feed(self, channel: str, msg: Message) -> Message | None:
        """Returns the message if it is an output to hand to the caller."""
        if channel == "shell":
            self.reply = msg
            return None
        if msg.msg_type == "status":
            self.idle = self.idle or msg.content.get("execution_state") == "idle"
            return None
        self.outputs.append(msg)
        return msg

    @property
    def done(self) -> bool:
        return self.reply is not None and self.idle

    def result(self) -> ExecuteResult:
        assert self.reply is not None
        return ExecuteResult(self.reply, self.outputs)


class _Base:
    """Sockets, signing and routing shared by the sync and async clients."""

    def __init__(
        self,
        connection: ConnectionInfo,
        context: zmq.Context,
        *,
        session: str | None = None,
        username: str | None = None,
    ) -> None:
        self.connection = connection
        self.session = session or new_id()
        self.username = username
        self._signer = connection.signer()
        self._context = context
        identity = uuid.uuid4().hex.encode()
        self._sockets: dict[str, zmq.Socket] = {}
        for channel, kind in (
            ("shell", zmq.DEALER),
            ("control", zmq.DEALER),
            ("stdin", zmq.DEALER),
            ("iopub", zmq.SUB),
        ):
            sock = context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            if channel in ("shell", "stdin"):
                sock.setsockopt(zmq.IDENTITY, identity)  # the kernel routes input_request by it
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(connection.url(channel))
            self._sockets[channel] = sock
        # Messages waiting for whoever asks: (channel, parent msg_id) -> messages.
        self._stash: defaultdict[tuple[str, str], deque[Message]] = defaultdict(deque)
        self.iopub_seen = False

    def _message(self, msg_type: str, content: Mapping[str, Any] | None = None) -> Message:
        return new_message(msg_type, content, session=self.session, username=self.username)

    def _frames(self, msg: Message) -> list[bytes]:
        return serialize(msg, self._signer)

    def _decode(self, channel: str, frames: list[bytes]) -> Message | None:
        try:
            msg = deserialize(frames, self._signer)
        except ProtocolError as exc:
            log.warning("dropped a message from the kernel on %s: %s", channel, exc)
            return None
        if channel == "iopub":
            self.iopub_seen = True
        return msg

    def _input_reply(self, request: Message, on_input: OnInput | None) -> Message:
        """Answer an input_request (an empty line when the caller gave no way to ask the user)."""
        prompt, password = request.content.get("prompt", ""), bool(request.content.get("password"))
        value = on_input(prompt, password) if on_input is not None else ""
        return new_message("input_reply", {"value": value}, session=self.session, parent=request)

    def _execute_request(
        self, code: str, on_input: OnInput | None, allow_stdin: bool | None, options: dict[str, Any]
    ) -> Message:
        allow = on_input is not None if allow_stdin is None else allow_stdin
        return self._message("execute_request", execute_content(code, allow_stdin=allow, **options))

    def _earlier_outputs(self, run: Execution) -> list[Message]:
        """This request's messages that arrived while we were waiting for something else."""
        outputs = []
        for channel in ("iopub", "shell"):
            while (early := self._take(channel, run.request.msg_id)) is not None:
                if (out := run.feed(channel, early)) is not None:
                    outputs.append(out)
        return outputs

    def _route(
        self, run: Execution, channel: str, msg: Message, on_input: OnInput | None
    ) -> tuple[Message | None, Message | None]:
        """(an output to hand to the caller, an input_reply to send) for one received message."""
        if channel == "stdin":
            return None, self._input_reply(msg, on_input) if msg.msg_type == "input_request" else None
        if not run.owns(msg):
            self._keep(channel, msg)
            return None, None
        return run.feed(channel, msg), None

    def _take(self, channel: str, parent_id: str) -> Message | None:
        queue = self._stash.get((channel, parent_id))
        return queue.popleft() if queue else None

    def _keep(self, channel: str, msg: Message) -> None:
        self._stash[(channel, str(msg.parent_header.get("msg_id", "")))].append(msg)
        if len(self._stash) > 1000:  # nobody waits for these: forget the oldest parents
            self._stash.pop(next(iter(self._stash)))


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None, what: str) -> int:
    """Milliseconds left for a poll (-1: forever); TimeoutError naming ``what`` once it has passed."""
    if deadline is None:
        return -1
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"timed out waiting for {what}")
    return max(1, int(left * 1000))


class KernelClient(_Base):
    """Synchronous client. Not thread-safe: use one per thread."""

    def __init__(
        self, connection: ConnectionInfo, *, session: str | None = None, username: str | None = None
    ):
        super().__init__(connection, zmq.Context(), session=session, username=username)
        self._hb = self._new_hb()

    @classmethod
    def from_connection_file(cls, path: str | os.PathLike[str], **kw: Any) -> KernelClient:
        return cls(read_connection_file(path), **kw)

    # Plumbing -------------------------------------------------------------------------------------
    def _send(self, channel: str, msg: Message) -> Message:
        self._sockets[channel].send_multipart(self._frames(msg))
        return msg

    def _next(self, channels: tuple[str, ...], deadline: float | None, what: str) -> tuple[str, Message]:
        poller = zmq.Poller()
        for channel in channels:
            poller.register(self._sockets[channel], zmq.POLLIN)
        while True:
            events = dict(poller.poll(_remaining(deadline, what)))
            for channel in channels:
                if self._sockets[channel] in events:
                    msg = self._decode(channel, self._sockets[channel].recv_multipart())
                    if msg is not None:
                        return channel, msg

    def _request(self, channel: str, msg_type: str, content: Mapping[str, Any] | None, timeout: float | None):
        request = self._send(channel, self._message(msg_type, content))
        deadline, what = _deadline(timeout), f"{msg_type} reply"
        while (reply := self._take(channel, request.msg_id)) is None:
            got_channel, msg = self._next((channel,), deadline, what)
            self._keep(got_channel, msg)
        return reply

    # Requests -------------------------------------------------------------------------------------
    def kernel_info(self, timeout: float | None = 10) -> Message:
        return self._request("shell", "kernel_info_request", {}, timeout)

    def wait_for_ready(self, timeout: float = 30) -> Message:
        """kernel_info answered and IOPub connected (so no output of the next request is lost)."""
        deadline = _deadline(timeout)
        while True:
            try:
                reply = self.kernel_info(timeout=min(1.0, max(0.01, deadline - time.monotonic())))  # type: ignore[operator]
            except TimeoutError:
                _remaining(deadline, "the kernel to answer kernel_info")
                continue
            poll_until = _deadline(0.5)
            while not self.iopub_seen and time.monotonic() < poll_until:  # type: ignore[operator]
                if self._sockets["iopub"].poll(50):
                    msg = self._decode("iopub", self._sockets["iopub"].recv_multipart())
                    if msg is not None:
                        self._keep("iopub", msg)
            if self.iopub_seen:
                return reply
            _remaining(deadline, "IOPub to connect")

    def execute_iter(
        self,
        code: str,
        *,
        on_input: OnInput | None = None,
        allow_stdin: bool | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> Iterator[Message]:
        """Yield each output of this request as it arrives, then the execute_reply."""
        run = Execution(self._send("shell", self._execute_request(code, on_input, allow_stdin, options)))
        yield from self._earlier_outputs(run)
        deadline = _deadline(timeout)
        while not run.done:
            channel, msg = self._next(_EXECUTE_CHANNELS, deadline, "execute to finish")
            output, answer = self._route(run, channel, msg, on_input)
            if answer is not None:
                self._send("stdin", answer)
            if output is not None:
                yield output
        assert run.reply is not None
        yield run.reply

    def execute(self, code: str, *, on_output: OnOutput | None = None, **kw: Any) -> ExecuteResult:
        outputs: list[Message] = []
        reply = None
        for msg in self.execute_iter(code, **kw):
            if msg.msg_type == "execute_reply":
                reply = msg
            else:
                outputs.append(msg)
                if on_output is not None:
                    on_output(msg)
        assert reply is not None
        return ExecuteResult(reply, outputs)

    def complete(self, code: str, cursor_pos: int | None = None, timeout: float | None = 10) -> Message:
        pos = len(code) if cursor_pos is None else cursor_pos
        return self._request("shell", "complete_request", {"code": code, "cursor_pos": pos}, timeout)

    def inspect(
        self, code: str, cursor_pos: int | None = None, detail_level: int = 0, timeout: float | None = 10
    ):
        pos = len(code) if cursor_pos is None else cursor_pos
        content = {"code": code, "cursor_pos": pos, "detail_level": detail_level}
        return self._request("shell", "inspect_request", content, timeout)

    def is_complete(self, code: str, timeout: float | None = 10) -> Message:
        return self._request("shell", "is_complete_request", {"code": code}, timeout)

    def history(self, timeout: float | None = 10, **content: Any) -> Message:
        content.setdefault("hist_access_type", "tail")
        content.setdefault("output", False)
        content.setdefault("raw", True)
        return self._request("shell", "history_request", content, timeout)

    def comm_info(self, target_name: str | None = None, timeout: float | None = 10) -> Message:
        content = {} if target_name is None else {"target_name": target_name}
        return self._request("shell", "comm_info_request", content, timeout)

    def interrupt(self, timeout: float | None = 10) -> Message:
        return self._request("control", "interrupt_request", {}, timeout)

    def shutdown(self, restart: bool = False, timeout: float | None = 10) -> Message:
        return self._request("control", "shutdown_request", {"restart": restart}, timeout)

    # Heartbeat ------------------------------------------------------------------------------------
    def _new_hb(self) -> zmq.Socket:
        sock = self._context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.connection.url("hb"))
        return sock

    def is_alive(self, timeout: float = 1.0) -> bool:
        self._hb.send(b"ping")
        if self._hb.poll(int(timeout * 1000)):
            return self._hb.recv() == b"ping"
        self._hb.close()  # a REQ socket that missed its answer cannot send again
        self._hb = self._new_hb()
        return False

    def close(self) -> None:
        for sock in [*self._sockets.values(), self._hb]:
            sock.close(linger=0)
        self._context.term()

    def __enter__(self) -> KernelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncKernelClient(_Base):
    """asyncio client: the same requests as coroutines, outputs as an async iterator."""

    def __init__(
        self, connection: ConnectionInfo, *, session: str | None = None, username: str | None = None
    ):
        super().__init__(connection, zmq.asyncio.Context(), session=session, username=username)

    async def _send(self, channel: str, msg: Message) -> Message:
        await self._sockets[channel].send_multipart(self._frames(msg))
        return msg

    async def _next(
        self, channels: tuple[str, ...], deadline: float | None, what: str
    ) -> tuple[str, Message]:
        poller = zmq.asyncio.Poller()
        for channel in channels:
            poller.register(self._sockets[channel], zmq.POLLIN)
        while True:
            events = dict(await poller.poll(_remaining(deadline, what)))
            for channel in channels:
                if self._sockets[channel] in events:
                    msg = self._decode(channel, await self._sockets[channel].recv_multipart())
                    if msg is not None:
                        return channel, msg

    async def _request(
        self, channel: str, msg_type: str, content: Mapping[str, Any] | None, timeout: float | None
    ):
        request = await self._send(channel, self._message(msg_type, content))
        deadline = _deadline(timeout)
        while (reply := self._take(channel, request.msg_id)) is None:
            got_channel, msg = await self._next((channel,), deadline, f"{msg_type} reply")
            self._keep(got_channel, msg)
        return reply

    async def kernel_info(self, timeout: float | None = 10) -> Message:
        return await self._request("shell", "kernel_info_request", {}, timeout)

    async def wait_for_ready(self, timeout: float = 30) -> Message:
        deadline = _deadline(timeout)
        while True:
            try:
                reply = await self.kernel_info(timeout=1.0)
            except TimeoutError:
                _remaining(deadline, "the kernel to answer kernel_info")
                continue
            try:
                _, msg = await self._next(("iopub",), _deadline(0.5), "IOPub")
                self._keep("iopub", msg)
            except TimeoutError:
                pass
            if self.iopub_seen:
                return reply
            _remaining(deadline, "IOPub to connect")

    async def execute_iter(
        self,
        code: str,
        *,
        on_input: OnInput | None = None,
        allow_stdin: bool | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> AsyncIterator[Message]:
        run = Execution(
            await self._send("shell", self._execute_request(code, on_input, allow_stdin, options))
        )
        for output in self._earlier_outputs(run):
            yield output
        deadline = _deadline(timeout)
        while not run.done:
            channel, msg = await self._next(_EXECUTE_CHANNELS, deadline, "execute to finish")
            output, answer = self._route(run, channel, msg, on_input)
            if answer is not None:
                await self._send("stdin", answer)
            if output is not None:
                yield output
        assert run.reply is not None
        yield run.reply

    async def execute(self, code: str, *, on_output: OnOutput | None = None, **kw: Any) -> ExecuteResult:
        outputs: list[Message] = []
        reply = None
        async for msg in self.execute_iter(code, **kw):
            if msg.msg_type == "execute_reply":
                reply = msg
            else:
                outputs.append(msg)
                if on_output is not None:
                    on_output(msg)
        assert reply is not None
        return ExecuteResult(reply, outputs)

    async def interrupt(self, timeout: float | None = 10) -> Message:
        return await self._request("control", "interrupt_request", {}, timeout)

    async def shutdown(self, restart: bool = False, timeout: float | None = 10) -> Message:
        return await self._request("control", "shutdown_request", {"restart": restart}, timeout)

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close(linger=0)
        self._context.term()

    async def __aenter__(self) -> AsyncKernelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
