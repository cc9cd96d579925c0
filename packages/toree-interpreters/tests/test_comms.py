"""toree_interpreters.comms without a kernel: routing, client messages, comm_info, the comm package hooks."""

from __future__ import annotations

import threading
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm

from toree_interpreters import SparkSessionManager
from toree_interpreters.comms import CommManager, ToreeComm


class Wire:
    """A route that records what would go to IOPub."""

    def __init__(self, tag: str = "") -> None:
        self.tag = tag
        self.sent: list[tuple[str, dict[str, Any], dict[str, Any], list[bytes], str]] = []

    def __call__(self, msg_type: str, content: dict, metadata: dict, buffers: Any) -> None:
        self.sent.append((msg_type, content, metadata, list(buffers), self.tag))

    def types(self) -> list[str]:
        return [m[0] for m in self.sent]


def client(msg_type: str, **content: Any) -> dict[str, Any]:
    return {"header": {"msg_type": msg_type}, "content": content, "metadata": {}, "buffers": []}


def test_kernel_opened_comm_sends_through_the_current_route() -> None:
    manager = CommManager()
    wire = Wire()
    with manager.routing(wire):
        c = manager.open("my.target", {"a": 1}, metadata={"v": 2}, buffers=[b"xy"])
        c.send({"b": 2})
    assert isinstance(c, ToreeComm)
    msg_type, content, metadata, buffers, _ = wire.sent[0]
    assert msg_type == "comm_open"
    assert content == {"comm_id": c.comm_id, "data": {"a": 1}, "target_name": "my.target"}
    assert metadata == {"v": 2} and buffers == [b"xy"]
    assert wire.sent[1][:2] == ("comm_msg", {"comm_id": c.comm_id, "data": {"b": 2}})
    assert manager.info() == {c.comm_id: {"target_name": "my.target"}}
    c.send({"later": True})  # outside the routing block, e.g. from a thread: the last route
    c.close()
    assert wire.types() == ["comm_open", "comm_msg", "comm_msg", "comm_close"]
    assert manager.info() == {}
    c.close()  # only once
    assert len(wire.sent) == 4


def test_a_newer_route_takes_over_also_for_other_threads() -> None:
    manager = CommManager()
    first, second = Wire("first"), Wire("second")
    with manager.routing(first):
        c = manager.open("t")
    with manager.routing(second):
        pass
    t = threading.Thread(target=c.send, args=({"x": 1},))
    t.start()
    t.join()
    assert [m[4] for m in first.sent + second.sent] == ["first", "second"]


def test_without_any_route_messages_are_dropped_not_raised() -> None:
    manager = CommManager()
    c = manager.open("t")
    c.send({"x": 1})
    assert manager.info() == {c.comm_id: {"target_name": "t"}}


def test_client_open_msg_close_reach_the_target_and_the_comm() -> None:
    manager = CommManager()
    seen: list[Any] = []

    def target(c: BaseComm, msg: dict) -> None:
        seen.append(("open", msg["content"]["data"]))

        def echo(m: dict) -> None:
            seen.append(("msg", m["content"]["data"]))
            c.send({"echo": m["content"]["data"]})

        c.on_msg(echo)
        c.on_close(lambda m: seen.append(("close", m["content"]["data"])))

    manager.register_target("echo", target)
    wire = Wire()
    with manager.routing(wire):
        manager.handle("comm_open", client("comm_open", comm_id="c1", target_name="echo", data={"hi": 1}))
        assert manager.info() == {"c1": {"target_name": "echo"}}
        assert manager.info("echo") == {"c1": {"target_name": "echo"}}
        assert manager.info("other") == {}
        manager.handle("comm_msg", client("comm_msg", comm_id="c1", data={"n": 5}))
        manager.handle("comm_close", client("comm_close", comm_id="c1", data={"bye": True}))
        manager.handle("comm_msg", client("comm_msg", comm_id="c1", data={"n": 6}))  # gone: ignored
    assert seen == [("open", {"hi": 1}), ("msg", {"n": 5}), ("close", {"bye": True})]
    assert wire.sent == [("comm_msg", {"comm_id": "c1", "data": {"echo": {"n": 5}}}, {}, [], "")]
    assert manager.info() == {}


def test_unknown_target_or_failing_target_closes_the_comm() -> None:
    manager = CommManager()
    def boom(c: BaseComm, m: dict) -> None:
        raise ZeroDivisionError

    manager.register_target("boom", boom)
    wire = Wire()
    with manager.routing(wire):
        manager.handle("comm_open", client("comm_open", comm_id="u1", target_name="nobody", data={}))
        manager.handle("comm_open", client("comm_open", comm_id="b1", target_name="boom", data={}))
        manager.handle("comm_msg", client("comm_msg", comm_id="zzz", data={}))  # unknown comm: ignored
    assert [(t, c["comm_id"]) for t, c, *_ in wire.sent] == [("comm_close", "u1"), ("comm_close", "b1")]
    assert manager.info() == {}
    manager.register_target("x", lambda c, m: None)
    manager.handle("comm_open", client("comm_open", comm_id="x1", target_name="x", data={}))
    with pytest.raises(ValueError, match="not a comm message"):
        manager.handle("execute_request", client("execute_request", comm_id="x1"))


def test_the_pyspark_interpreter_installs_and_restores_the_comm_hooks() -> None:
    """In a kernel (hooks="process"): from start() to shutdown()."""
    from toree_interpreters import PySparkInterpreter

    before = (comm.create_comm, comm.get_comm_manager)
    manager = CommManager()
    interp = PySparkInterpreter(SparkSessionManager(init_mode="lazy"), comms=manager, hooks="process")
    assert interp.kernel.comm is manager
    interp.start()
    try:
        assert comm.get_comm_manager() is manager
        wire = Wire()
        with manager.routing(wire):
            c = comm.create_comm(target_name="jupyter.widget", data={"state": {}})
        assert isinstance(c, ToreeComm) and wire.types() == ["comm_open"]
        assert manager.info("jupyter.widget") == {c.comm_id: {"target_name": "jupyter.widget"}}
    finally:
        interp.shutdown()
    assert (comm.create_comm, comm.get_comm_manager) == before
