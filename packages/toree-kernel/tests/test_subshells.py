"""Kernel subshells (JEP 91, protocol 5.5) on the real PySpark kernel, driven by jupyter_client as JupyterLab
drives it: create/list/delete on control, ``subshell_id`` in the shell message header. Python cells of a
subshell run while the main shell runs a long cell, and each cell's outputs carry its own parent header."""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest
from kernel_support import Kernel

pytestmark = pytest.mark.timeout(240)


def control(k: Kernel, msg_type: str, content: dict | None = None) -> dict:
    msg = k.kc.session.msg(msg_type, content or {})
    k.kc.control_channel.send(msg)
    while True:
        reply = k.kc.get_control_msg(timeout=10)
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return reply["content"]


def send_on(k: Kernel, subshell_id: str | None, msg_type: str, content: dict[str, Any]) -> str:
    msg = k.kc.session.msg(msg_type, content)
    if subshell_id is not None:
        msg["header"]["subshell_id"] = subshell_id
    k.kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def execute_on(k: Kernel, subshell_id: str | None, code: str) -> str:
    return send_on(k, subshell_id, "execute_request", {"code": code, "silent": False, "store_history": True})


def reply_to(k: Kernel, msg_id: str, timeout: float, pending: dict[str, dict]) -> dict:
    """The shell reply to ``msg_id``; replies to other requests meanwhile are kept in ``pending``."""
    end = time.monotonic() + timeout
    while msg_id not in pending:
        reply = k.kc.get_shell_msg(timeout=max(0.01, end - time.monotonic()))
        pending[reply["parent_header"]["msg_id"]] = reply
    return pending.pop(msg_id)


def outputs_of(k: Kernel, msg_id: str, seen: list[dict], timeout: float = 10) -> list[dict]:
    """The IOPub messages whose parent is ``msg_id``, up to its ``idle`` (others are kept in ``seen``)."""
    end = time.monotonic() + timeout
    while not any(_is_idle(m, msg_id) for m in seen):
        try:
            seen.append(k.kc.get_iopub_msg(timeout=max(0.01, end - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"no idle for {msg_id} within {timeout} s") from None
    return [m for m in seen if m["parent_header"].get("msg_id") == msg_id and m["msg_type"] != "status"]


def _is_idle(msg: dict, msg_id: str) -> bool:
    return (
        msg["msg_type"] == "status"
        and msg["content"]["execution_state"] == "idle"
        and msg["parent_header"].get("msg_id") == msg_id
    )


def text(outputs: list[dict]) -> str:
    return "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")


def result(outputs: list[dict]) -> str | None:
    found = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
    return found[-1] if found else None


def test_a_subshell_runs_python_while_the_main_shell_runs_a_long_cell(py: Kernel) -> None:
    info = py.kc.kernel_info(reply=True, timeout=10)["content"]
    assert "kernel subshells" in info["supported_features"] and info["protocol_version"] == "5.5"
    py.ok("subshell_probe_value = 41")
    py.kc.complete("subshell_probe_v", reply=True, timeout=30)  # jedi's cold start is not what is timed
    sid = control(py, "create_subshell_request")["subshell_id"]
    assert control(py, "list_subshell_request")["subshell_id"] == [sid]
    pending: dict[str, dict] = {}
    seen: list[dict] = []
    main = execute_on(py, None, "import time\nprint('main starts')\ntime.sleep(20)\nprint('main ends')\n'slept'")
    time.sleep(1)  # the main cell is running

    start = time.monotonic()
    complete = reply_to(
        py, send_on(py, sid, "complete_request", {"code": "subshell_probe_v", "cursor_pos": 16}), 5, pending
    )
    assert time.monotonic() - start < 1
    assert complete["content"]["status"] == "ok"
    assert "subshell_probe_value" in complete["content"]["matches"]
    assert complete["parent_header"]["subshell_id"] == sid

    start = time.monotonic()
    small = execute_on(py, sid, "print('from the subshell')\nsubshell_probe_value + 1")
    ran = reply_to(py, small, 5, pending)
    assert time.monotonic() - start < 1
    assert ran["content"]["status"] == "ok", ran["content"]
    assert ran["parent_header"]["subshell_id"] == sid
    mine = outputs_of(py, small, seen)  # the subshell cell's outputs carry its own parent
    assert text(mine) == "from the subshell\n" and result(mine) == "42"

    slept = reply_to(py, main, 40, pending)
    assert slept["content"]["status"] == "ok"
    theirs = outputs_of(py, main, seen)  # and the main cell's, its parent, its value still its result
    assert text(theirs) == "main starts\nmain ends\n" and result(theirs) == "'slept'"
    started = next(m for m in theirs if m["msg_type"] == "execute_input")
    assert started["content"]["execution_count"] < ran["content"]["execution_count"]

    assert control(py, "delete_subshell_request", {"subshell_id": sid})["status"] == "ok"
    gone = reply_to(py, execute_on(py, sid, "1+1"), 5, pending)
    assert gone["content"]["ename"] == "UnknownSubshellError"
    refused = control(py, "delete_subshell_request", {"subshell_id": None})
    assert refused["status"] == "error" and "main shell" in refused["evalue"]
    assert py.value("1+1") == "2"  # the kernel lives, the main shell as before


def test_an_interrupt_stops_the_cells_of_every_shell(py: Kernel) -> None:
    sid = control(py, "create_subshell_request")["subshell_id"]
    pending: dict[str, dict] = {}
    main = execute_on(py, None, "import time\ntime.sleep(60)")
    # Off the main thread KeyboardInterrupt arrives between bytecodes: a sleep of 60 s would end first.
    side = execute_on(py, sid, "import time\nfor _ in range(600): time.sleep(0.1)")
    time.sleep(1.5)
    start = time.monotonic()
    py.km.interrupt_kernel()  # SIGINT (the kernelspec's interrupt_mode): lands on the main shell's thread
    for msg_id in (main, side):
        reply = reply_to(py, msg_id, 10, pending)["content"]
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
    assert time.monotonic() - start < 5
    assert py.value("'alive'") == "'alive'"
    assert control(py, "delete_subshell_request", {"subshell_id": sid})["status"] == "ok"


def test_scala_on_a_subshell_is_refused_while_scala_runs_and_sql_runs_alongside(py: Kernel) -> None:
    """One Scala compiler runs one cell at a time: a subshell's Scala cell is refused at once (never queued
    behind a long cell) while SQL and Python cells of the subshell run alongside the Scala cell."""
    assert py.value("%%scala\n20 + 1", timeout=300) == "21"  # the REPL is up
    py.ok("%%sql\nSELECT 1")  # and SQL's first query (code generation) is not what is measured
    sid = control(py, "create_subshell_request")["subshell_id"]
    pending: dict[str, dict] = {}
    seen: list[dict] = []
    main = execute_on(py, None, "%%scala\nThread.sleep(10000)\n\"slept\"")
    time.sleep(1.5)

    start = time.monotonic()
    busy = reply_to(py, execute_on(py, sid, "%%scala\n1 + 1"), 5, pending)["content"]
    assert time.monotonic() - start < 1.5
    assert busy["status"] == "error" and busy["ename"] == "InterpreterBusy", busy
    assert "one cell at a time" in busy["evalue"]

    query = execute_on(py, sid, "%%sql\nSELECT 40 + 2 AS answer")
    assert reply_to(py, query, 30, pending)["content"]["status"] == "ok"
    assert main not in pending  # answered while the Scala cell still ran
    assert "42" in str(result(outputs_of(py, query, seen)))
    assert reply_to(py, main, 60, pending)["content"]["status"] == "ok"
    assert "slept" in str(outputs_of(py, main, seen))

    again = execute_on(py, sid, "%%scala\n1 + 1")  # the compiler is free again: the subshell's turn
    assert reply_to(py, again, 60, pending)["content"]["status"] == "ok"
    assert result(outputs_of(py, again, seen, 60)) == "2"
    assert control(py, "delete_subshell_request", {"subshell_id": sid})["status"] == "ok"
