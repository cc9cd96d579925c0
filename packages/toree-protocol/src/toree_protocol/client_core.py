"""The client's protocol logic without sockets, shared by the sync and the async face (client.py).

``ClientCore`` builds and signs requests, decodes what the kernel sends and keeps messages nobody
is waiting for yet, per (channel, parent), so output is never lost to whoever waits for it next.
``Execution`` tracks one execute request (its outputs, reply and final ``idle``); the ``*_content``
functions are the one definition of each request's content, so both faces send the same.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .codec import Signer, deserialize, serialize
from .messages import Message, ProtocolError, new_message

log = logging.getLogger("toree_protocol.client")

OnOutput = Callable[[Message], None]
OnInput = Callable[[str, bool], str]
EXECUTE_CHANNELS = ("iopub", "shell", "stdin")
STASH_PARENTS = 1000  # parents whose messages are kept for a later waiter; the oldest are forgotten


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


# Request contents ----------------------------------------------------------------------------------
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


def complete_content(code: str, cursor_pos: int | None) -> dict[str, Any]:
    return {"code": code, "cursor_pos": len(code) if cursor_pos is None else cursor_pos}


def inspect_content(code: str, cursor_pos: int | None, detail_level: int) -> dict[str, Any]:
    return {**complete_content(code, cursor_pos), "detail_level": detail_level}


def history_content(content: dict[str, Any]) -> dict[str, Any]:
    return {"hist_access_type": "tail", "output": False, "raw": True, **content}


def comm_info_content(target_name: str | None) -> dict[str, Any]:
    return {} if target_name is None else {"target_name": target_name}


class Execution:
    """Sans-IO state of one execute request: feed it messages, it says what to emit and when it is done."""

    def __init__(self, request: Message) -> None:
        self.request = request
        self.reply: Message | None = None
        self.idle = False

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
        return msg

    @property
    def done(self) -> bool:
        return self.reply is not None and self.idle


class Collector:
    """Turns what ``execute_iter`` yields into an ``ExecuteResult`` (calling ``on_output`` on the way)."""

    def __init__(self, on_output: OnOutput | None) -> None:
        self.on_output = on_output
        self.outputs: list[Message] = []
        self.reply: Message | None = None

    def add(self, msg: Message) -> None:
        if msg.msg_type == "execute_reply":
            self.reply = msg
            return
        self.outputs.append(msg)
        if self.on_output is not None:
            self.on_output(msg)

    def result(self) -> ExecuteResult:
        assert self.reply is not None
        return ExecuteResult(self.reply, self.outputs)


class ClientCore:
    """Signing, decoding and routing of one client session; no sockets."""

    def __init__(self, signer: Signer, session: str, username: str | None = None) -> None:
        self.signer = signer
        self.session = session
        self.username = username
        self.iopub_seen = False  # something arrived on IOPub: it is connected
        # Messages waiting for whoever asks: (channel, parent msg_id) -> messages.
        self._stash: defaultdict[tuple[str, str], deque[Message]] = defaultdict(deque)

    def message(self, msg_type: str, content: Mapping[str, Any] | None = None) -> Message:
        return new_message(msg_type, content, session=self.session, username=self.username)

    def encode(self, msg: Message) -> list[bytes]:
        return serialize(msg, self.signer)

    def decode(self, channel: str, frames: list[bytes]) -> Message | None:
        try:
            msg = deserialize(frames, self.signer)
        except ProtocolError as exc:
            log.warning("dropped a message from the kernel on %s: %s", channel, exc)
            return None
        if channel == "iopub":
            self.iopub_seen = True
        return msg

    def execute_request(
        self, code: str, on_input: OnInput | None, allow_stdin: bool | None, options: dict[str, Any]
    ) -> Message:
        allow = on_input is not None if allow_stdin is None else allow_stdin
        return self.message("execute_request", execute_content(code, allow_stdin=allow, **options))

    def input_reply(self, request: Message, on_input: OnInput | None) -> Message:
        """Answer an input_request (an empty line when the caller gave no way to ask the user)."""
        prompt, password = request.content.get("prompt", ""), bool(request.content.get("password"))
        value = on_input(prompt, password) if on_input is not None else ""
        return new_message("input_reply", {"value": value}, session=self.session, parent=request)

    def earlier_outputs(self, run: Execution) -> list[Message]:
        """This request's messages that arrived while we were waiting for something else."""
        outputs = []
        for channel in ("iopub", "shell"):
            while (early := self.take(channel, run.request.msg_id)) is not None:
                if (out := run.feed(channel, early)) is not None:
                    outputs.append(out)
        return outputs

    def route(
        self, run: Execution, channel: str, msg: Message, on_input: OnInput | None
    ) -> tuple[Message | None, Message | None]:
        """(an output to hand to the caller, an input_reply to send) for one received message."""
        if channel == "stdin":
            return None, self.input_reply(msg, on_input) if msg.msg_type == "input_request" else None
        if not run.owns(msg):
            self.keep(channel, msg)
            return None, None
        return run.feed(channel, msg), None

    def take(self, channel: str, parent_id: str) -> Message | None:
        queue = self._stash.get((channel, parent_id))
        return queue.popleft() if queue else None

    def keep(self, channel: str, msg: Message) -> None:
        self._stash[(channel, str(msg.parent_header.get("msg_id", "")))].append(msg)
        if len(self._stash) > STASH_PARENTS:  # nobody waits for these: forget the oldest parents
            self._stash.pop(next(iter(self._stash)))


def deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def probe_timeout(end: float) -> float:
    """One kernel_info probe of ``wait_for_ready``: at most a second, and never past ``end``."""
    return min(1.0, max(0.01, end - time.monotonic()))


def remaining(deadline: float | None, what: str) -> int:
    """Milliseconds left for a poll (-1: forever); TimeoutError naming ``what`` once it has passed."""
    if deadline is None:
        return -1
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError(f"timed out waiting for {what}")
    return max(1, int(left * 1000))
