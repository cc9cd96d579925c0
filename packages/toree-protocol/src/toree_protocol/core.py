"""The kernel's protocol logic without sockets, in the spirit of h11's ``Connection``.

``KernelCore.receive`` turns the frames of one incoming message into an event: ``Rejected``
(nothing is answered, only logged), ``Finished`` (the core answered itself: a wrong channel, an
unknown type, invalid content, an execute aborted after an error) or ``Dispatch`` (a typed request
for the handler, whose result ``finish`` turns into the reply). The driver (``server.py``) owns
sockets and threads and sends, for every decoded message: ``status: busy``, the outputs, the reply,
``status: idle``; the core decides what the reply is, which channel may serve what, and when the
queue is aborted, and which subshell (JEP 91) a shell message runs on (``route_shell``). Pure and
thread-safe: its only state is the signatures seen and the subshell registry, both locked.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .codec import Signer, deserialize, serialize, split_identities
from .handler import ROUTES, KernelHandler, Reply, Route, Unsupported
from .messages import Message, ProtocolError, new_message, reply_to
from .requests import ExecuteRequest, InputReply
from .subshells import SubshellRegistry, UnknownSubshell


@attrs.frozen
class Rejected:
    """Input that gets no answer at all (bad frames or signature): only ``note`` it."""

    note: str


@attrs.frozen
class Finished:
    """What to send for ``message`` once its handling is over, in this order, between busy and idle."""

    message: Message
    reply: Message | None = None  # on the request's channel; None for notifications
    broadcast: Message | None = None  # on IOPub before the reply (shutdown_reply, for every client)
    abort_queue: bool = False  # drain the channel before replying and abort the executes found
    stop: bool = False  # the kernel stops once this is sent
    note: str | None = None  # for the reject log: the client sent something wrong


@attrs.frozen
class Dispatch:
    """A valid request for the handler: ``call`` it, then ``KernelCore.finish`` its result."""

    message: Message
    channel: str
    request: Any  # one of toree_protocol.requests' classes, as ``route`` parses it
    route: Route

    def call(self, handler: KernelHandler, ctx: Any) -> Reply:
        return self.route.call(handler, self.request, ctx)


def error_content(ename: str, evalue: str, tb: Sequence[str] = ()) -> dict[str, Any]:
    return {"status": "error", "ename": ename, "evalue": evalue, "traceback": list(tb)}


class SeenSignatures:
    """The signatures of the messages received so far (the newest ``limit``): a signed message that comes
    again is a replay, which an attacker who captured it could use to run its code twice. jupyter_client's
    Session keeps the same history. Shared by the channel threads, hence the lock."""

    def __init__(self, limit: int = 1 << 16) -> None:
        self.limit = limit
        self._seen: dict[bytes, None] = {}  # insertion-ordered: the oldest go first
        self._lock = threading.Lock()

    def first_time(self, signature: bytes) -> bool:
        with self._lock:
            if signature in self._seen:
                return False
            self._seen[signature] = None
            if len(self._seen) > self.limit:
                for old in list(itertools.islice(self._seen, len(self._seen) // 10)):
                    del self._seen[old]
            return True


class KernelCore:
    """Encodes, decodes, validates and answers on behalf of one kernel session."""

    def __init__(self, signer: Signer, session: str) -> None:
        self.signer = signer
        self.session = session
        self.seen = SeenSignatures()
        self.subshells: SubshellRegistry[Any] = SubshellRegistry()  # id -> the driver's worker

    # Outgoing --------------------------------------------------------------------------------------
    def encode(self, msg: Message) -> list[bytes]:
        return serialize(msg, self.signer)

    def iopub(
        self,
        msg_type: str,
        content: Mapping[str, Any],
        parent: Message | None = None,
        *,
        metadata: Mapping[str, Any] | None = None,
        buffers: Sequence[bytes] = (),
    ) -> Message:
        """An IOPub message, its topic ``kernel.<session>.<msg_type>`` as the identity."""
        topic = f"kernel.{self.session}.{msg_type}".encode()
        return new_message(
            msg_type,
            content,
            session=self.session,
            parent=parent,
            metadata=metadata,
            buffers=buffers,
            identities=[topic],
        )

    def status(self, parent: Message | None, state: str) -> Message:
        return self.iopub("status", {"execution_state": state}, parent)

    def welcome(self, topic: bytes) -> Message:
        """``iopub_welcome`` for a new subscriber (spec 5.4)."""
        content = {"subscription": topic.decode("utf-8", "replace")}
        return new_message("iopub_welcome", content, session=self.session, identities=[topic])

    def reply(self, request: Message, content: Mapping[str, Any], metadata: Any = None) -> Message:
        return reply_to(request, content, session=self.session, metadata=metadata)

    # Incoming --------------------------------------------------------------------------------------
    def decode(self, frames: Sequence[bytes]) -> Message | Rejected:
        try:
            msg = deserialize(frames, self.signer)
        except ProtocolError as exc:
            return Rejected(f"dropped: {exc}")
        signature = split_identities([bytes(f) for f in frames])[1][0]
        if signature and not self.seen.first_time(signature):
            return Rejected("dropped: a replay (this signature was seen before)")
        return msg

    def receive(self, channel: str, frames: Sequence[bytes], *, aborting: bool = False) -> Event:
        """The event for one message; ``aborting``: it was queued behind an execute that failed."""
        msg = self.decode(frames)
        if isinstance(msg, Rejected):
            return msg
        return self.receive_message(channel, msg, aborting=aborting)

    def receive_message(self, channel: str, msg: Message, *, aborting: bool = False) -> Event:
        """``receive`` for a message decoded already (shell messages: by the thread that routes them)."""
        msg_type = msg.msg_type
        is_request = msg_type.endswith("_request")
        route = ROUTES.get(msg_type)
        if route is None:
            if not is_request:
                return Finished(msg, note=f"ignored {msg_type[:100]!r}: no handler")
            return self._error(
                msg,
                "UnknownMessageType",
                f"this kernel does not handle {msg_type[:200]!r}",
                f"unknown request type {msg_type[:100]!r}",
            )
        if channel == "control" and not route.control:
            note = f"{msg_type!r} is not served on control"
            if not route.request:
                return Finished(msg, note=note)
            return self._error(msg, "WrongChannel", f"{msg_type!r} is served on shell, not on control", note)
        if channel == "shell" and not route.shell:
            note = f"{msg_type!r} is served on control only"
            return self._error(msg, "WrongChannel", f"{msg_type!r} is served on control, not on shell", note)
        try:
            request = route.parse(msg.content)
        except ProtocolError as exc:  # the content is not what the spec says: the client's fault
            return self._error(msg, "InvalidRequest", str(exc), f"invalid {msg_type}: {exc}", route)
        if aborting and isinstance(request, ExecuteRequest):
            return Finished(msg, self.reply(msg, {"status": "aborted"}))
        return Dispatch(msg, channel, request, route)

    def route_shell(self, msg: Message) -> tuple[str | None, Any] | Finished:
        """Where a shell message runs: ``(None, None)`` the main shell, ``(id, worker)`` a subshell
        (the worker as the driver registered it), or ``Finished``: its subshell does not exist."""
        subshell_id = msg.header.subshell_id
        if subshell_id is None:
            return None, None
        try:
            return subshell_id, self.subshells.get(subshell_id)
        except UnknownSubshell as exc:
            route = ROUTES.get(msg.msg_type)
            if route is None and not msg.msg_type.endswith("_request"):
                return Finished(msg, note=str(exc))
            return self._error(msg, exc.ename, str(exc), str(exc), route)

    def input_reply(self, frames: Sequence[bytes]) -> InputReply | Rejected | None:
        """The answer to an ``input_request`` (None: some other message, ignored)."""
        msg = self.decode(frames)
        if isinstance(msg, Rejected) or msg.msg_type != "input_reply":
            return msg if isinstance(msg, Rejected) else None
        return InputReply.parse(msg.content)

    def input_request(self, parent: Message, prompt: str, password: bool) -> Message:
        """Asks the client that sent ``parent`` (routed by its identities) for a line."""
        return new_message(
            "input_request",
            {"prompt": prompt, "password": password},
            session=self.session,
            parent=parent,
            identities=parent.identities,
        )

    # The handler's result --------------------------------------------------------------------------
    def finish(self, dispatch: Dispatch, result: Reply) -> Finished:
        msg = dispatch.message
        if not dispatch.route.request:
            return Finished(msg)
        content, metadata = result if isinstance(result, tuple) else (result, None)
        content = content or {"status": "ok"}
        shutdown = msg.msg_type == "shutdown_request"
        return Finished(
            msg,
            self.reply(msg, content, metadata),
            broadcast=self.iopub("shutdown_reply", content, msg) if shutdown else None,
            abort_queue=_aborts_queue(dispatch, content),
            stop=shutdown,
        )

    def failed(self, dispatch: Dispatch, exc: BaseException) -> Finished:
        """The handler raised: ``Unsupported``, ``ProtocolError`` (the client's fault) or a bug."""
        msg_type = dispatch.message.msg_type
        if isinstance(exc, Unsupported):
            content = error_content("UnknownMessageType", f"this kernel does not handle {msg_type!r}")
            no_reply = not dispatch.route.request
            note = f"ignored {msg_type!r}: no handler" if no_reply else f"unknown request type {msg_type!r}"
        elif isinstance(exc, ProtocolError):
            ename = getattr(exc, "ename", "InvalidRequest")  # e.g. UnknownSubshellError
            content, note = error_content(ename, str(exc)), f"invalid {msg_type}: {exc}"
        else:
            content = error_content(type(exc).__name__, str(exc), traceback.format_exception(exc))
            note = None
        return attrs.evolve(self.finish(dispatch, content), note=note)

    def _error(
        self, msg: Message, ename: str, evalue: str, note: str, route: Route | None = None
    ) -> Finished:
        if route is not None and not route.request:
            return Finished(msg, note=note)
        return Finished(msg, self.reply(msg, error_content(ename, evalue)), note=note)


def _aborts_queue(dispatch: Dispatch, reply: Mapping[str, Any]) -> bool:
    request = dispatch.request
    return (
        isinstance(request, ExecuteRequest)
        and reply.get("status") == "error"
        and reply.get("ename") != "InvalidRequest"  # it never ran
        and request.stop_on_error
    )


Event = Rejected | Finished | Dispatch
