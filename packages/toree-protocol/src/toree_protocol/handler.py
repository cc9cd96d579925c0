"""What a kernel implements: a typed handler Protocol and the fixed table that routes to it.

The table (``ROUTES``) is the only link from a message type to code: a client can never name a
method (``__init__``, ``close`` ...) by sending it as a message type. Each route says how the
content is parsed, which handler method answers, and whether the control channel serves it.
``HandlerDefaults`` answers what a small kernel need not implement.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from .messages import PROTOCOL_VERSION, Message
from .requests import (
    CommInfoRequest,
    CommMessage,
    CompleteRequest,
    CreateSubshellRequest,
    DeleteSubshellRequest,
    ExecuteRequest,
    HistoryRequest,
    InspectRequest,
    InterruptRequest,
    IsCompleteRequest,
    KernelInfoRequest,
    ListSubshellRequest,
    RawRequest,
    ShutdownRequest,
)

# A reply's content, or (content, metadata); None for notifications (or "ok" for requests).
Reply = Mapping[str, Any] | tuple[Mapping[str, Any], Mapping[str, Any]] | None


class Unsupported(Exception):
    """This kernel does not handle the message type (answered as ``UnknownMessageType``)."""


class SubshellControl(Protocol):
    """The driver's subshells (JEP 91): it owns their threads (``server.py``)."""

    def create(self) -> str:
        """A new subshell, running; its id."""

    def delete(self, subshell_id: str) -> None:
        """Stop a subshell once its queued messages are done (``subshells.UnknownSubshell`` if none)."""

    def list(self) -> list[str]: ...


class Context(Protocol):
    """What a handler method gets besides its typed request (``server.RequestContext`` is one)."""

    @property
    def message(self) -> Message: ...

    @property
    def channel(self) -> str: ...

    def publish(self, msg_type: str, content: Mapping[str, Any], **options: Any) -> None:
        """IOPub with the request as parent; ``options``: ``metadata``, ``buffers``."""

    def input(self, prompt: str, password: bool = False) -> str: ...

    @property
    def subshells(self) -> SubshellControl: ...


class KernelHandler(Protocol):
    """One method per message type; requests return their reply content (see ``Reply``)."""

    def kernel_info_request(self, request: KernelInfoRequest, ctx: Context) -> Reply: ...
    def execute_request(self, request: ExecuteRequest, ctx: Context) -> Reply: ...
    def complete_request(self, request: CompleteRequest, ctx: Context) -> Reply: ...
    def inspect_request(self, request: InspectRequest, ctx: Context) -> Reply: ...
    def is_complete_request(self, request: IsCompleteRequest, ctx: Context) -> Reply: ...
    def history_request(self, request: HistoryRequest, ctx: Context) -> Reply: ...
    def comm_info_request(self, request: CommInfoRequest, ctx: Context) -> Reply: ...
    def interrupt_request(self, request: InterruptRequest, ctx: Context) -> Reply: ...
    def shutdown_request(self, request: ShutdownRequest, ctx: Context) -> Reply: ...
    def debug_request(self, request: RawRequest, ctx: Context) -> Reply: ...
    def usage_request(self, request: RawRequest, ctx: Context) -> Reply: ...
    def comm_open(self, request: CommMessage, ctx: Context) -> Reply: ...
    def comm_msg(self, request: CommMessage, ctx: Context) -> Reply: ...
    def comm_close(self, request: CommMessage, ctx: Context) -> Reply: ...
    def create_subshell_request(self, request: CreateSubshellRequest, ctx: Context) -> Reply: ...
    def delete_subshell_request(self, request: DeleteSubshellRequest, ctx: Context) -> Reply: ...
    def list_subshell_request(self, request: ListSubshellRequest, ctx: Context) -> Reply: ...


def _unsupported(msg_type: str) -> Callable[[Any, Any, Context], Reply]:
    def handle(self: Any, request: Any, ctx: Context) -> Reply:
        raise Unsupported(msg_type)

    return handle


class HandlerDefaults:
    """Base class for handlers: a minimal kernel_info, shutdown and interrupt; the rest unsupported."""

    def kernel_info_request(self, request: KernelInfoRequest, ctx: Context) -> Reply:
        return kernel_info(
            implementation="toree_protocol",
            implementation_version="0",
            language_info={
                "name": "unknown",
                "version": "",
                "mimetype": "text/plain",
                "file_extension": ".txt",
            },
            supported_features=["kernel subshells"],  # KernelServer runs them; these defaults keep no state
        )

    def interrupt_request(self, request: InterruptRequest, ctx: Context) -> Reply:
        # interrupt_mode "message" ends in the same SIGINT handler as interrupt_mode "signal".
        os.kill(os.getpid(), signal.SIGINT)
        return {"status": "ok"}

    def shutdown_request(self, request: ShutdownRequest, ctx: Context) -> Reply:
        return {"status": "ok", "restart": request.restart}

    # Subshells: the driver runs them; a kernel that cannot run code concurrently may refuse executes there.
    def create_subshell_request(self, request: CreateSubshellRequest, ctx: Context) -> Reply:
        return {"status": "ok", "subshell_id": ctx.subshells.create()}

    def delete_subshell_request(self, request: DeleteSubshellRequest, ctx: Context) -> Reply:
        ctx.subshells.delete(request.subshell_id)
        return {"status": "ok"}

    def list_subshell_request(self, request: ListSubshellRequest, ctx: Context) -> Reply:
        return {"status": "ok", "subshell_id": ctx.subshells.list()}

    # The rest: this kernel does not handle them (requests get an UnknownMessageType error reply).
    execute_request = _unsupported("execute_request")
    complete_request = _unsupported("complete_request")
    inspect_request = _unsupported("inspect_request")
    is_complete_request = _unsupported("is_complete_request")
    history_request = _unsupported("history_request")
    comm_info_request = _unsupported("comm_info_request")
    debug_request = _unsupported("debug_request")
    usage_request = _unsupported("usage_request")
    comm_open = _unsupported("comm_open")
    comm_msg = _unsupported("comm_msg")
    comm_close = _unsupported("comm_close")


def kernel_info(
    *,
    implementation: str,
    implementation_version: str,
    language_info: Mapping[str, Any],
    banner: str = "",
    help_links: Sequence[Mapping[str, str]] = (),
    supported_features: Sequence[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A kernel_info_reply's content; the protocol version comes from ``messages.PROTOCOL_VERSION``.
    ``supported_features`` (JEP 92): ``"kernel subshells"`` only from a handler whose requests may run on
    several threads at once (``KernelServer`` serves each subshell on a thread of its own)."""
    return {
        "status": "ok",
        "protocol_version": PROTOCOL_VERSION,
        "implementation": implementation,
        "implementation_version": implementation_version,
        "language_info": dict(language_info),
        "banner": banner,
        "help_links": [dict(link) for link in help_links],
        "supported_features": list(supported_features),
        **extra,
    }


@attrs.frozen
class Route:
    parse: Callable[[Mapping[str, Any]], Any]
    call: Callable[[KernelHandler, Any, Context], Reply]
    control: bool = False  # served on control too: answered while a cell runs, never touches an interpreter
    request: bool = True  # False: a notification, which gets no reply
    shell: bool = True  # False: served on control only (subshell management)


ROUTES: Mapping[str, Route] = {
    "kernel_info_request": Route(KernelInfoRequest.parse, lambda h, r, c: h.kernel_info_request(r, c), True),
    "execute_request": Route(ExecuteRequest.parse, lambda h, r, c: h.execute_request(r, c)),
    "complete_request": Route(CompleteRequest.parse, lambda h, r, c: h.complete_request(r, c)),
    "inspect_request": Route(InspectRequest.parse, lambda h, r, c: h.inspect_request(r, c)),
    "is_complete_request": Route(IsCompleteRequest.parse, lambda h, r, c: h.is_complete_request(r, c)),
    "history_request": Route(HistoryRequest.parse, lambda h, r, c: h.history_request(r, c)),
    "comm_info_request": Route(CommInfoRequest.parse, lambda h, r, c: h.comm_info_request(r, c), True),
    "interrupt_request": Route(InterruptRequest.parse, lambda h, r, c: h.interrupt_request(r, c), True),
    "shutdown_request": Route(ShutdownRequest.parse, lambda h, r, c: h.shutdown_request(r, c), True),
    "debug_request": Route(RawRequest.parse, lambda h, r, c: h.debug_request(r, c), True),
    "usage_request": Route(RawRequest.parse, lambda h, r, c: h.usage_request(r, c), True),
    "create_subshell_request": Route(
        CreateSubshellRequest.parse, lambda h, r, c: h.create_subshell_request(r, c), True, shell=False
    ),
    "delete_subshell_request": Route(
        DeleteSubshellRequest.parse, lambda h, r, c: h.delete_subshell_request(r, c), True, shell=False
    ),
    "list_subshell_request": Route(
        ListSubshellRequest.parse, lambda h, r, c: h.list_subshell_request(r, c), True, shell=False
    ),
    "comm_open": Route(CommMessage.parse, lambda h, r, c: h.comm_open(r, c), request=False),
    "comm_msg": Route(CommMessage.parse, lambda h, r, c: h.comm_msg(r, c), request=False),
    "comm_close": Route(CommMessage.parse, lambda h, r, c: h.comm_close(r, c), request=False),
}
CONTROL_TYPES = frozenset(t for t, route in ROUTES.items() if route.control)
