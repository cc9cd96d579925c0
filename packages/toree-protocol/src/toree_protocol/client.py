"""A client for any Jupyter kernel, for applications that talk 0MQ directly (no jupyter_client).

``KernelClient`` is synchronous, ``AsyncKernelClient`` the asyncio face of the same client: both
offer the same requests and drive the same sans-IO ``client_core.ClientCore`` (request contents,
signing, routing of messages to whoever waits for them); only the socket calls differ here.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Self

import zmq
import zmq.asyncio

from .client_core import (
    EXECUTE_CHANNELS,
    ClientCore,
    Collector,
    ExecuteResult,
    Execution,
    OnInput,
    OnOutput,
    comm_info_content,
    complete_content,
    deadline,
    execute_content,
    history_content,
    inspect_content,
    probe_timeout,
    remaining,
)
from .connection import ConnectionInfo, read_connection_file
from .messages import Message

__all__ = ["AsyncKernelClient", "ExecuteResult", "Execution", "KernelClient", "execute_content"]

_SOCKET_KINDS = (("shell", zmq.DEALER), ("control", zmq.DEALER), ("stdin", zmq.DEALER), ("iopub", zmq.SUB))


class _Base:
    """The sockets of one client (sync or asyncio, by ``context``) around its ``ClientCore``."""

    def __init__(
        self,
        connection: ConnectionInfo,
        context: zmq.Context,
        *,
        session: str | None = None,
        username: str | None = None,
    ) -> None:
        self.connection = connection
        self.core = ClientCore(connection.signer(), session or uuid.uuid4().hex, username)
        self.session = self.core.session
        self._context = context
        identity = uuid.uuid4().hex.encode()
        self._sockets: dict[str, zmq.Socket] = {}
        for channel, kind in _SOCKET_KINDS:
            sock = context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            if channel in ("shell", "stdin"):
                sock.setsockopt(zmq.IDENTITY, identity)  # the kernel routes input_request by it
            if kind == zmq.SUB:
                sock.setsockopt(zmq.SUBSCRIBE, b"")
            sock.connect(connection.url(channel))
            self._sockets[channel] = sock
        self._hb = self._new_hb()

    @classmethod
    def from_connection_file(cls, path: str | os.PathLike[str], **kw: Any) -> Self:
        return cls(read_connection_file(path), **kw)

    @property
    def iopub_seen(self) -> bool:
        return self.core.iopub_seen

    def _message(self, msg_type: str, content: Mapping[str, Any] | None = None) -> Message:
        return self.core.message(msg_type, content)

    def _new_hb(self) -> zmq.Socket:
        sock = self._context.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.connection.url("hb"))
        return sock

    def _hb_missed(self) -> bool:
        self._hb.close()  # a REQ socket that missed its answer cannot send again
        self._hb = self._new_hb()
        return False

    def close(self) -> None:
        for sock in [*self._sockets.values(), self._hb]:
            sock.close(linger=0)
        self._context.term()


class KernelClient(_Base):
    """Synchronous client. Not thread-safe: use one per thread."""

    def __init__(
        self, connection: ConnectionInfo, *, session: str | None = None, username: str | None = None
    ):
        super().__init__(connection, zmq.Context(), session=session, username=username)

    # Plumbing -------------------------------------------------------------------------------------
    def _send(self, channel: str, msg: Message) -> Message:
        self._sockets[channel].send_multipart(self.core.encode(msg))
        return msg

    def _next(self, channels: tuple[str, ...], until: float | None, what: str) -> tuple[str, Message]:
        poller = zmq.Poller()
        for channel in channels:
            poller.register(self._sockets[channel], zmq.POLLIN)
        while True:
            events = dict(poller.poll(remaining(until, what)))
            for channel in channels:
                if self._sockets[channel] in events:
                    msg = self.core.decode(channel, self._sockets[channel].recv_multipart())
                    if msg is not None:
                        return channel, msg

    def _request(
        self, channel: str, msg_type: str, content: Mapping[str, Any] | None, timeout: float | None
    ) -> Message:
        request = self._send(channel, self._message(msg_type, content))
        until, what = deadline(timeout), f"{msg_type} reply"
        while (reply := self.core.take(channel, request.msg_id)) is None:
            got_channel, msg = self._next((channel,), until, what)
            self.core.keep(got_channel, msg)
        return reply

    # Requests -------------------------------------------------------------------------------------
    def kernel_info(self, timeout: float | None = 10) -> Message:
        return self._request("shell", "kernel_info_request", {}, timeout)

    def wait_for_ready(self, timeout: float = 30) -> Message:
        """kernel_info answered and IOPub connected (so no output of the next request is lost)."""
        end = time.monotonic() + timeout
        while True:
            try:
                reply = self.kernel_info(timeout=probe_timeout(end))
            except TimeoutError:
                remaining(end, "the kernel to answer kernel_info")
                continue
            poll_until = time.monotonic() + 0.5
            while not self.iopub_seen and time.monotonic() < poll_until:
                if self._sockets["iopub"].poll(50):
                    msg = self.core.decode("iopub", self._sockets["iopub"].recv_multipart())
                    if msg is not None:
                        self.core.keep("iopub", msg)
            if self.iopub_seen:
                return reply
            remaining(end, "IOPub to connect")

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
        run = Execution(self._send("shell", self.core.execute_request(code, on_input, allow_stdin, options)))
        yield from self.core.earlier_outputs(run)
        until = deadline(timeout)
        while not run.done:
            channel, msg = self._next(EXECUTE_CHANNELS, until, "execute to finish")
            output, answer = self.core.route(run, channel, msg, on_input)
            if answer is not None:
                self._send("stdin", answer)
            if output is not None:
                yield output
        assert run.reply is not None
        yield run.reply

    def execute(self, code: str, *, on_output: OnOutput | None = None, **kw: Any) -> ExecuteResult:
        collector = Collector(on_output)
        for msg in self.execute_iter(code, **kw):
            collector.add(msg)
        return collector.result()

    def complete(self, code: str, cursor_pos: int | None = None, timeout: float | None = 10) -> Message:
        return self._request("shell", "complete_request", complete_content(code, cursor_pos), timeout)

    def inspect(
        self, code: str, cursor_pos: int | None = None, detail_level: int = 0, timeout: float | None = 10
    ) -> Message:
        content = inspect_content(code, cursor_pos, detail_level)
        return self._request("shell", "inspect_request", content, timeout)

    def is_complete(self, code: str, timeout: float | None = 10) -> Message:
        return self._request("shell", "is_complete_request", {"code": code}, timeout)

    def history(self, timeout: float | None = 10, **content: Any) -> Message:
        return self._request("shell", "history_request", history_content(content), timeout)

    def comm_info(self, target_name: str | None = None, timeout: float | None = 10) -> Message:
        return self._request("shell", "comm_info_request", comm_info_content(target_name), timeout)

    def interrupt(self, timeout: float | None = 10) -> Message:
        return self._request("control", "interrupt_request", {}, timeout)

    def shutdown(self, restart: bool = False, timeout: float | None = 10) -> Message:
        return self._request("control", "shutdown_request", {"restart": restart}, timeout)

    def is_alive(self, timeout: float = 1.0) -> bool:
        """The heartbeat echoes within ``timeout``."""
        self._hb.send(b"ping")
        if self._hb.poll(int(timeout * 1000)):
            return self._hb.recv() == b"ping"
        return self._hb_missed()

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

    # Plumbing -------------------------------------------------------------------------------------
    async def _send(self, channel: str, msg: Message) -> Message:
        await self._sockets[channel].send_multipart(self.core.encode(msg))  # type: ignore[misc]
        return msg

    async def _next(self, channels: tuple[str, ...], until: float | None, what: str) -> tuple[str, Message]:
        poller = zmq.asyncio.Poller()
        for channel in channels:
            poller.register(self._sockets[channel], zmq.POLLIN)
        while True:
            events = dict(await poller.poll(remaining(until, what)))
            for channel in channels:
                if self._sockets[channel] in events:
                    frames = await self._sockets[channel].recv_multipart()  # type: ignore[misc]
                    msg = self.core.decode(channel, frames)
                    if msg is not None:
                        return channel, msg

    async def _request(
        self, channel: str, msg_type: str, content: Mapping[str, Any] | None, timeout: float | None
    ) -> Message:
        request = await self._send(channel, self._message(msg_type, content))
        until = deadline(timeout)
        while (reply := self.core.take(channel, request.msg_id)) is None:
            got_channel, msg = await self._next((channel,), until, f"{msg_type} reply")
            self.core.keep(got_channel, msg)
        return reply

    # Requests -------------------------------------------------------------------------------------
    async def kernel_info(self, timeout: float | None = 10) -> Message:
        return await self._request("shell", "kernel_info_request", {}, timeout)

    async def wait_for_ready(self, timeout: float = 30) -> Message:
        """kernel_info answered and IOPub connected (so no output of the next request is lost)."""
        until = time.monotonic() + timeout
        while True:
            try:
                reply = await self.kernel_info(timeout=probe_timeout(until))
            except TimeoutError:
                remaining(until, "the kernel to answer kernel_info")
                continue
            try:
                _, msg = await self._next(("iopub",), deadline(0.5), "IOPub")
                self.core.keep("iopub", msg)
            except TimeoutError:
                pass
            if self.iopub_seen:
                return reply
            remaining(until, "IOPub to connect")

    async def execute_iter(
        self,
        code: str,
        *,
        on_input: OnInput | None = None,
        allow_stdin: bool | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> AsyncIterator[Message]:
        """Yield each output of this request as it arrives, then the execute_reply."""
        request = self.core.execute_request(code, on_input, allow_stdin, options)
        run = Execution(await self._send("shell", request))
        for early in self.core.earlier_outputs(run):
            yield early
        until = deadline(timeout)
        while not run.done:
            channel, msg = await self._next(EXECUTE_CHANNELS, until, "execute to finish")
            output, answer = self.core.route(run, channel, msg, on_input)
            if answer is not None:
                await self._send("stdin", answer)
            if output is not None:
                yield output
        assert run.reply is not None
        yield run.reply

    async def execute(self, code: str, *, on_output: OnOutput | None = None, **kw: Any) -> ExecuteResult:
        collector = Collector(on_output)
        async for msg in self.execute_iter(code, **kw):
            collector.add(msg)
        return collector.result()

    async def complete(self, code: str, cursor_pos: int | None = None, timeout: float | None = 10) -> Message:
        return await self._request("shell", "complete_request", complete_content(code, cursor_pos), timeout)

    async def inspect(
        self, code: str, cursor_pos: int | None = None, detail_level: int = 0, timeout: float | None = 10
    ) -> Message:
        content = inspect_content(code, cursor_pos, detail_level)
        return await self._request("shell", "inspect_request", content, timeout)

    async def is_complete(self, code: str, timeout: float | None = 10) -> Message:
        return await self._request("shell", "is_complete_request", {"code": code}, timeout)

    async def history(self, timeout: float | None = 10, **content: Any) -> Message:
        return await self._request("shell", "history_request", history_content(content), timeout)

    async def comm_info(self, target_name: str | None = None, timeout: float | None = 10) -> Message:
        return await self._request("shell", "comm_info_request", comm_info_content(target_name), timeout)

    async def interrupt(self, timeout: float | None = 10) -> Message:
        return await self._request("control", "interrupt_request", {}, timeout)

    async def shutdown(self, restart: bool = False, timeout: float | None = 10) -> Message:
        return await self._request("control", "shutdown_request", {"restart": restart}, timeout)

    async def is_alive(self, timeout: float = 1.0) -> bool:
        """The heartbeat echoes within ``timeout``."""
        await self._hb.send(b"ping")  # type: ignore[misc]
        if await self._hb.poll(int(timeout * 1000)):  # type: ignore[misc]
            return await self._hb.recv() == b"ping"  # type: ignore[misc]
        return self._hb_missed()

    async def __aenter__(self) -> AsyncKernelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
