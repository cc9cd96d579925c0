"""Kernel subshells (JEP 91, protocol 5.5): the core's routing (pure) and KernelServer's threads (real
sockets, jupyter_client as the client, sending ``subshell_id`` in the header as JupyterLab does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from toree_protocol import ConnectionInfo, Signer, new_message, read_connection_file, serialize
from toree_protocol.core import Dispatch, Finished, KernelCore, Rejected
from toree_protocol.handler import HandlerDefaults
from toree_protocol.messages import Header, ProtocolError
from toree_protocol.requests import DeleteSubshellRequest, ExecuteRequest
from toree_protocol.server import KernelServer
from toree_protocol.subshells import UnknownSubshell

SIGNER = Signer(b"key")


def frames(msg_type: str, content: dict[str, Any] | None = None, subshell_id: Any = None) -> list[bytes]:
    msg = new_message(msg_type, content or {}, session="client", identities=[b"id"], subshell_id=subshell_id)
    return serialize(msg, SIGNER)


@pytest.fixture
def core() -> KernelCore:
    return KernelCore(SIGNER, "kernel")


# The core, pure -------------------------------------------------------------------------------------
def test_subshell_requests_are_served_on_control_only(core: KernelCore) -> None:
    for msg_type in ("create_subshell_request", "list_subshell_request"):
        assert isinstance(core.receive("control", frames(msg_type)), Dispatch)
        done = core.receive("shell", frames(msg_type))
        assert isinstance(done, Finished) and done.reply is not None
        assert done.reply.content["ename"] == "WrongChannel"
        assert "control" in done.reply.content["evalue"]


def test_deleting_the_main_shell_is_refused(core: KernelCore) -> None:
    for content in ({}, {"subshell_id": None}, {"subshell_id": ""}):
        done = core.receive("control", frames("delete_subshell_request", content))
        assert isinstance(done, Finished) and done.reply is not None
        assert done.reply.content["status"] == "error"
        assert "main shell cannot be deleted" in done.reply.content["evalue"]
    with pytest.raises(ProtocolError, match="must be a string"):
        DeleteSubshellRequest.parse({"subshell_id": 7})
    assert DeleteSubshellRequest.parse({"subshell_id": "abc"}).subshell_id == "abc"


def test_shell_messages_are_routed_by_the_header_subshell_id(core: KernelCore) -> None:
    worker = object()
    sid = core.subshells.add(worker)
    main = core.decode(frames("execute_request", {"code": "1"}))
    sub = core.decode(frames("execute_request", {"code": "1"}, subshell_id=sid))
    assert not isinstance(main, Rejected) and not isinstance(sub, Rejected)
    assert core.route_shell(main) == (None, None)
    assert core.route_shell(sub) == (sid, worker)
    # The reply's parent is the whole request header, subshell_id included.
    assert core.reply(sub, {"status": "ok"}).parent_header["subshell_id"] == sid


def test_an_unknown_subshell_gets_a_clear_error_reply(core: KernelCore) -> None:
    msg = core.decode(frames("complete_request", {"code": "x"}, subshell_id="nope"))
    assert not isinstance(msg, Rejected)
    done = core.route_shell(msg)
    assert isinstance(done, Finished) and done.reply is not None
    assert done.reply.msg_type == "complete_reply"
    assert done.reply.content["ename"] == "UnknownSubshellError"
    assert "'nope'" in done.reply.content["evalue"]
    assert done.reply.parent_header["subshell_id"] == "nope"
    # A notification (comm_msg) on an unknown subshell gets no reply, only a note.
    note = core.decode(frames("comm_msg", {"comm_id": "c"}, subshell_id="nope"))
    assert not isinstance(note, Rejected)
    done = core.route_shell(note)
    assert isinstance(done, Finished) and done.reply is None and done.note


def test_a_subshell_id_that_is_not_a_string_is_rejected(core: KernelCore) -> None:
    assert isinstance(core.receive("shell", frames("execute_request", subshell_id=5)), Rejected)
    with pytest.raises(ProtocolError, match="subshell_id"):
        Header.from_dict({"msg_id": "m", "msg_type": "execute_request", "subshell_id": ["a"]})


class FakeSubshells:
    def __init__(self) -> None:
        self.ids: list[str] = []

    def create(self) -> str:
        self.ids.append(f"s{len(self.ids)}")
        return self.ids[-1]

    def delete(self, subshell_id: str) -> None:
        if subshell_id not in self.ids:
            raise UnknownSubshell(subshell_id)
        self.ids.remove(subshell_id)

    def list(self) -> list[str]:
        return list(self.ids)


class FakeContext:
    subshells = FakeSubshells()


def test_default_handlers_create_list_delete(core: KernelCore) -> None:
    h, ctx = HandlerDefaults(), FakeContext()
    created = h.create_subshell_request(None, ctx)  # type: ignore[arg-type]
    assert created == {"status": "ok", "subshell_id": "s0"}
    assert h.list_subshell_request(None, ctx) == {"status": "ok", "subshell_id": ["s0"]}  # type: ignore[arg-type]
    assert h.delete_subshell_request(DeleteSubshellRequest("s0"), ctx) == {"status": "ok"}  # type: ignore[arg-type]
    dispatch = core.receive("control", frames("delete_subshell_request", {"subshell_id": "s0"}))
    assert isinstance(dispatch, Dispatch)
    try:
        dispatch.call(h, ctx)  # type: ignore[arg-type]
    except UnknownSubshell as exc:
        done = core.failed(dispatch, exc)
    assert done.reply is not None and done.reply.content["ename"] == "UnknownSubshellError"


def test_kernel_info_lists_kernel_subshells() -> None:
    info = HandlerDefaults().kernel_info_request(None, None)  # type: ignore[arg-type]
    assert "kernel subshells" in info["supported_features"]  # type: ignore[index]
    assert info["protocol_version"] == "5.5"  # type: ignore[index]


# The server, real sockets ---------------------------------------------------------------------------
class Handler(HandlerDefaults):
    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: dict[str, str] = {}

    def execute_request(self, request: ExecuteRequest, ctx):
        self.threads[request.code] = threading.current_thread().name
        if request.code == "block":
            self.release.wait(20)
        return {"status": "ok", "execution_count": 1, "user_expressions": {}}


@pytest.fixture
def jc(tmp_path) -> Iterator[tuple[Any, Handler]]:
    from jupyter_client.blocking import BlockingKernelClient

    handler, path = Handler(), tmp_path / "conn.json"
    srv = KernelServer(ConnectionInfo(), handler, connection_file=path)
    srv.bind()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    client = BlockingKernelClient(connection_file=str(path))
    client.load_connection_file()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=10)
        yield client, handler
    finally:
        handler.release.set()
        client.stop_channels()
        srv.stop()
        thread.join(timeout=5)
        srv.close()
    assert read_connection_file(path)  # the server kept its connection file to the end


def control(jc: Any, msg_type: str, content: dict | None = None) -> dict:
    msg = jc.session.msg(msg_type, content or {})
    jc.control_channel.send(msg)
    reply = jc.get_control_msg(timeout=5)
    assert reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]
    return reply["content"]


def on_subshell(jc: Any, sid: str | None, msg_type: str, content: dict) -> dict:
    msg = jc.session.msg(msg_type, content)
    if sid is not None:
        msg["header"]["subshell_id"] = sid
    jc.shell_channel.send(msg)
    return msg


def shell_reply(jc: Any, msg: dict, timeout: float) -> dict:
    end = time.monotonic() + timeout
    while True:
        reply = jc.get_shell_msg(timeout=max(0.01, end - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return reply


def test_a_subshell_answers_while_the_main_shell_is_busy(jc) -> None:
    client, handler = jc
    sid = control(client, "create_subshell_request")["subshell_id"]
    assert control(client, "list_subshell_request") == {"status": "ok", "subshell_id": [sid]}
    blocked = on_subshell(client, None, "execute_request", {"code": "block"})
    time.sleep(0.2)
    start = time.monotonic()
    quick = on_subshell(client, sid, "execute_request", {"code": "quick"})
    reply = shell_reply(client, quick, timeout=2)
    assert time.monotonic() - start < 1
    assert reply["content"]["status"] == "ok"
    assert reply["parent_header"]["subshell_id"] == sid
    assert handler.threads["quick"].startswith("subshell-") and not handler.threads["block"].startswith(
        "subshell-"
    )
    # busy and idle for the subshell's request carry it as parent
    states = []
    while len(states) < 2:
        msg = client.get_iopub_msg(timeout=5)
        if msg["parent_header"].get("msg_id") == quick["header"]["msg_id"] and msg["msg_type"] == "status":
            states.append(msg["content"]["execution_state"])
    assert states == ["busy", "idle"]
    handler.release.set()
    assert shell_reply(client, blocked, timeout=5)["content"]["status"] == "ok"


def test_unknown_and_deleted_subshells_are_errors_and_the_kernel_lives(jc) -> None:
    client, _ = jc
    sid = control(client, "create_subshell_request")["subshell_id"]
    assert control(client, "delete_subshell_request", {"subshell_id": sid}) == {"status": "ok"}
    assert control(client, "list_subshell_request")["subshell_id"] == []
    again = control(client, "delete_subshell_request", {"subshell_id": sid})
    assert again["status"] == "error" and again["ename"] == "UnknownSubshellError"
    main = control(client, "delete_subshell_request", {})
    assert main["status"] == "error" and "main shell" in main["evalue"]
    gone = shell_reply(client, on_subshell(client, sid, "kernel_info_request", {}), timeout=5)
    assert gone["content"]["status"] == "error" and sid in gone["content"]["evalue"]
    on_shell = shell_reply(client, on_subshell(client, None, "create_subshell_request", {}), timeout=5)
    assert on_shell["content"]["ename"] == "WrongChannel"
    info = shell_reply(client, on_subshell(client, None, "kernel_info_request", {}), timeout=5)
    assert "kernel subshells" in info["content"]["supported_features"]
