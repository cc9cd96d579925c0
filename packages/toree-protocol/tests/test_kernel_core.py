"""The sans-IO kernel core: routing, validation, the control whitelist and stop-on-error, no sockets."""

from __future__ import annotations

from typing import Any

import pytest

from toree_protocol import Signer, new_message, serialize
from toree_protocol.core import Dispatch, Finished, KernelCore, Rejected, SeenSignatures
from toree_protocol.handler import CONTROL_TYPES, ROUTES, HandlerDefaults, Unsupported
from toree_protocol.messages import PROTOCOL_VERSION, ProtocolError
from toree_protocol.requests import CompleteRequest, ExecuteRequest, HistoryRequest

SIGNER = Signer(b"key")


def frames(msg_type: str, content: dict[str, Any] | None = None, signer: Signer = SIGNER) -> list[bytes]:
    return serialize(new_message(msg_type, content, session="client", identities=[b"peer"]), signer)


@pytest.fixture
def core() -> KernelCore:
    return KernelCore(SIGNER, "kernel-session")


def test_valid_request_is_dispatched_typed(core: KernelCore) -> None:
    event = core.receive("shell", frames("complete_request", {"code": "abc", "cursor_pos": 99}))
    assert isinstance(event, Dispatch)
    assert event.request == CompleteRequest("abc", 3)  # the cursor is clamped into the code
    assert event.channel == "shell" and event.message.identities == (b"peer",)


def test_bad_signature_and_garbage_are_rejected_without_reply(core: KernelCore) -> None:
    event = core.receive("shell", frames("execute_request", {"code": "1"}, Signer(b"other")))
    assert isinstance(event, Rejected) and "signature" in event.note
    assert isinstance(core.receive("shell", [b"garbage"]), Rejected)


def test_a_replayed_signed_message_is_rejected(core: KernelCore) -> None:
    captured = frames("execute_request", {"code": "1"})
    assert isinstance(core.receive("shell", captured), Dispatch)
    again = core.receive("control", captured)  # on any channel: the history is the session's
    assert isinstance(again, Rejected) and "replay" in again.note
    assert isinstance(core.receive("shell", frames("execute_request", {"code": "1"})), Dispatch)  # a new message


def test_unsigned_messages_have_no_history() -> None:
    """With no key there is no signature to remember: the same frames twice are two requests."""
    unsigned = KernelCore(Signer(b""), "kernel-session")
    captured = frames("kernel_info_request", signer=Signer(b""))
    assert [type(unsigned.receive("shell", captured)) for _ in range(2)] == [Dispatch, Dispatch]


def test_signature_history_forgets_the_oldest_beyond_its_limit() -> None:
    seen = SeenSignatures(limit=10)
    assert all(seen.first_time(b"%d" % i) for i in range(11))  # the 11th culls the oldest tenth
    assert seen.first_time(b"0")  # forgotten
    assert not seen.first_time(b"10")  # still remembered


@pytest.mark.parametrize(
    "msg_type", ["__init__", "close", "_comm", "close_request", "__init___request", "foo_request"]
)
def test_names_that_are_not_message_types_never_reach_a_handler(core: KernelCore, msg_type: str) -> None:
    event = core.receive("shell", frames(msg_type))
    assert isinstance(event, Finished)
    if msg_type.endswith("_request"):
        assert event.reply is not None and event.reply.content["ename"] == "UnknownMessageType"
        assert event.reply.msg_type == msg_type[: -len("_request")] + "_reply"
    else:
        assert event.reply is None and "no handler" in (event.note or "")


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ({"code": 5}, "'code' must be a string"),
        ({"code": "1", "user_expressions": [1]}, "'user_expressions' must be an object"),
        ({"code": "1", "silent": "yes"}, "'silent' must be true or false"),
        ({"code": "1", "stop_on_error": 0}, "'stop_on_error' must be true or false"),
    ],
)
def test_invalid_content_gets_a_clear_error_reply(core: KernelCore, content: dict, complaint: str) -> None:
    event = core.receive("shell", frames("execute_request", content))
    assert isinstance(event, Finished) and event.reply is not None
    assert event.reply.content["ename"] == "InvalidRequest"
    assert complaint in event.reply.content["evalue"]
    assert event.note is not None and not event.abort_queue


def test_history_integers_beyond_64_bits_are_invalid(core: KernelCore) -> None:
    with pytest.raises(ProtocolError, match="out of range"):
        HistoryRequest.parse({"n": 2**70})
    event = core.receive("shell", frames("history_request", {"session": -(2**80)}))
    assert isinstance(event, Finished) and event.reply.content["ename"] == "InvalidRequest"


def test_control_serves_only_its_whitelist(core: KernelCore) -> None:
    assert {"kernel_info_request", "interrupt_request", "shutdown_request"} <= CONTROL_TYPES
    assert "execute_request" not in CONTROL_TYPES
    wrong = core.receive("control", frames("execute_request", {"code": "1"}))
    assert isinstance(wrong, Finished) and wrong.reply.content["ename"] == "WrongChannel"
    comm = core.receive("control", frames("comm_msg", {"comm_id": "c"}))
    assert isinstance(comm, Finished) and comm.reply is None and "not served on control" in comm.note
    assert isinstance(core.receive("control", frames("kernel_info_request")), Dispatch)


def test_execute_error_with_stop_on_error_aborts_the_queue(core: KernelCore) -> None:
    failing = core.receive("shell", frames("execute_request", {"code": "x"}))
    assert isinstance(failing, Dispatch)
    done = core.finish(failing, {"status": "error", "ename": "E", "evalue": "", "traceback": []})
    assert done.abort_queue and done.reply.parent_header["msg_id"] == failing.message.msg_id
    queued = core.receive("shell", frames("execute_request", {"code": "y"}), aborting=True)
    assert isinstance(queued, Finished) and queued.reply.content == {"status": "aborted"}
    other = core.receive("shell", frames("kernel_info_request"), aborting=True)
    assert isinstance(other, Dispatch)  # only executes are aborted


@pytest.mark.parametrize(("content", "aborts"), [({}, True), ({"stop_on_error": False}, False), ({"stop_on_error": None}, False)])
def test_stop_on_error_flag(core: KernelCore, content: dict, aborts: bool) -> None:
    event = core.receive("shell", frames("execute_request", {"code": "x", **content}))
    assert isinstance(event, Dispatch)
    error = {"status": "error", "ename": "E", "evalue": "", "traceback": []}
    assert core.finish(event, error).abort_queue is aborts
    assert not core.finish(event, {"status": "ok"}).abort_queue


def test_silent_never_stores_history() -> None:
    assert not ExecuteRequest.parse({"code": "1", "silent": True, "store_history": True}).store_history
    assert ExecuteRequest.parse({"code": "1"}).store_history


def test_shutdown_is_broadcast_and_stops(core: KernelCore) -> None:
    event = core.receive("control", frames("shutdown_request", {"restart": True}))
    assert isinstance(event, Dispatch)
    done = core.finish(event, HandlerDefaults().shutdown_request(event.request, None))  # type: ignore[arg-type]
    assert done.stop and done.reply.content == {"status": "ok", "restart": True}
    assert done.broadcast is not None and done.broadcast.msg_type == "shutdown_reply"
    assert done.broadcast.identities == (b"kernel.kernel-session.shutdown_reply",)


def test_handler_failures_become_error_replies(core: KernelCore) -> None:
    event = core.receive("shell", frames("inspect_request", {"code": "x"}))
    assert isinstance(event, Dispatch)
    unsupported = core.failed(event, Unsupported("inspect_request"))
    assert unsupported.reply.content["ename"] == "UnknownMessageType" and unsupported.note
    bug = core.failed(event, RuntimeError("boom"))
    assert bug.reply.content["ename"] == "RuntimeError" and bug.reply.content["traceback"]
    assert bug.note is None  # a bug of the kernel, logged by the server, not the client's fault


def test_every_route_parses_empty_content() -> None:
    for msg_type, route in ROUTES.items():
        if msg_type != "delete_subshell_request":  # must name the subshell (test_subshells.py)
            assert route.parse({}) is not None, msg_type


def test_default_kernel_info_has_the_protocol_version() -> None:
    assert HandlerDefaults().kernel_info_request(None, None)["protocol_version"] == PROTOCOL_VERSION  # type: ignore[arg-type,index]


def test_input_reply_is_decoded(core: KernelCore) -> None:
    assert core.input_reply(frames("input_reply", {"value": "ada"})).value == "ada"
    assert core.input_reply(frames("execute_request")) is None
    assert isinstance(core.input_reply([b"junk"]), Rejected)
