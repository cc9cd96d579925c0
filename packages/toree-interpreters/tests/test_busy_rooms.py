"""Rooms that run one cell at a time (one R process here; one Scala compiler: the kernel's subshell tests)
refuse a cell that must not queue (a kernel subshell's: ``waits_when_busy`` False) while another cell runs,
and queue every other one. Real R, no Spark."""

from __future__ import annotations

import threading
import time

import pytest
from interp_support import CollectingSink

from toree_interpreters.contract import BUSY
from toree_interpreters.r import RInterpreter
from toree_interpreters.r.process import r_binary
from toree_interpreters.spark.session import SparkSessionManager

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(r_binary() is None, reason="R is not installed"),
]


class PromptSink(CollectingSink):
    waits_when_busy = False  # a subshell's cell: answer now or not at all


def test_a_busy_r_room_refuses_a_prompt_cell_and_queues_the_others() -> None:
    room = RInterpreter(SparkSessionManager(init_mode="none"))
    try:
        assert room.execute("1 + 1", CollectingSink()).status == "ok"  # R is up
        outcomes: dict[str, object] = {}
        long = threading.Thread(target=lambda: outcomes.update(long=room.execute("Sys.sleep(3); 41", CollectingSink())))
        long.start()
        time.sleep(0.5)
        started = time.monotonic()
        refused = room.execute("2 + 2", PromptSink())
        assert time.monotonic() - started < 2
        assert refused.status == "error" and refused.error is not None and refused.error.ename == BUSY
        assert "one cell at a time" in refused.error.evalue
        queued = CollectingSink()
        assert room.execute("3 + 3", queued).status == "ok"  # waited for the long cell
        long.join(10)
        assert outcomes["long"].status == "ok"  # type: ignore[attr-defined]
    finally:
        room.shutdown()
