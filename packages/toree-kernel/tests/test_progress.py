"""Live Spark job progress through the real kernel: one display per cell, updated in place, throttled."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from kernel_support import Kernel

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]

# Two stages and a final one (8 + 4 + 1 tasks); on local[2] the UDF stage takes ~1.5-2 s in two waves.
LONG_JOB = """
import time
from pyspark.sql.functions import udf
slow = udf(lambda x: (time.sleep(0.0015), x)[1], "long")
spark.range(0, 2000, 1, 8).repartition(4).select(slow("id").alias("v")).agg({"v": "sum"}).collect()[0][0]
"""


@pytest.fixture(scope="module")
def py() -> Iterator[Kernel]:
    k = Kernel("apache_toree_pyspark")
    k.run("spark.range(10).count()")  # the session's first job compiles code: not a quick job
    yield k
    k.close()


def progress_messages(kernel: Kernel, code: str) -> tuple[list[dict], float, dict]:
    started = time.monotonic()
    content, outputs = kernel.run(code)
    elapsed = time.monotonic() - started
    assert content["status"] == "ok", content
    found = [
        m
        for m in outputs
        if m["msg_type"] in ("display_data", "update_display_data")
        and "toree-progress" in m["content"]["data"].get("text/html", "")
    ]
    return found, elapsed, content


def completed(message: dict) -> int:
    text = message["content"]["data"]["text/plain"]
    return int(text.split("] ", 1)[-1].split(": ", 1)[-1].split("/")[0])


def test_a_long_job_shows_one_display_updated_in_place_and_throttled(py: Kernel) -> None:
    messages, elapsed, _ = progress_messages(py, LONG_JOB)
    assert messages, "no progress shown for a multi-second job"
    first, *updates = messages
    assert first["msg_type"] == "display_data"
    # this kernel's Spark runs with spark.ui.enabled=false: nothing to link to, so no link
    assert all("<a " not in m["content"]["data"]["text/html"] for m in messages)
    assert all("Spark UI" not in m["content"]["data"]["text/plain"] for m in messages)
    display_id = first["content"]["transient"]["display_id"]
    assert display_id and updates
    assert all(m["msg_type"] == "update_display_data" for m in updates)
    assert all(m["content"]["transient"]["display_id"] == display_id for m in updates)
    counts = [completed(m) for m in messages]
    assert counts == sorted(counts) and counts[-1] > counts[0], counts
    final = updates[-1]["content"]["data"]
    assert re.match(r"done: (\d+)/\1 tasks in \d+ jobs?, [\d.]+ s$", final["text/plain"]), (
        final
    )  # AQE: 1-3 jobs
    assert "<script" not in final["text/html"]
    print(
        f"{len(messages)} progress messages in {elapsed:.2f} s:",
        [m["content"]["data"]["text/plain"] for m in messages],
    )
    assert len(messages) / elapsed <= 5.5, (len(messages), elapsed)


def test_a_quick_job_shows_nothing(py: Kernel) -> None:
    messages, elapsed, _ = progress_messages(py, "spark.range(10).count()")
    assert messages == [] and elapsed < 2


def test_progress_off_shows_nothing_then_on_again(py: Kernel) -> None:
    assert "NOT" in py.stdout("%Progress off")
    try:
        messages, _, _ = progress_messages(py, LONG_JOB)
        assert messages == []
    finally:
        assert "WILL" in py.stdout("%Progress on")
    assert "on" in py.stdout("%Progress")


def test_sql_cells_show_progress(py: Kernel) -> None:
    py.run(LONG_JOB.rsplit("\n", 2)[0] + '\nspark.udf.register("slow", slow)')
    messages, _, _ = progress_messages(
        py, "%%SQL\nSELECT sum(slow(id)) FROM (SELECT /*+ REPARTITION(4) */ id FROM range(0, 2000, 1, 8))"
    )
    assert messages and messages[-1]["content"]["data"]["text/plain"].startswith("done:")


def test_scala_jobs_show_progress() -> None:
    scala = Kernel("apache_toree_scala")
    try:
        scala.run("1 + 1")  # the REPL's first cell compiles a lot
        messages, _, _ = progress_messages(
            scala, "sc.parallelize(1 to 8, 4).map { x => Thread.sleep(400); x }.sum"
        )
        assert messages, "no progress shown for a Scala job"
        assert messages[0]["msg_type"] == "display_data"
        ids = {m["content"]["transient"]["display_id"] for m in messages}
        assert len(ids) == 1
        assert messages[-1]["content"]["data"]["text/plain"].startswith("done: 4/4 tasks in 1 job")
    finally:
        scala.close()
