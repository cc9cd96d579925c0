"""Rich output through the real kernel: DataFrames as tables, the kernel.display API in both languages."""

from __future__ import annotations

import base64

import pytest
from kernel_support import Kernel

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def shown(kernel: Kernel, code: str) -> list[dict]:
    content, outputs = kernel.run(code)
    assert content["status"] == "ok", content
    return [m for m in outputs if m["msg_type"] not in ("execute_input", "stream")]


def test_a_big_dataframe_shows_its_first_rows_only(py) -> None:
    py.run(
        "from pyspark.sql import functions as F\n"
        "tag = F.udf(lambda x: f'<script>alert({x})</script>', 'string')\n"
        "big = spark.range(0, 1_000_000, 1, 8).withColumn('s', tag('id'))"
    )
    outputs = shown(py, "group = sc.getLocalProperty('spark.jobGroup.id')\nbig")
    (result,) = [m for m in outputs if m["msg_type"] == "execute_result"]  # (a slow machine adds progress)
    data = result["content"]["data"]
    html = data["text/html"]
    assert "showing 20 of 20+ rows" in html and html.count("<tr>") == 21  # header + 20
    assert "id<br><small>bigint</small>" in html
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in html and "<script>alert" not in html
    assert data["text/plain"].startswith("+---+----") and "only showing top 20 rows" in data["text/plain"]
    # Only what is shown was computed: the cell's jobs ran one task (one of the 8 partitions).
    tasks = shown(
        py,
        "t = sc.statusTracker()\n"
        "sum(t.getStageInfo(s).numTasks for j in t.getJobIdsForGroup(group) for s in t.getJobInfo(j).stageIds)",
    )
    assert 1 <= int(tasks[0]["content"]["data"]["text/plain"]) < 8

def test_scala_dataframes_are_tables_too(scala) -> None:
    (result,) = shown(scala, 'Seq((1, "<b>a</b>"), (2, "b")).toDF("n", "s")')
    html = result["content"]["data"]["text/html"]
    assert "2 rows" in html and "&lt;b&gt;a&lt;/b&gt;" in html and "n<br><small>int</small>" in html


def test_python_display_api(py) -> None:
    outputs = shown(
        py,
        "kernel.display.html('<b>h</b>')\n"
        "kernel.display.javascript('1')\n"
        "kernel.display.markdown('*m*')\n"
        "kernel.display.content('text/csv', 'a,b')\n"
        f"kernel.display.image({PNG!r})\n"
        "display({'x': 1})",
    )
    datas = [m["content"]["data"] for m in outputs]
    assert [next(iter(d)) for d in datas] == [
        "text/html", "application/javascript", "text/markdown", "text/csv", "image/png", "text/plain"
    ]
    assert datas[4]["image/png"] == base64.b64encode(PNG).decode()
    assert datas[5]["text/plain"] == "{'x': 1}"


def test_python_display_updates_in_place(py) -> None:
    outputs = shown(py, "h = display('first', display_id=True)\nh.update('second')\nupdate_display('third', display_id=h.display_id)")
    kinds = [(m["msg_type"], m["content"]["data"]["text/plain"]) for m in outputs]
    assert kinds == [("display_data", "'first'"), ("update_display_data", "'second'"), ("update_display_data", "'third'")]
    ids = {m["content"]["transient"]["display_id"] for m in outputs}
    assert len(ids) == 1
    shown_df = shown(py, "display(spark.range(3))")
    assert "3 rows" in shown_df[0]["content"]["data"]["text/html"]  # display() renders DataFrames too
    cleared = shown(py, "print('x')\nkernel.display.clear_output(wait=True)")
    assert cleared[-1]["msg_type"] == "clear_output" and cleared[-1]["content"]["wait"] is True


def test_scala_display_api(scala) -> None:
    outputs = shown(
        scala,
        'kernel.display.html("<i>s</i>")\n'
        'kernel.display.markdown("**m**")\n'
        'kernel.display.image(java.util.Base64.getDecoder.decode("' + base64.b64encode(PNG).decode() + '"))\n'
        'kernel.display.content("text/csv", "a,b", "progress-1")\n'
        'kernel.display.update("progress-1", "text/csv", "a,b,c")\n'
        "kernel.display.clear_output(true)",
    )
    kinds = [m["msg_type"] for m in outputs]
    assert kinds == ["display_data"] * 4 + ["update_display_data", "clear_output"]
    assert outputs[0]["content"]["data"]["text/html"] == "<i>s</i>"
    assert outputs[2]["content"]["data"]["image/png"] == base64.b64encode(PNG).decode()
    assert outputs[3]["content"]["transient"] == outputs[4]["content"]["transient"] == {"display_id": "progress-1"}
    assert outputs[4]["content"]["data"]["text/csv"] == "a,b,c"
    assert outputs[5]["content"]["wait"] is True


@pytest.mark.parametrize(
    ("language", "code"),
    [("python", "for i in range(100000): print(i)"), ("scala", "for (i <- 0 until 100000) println(i)")],
)
def test_100k_printed_lines_arrive_in_order_and_batched(language, code, request) -> None:
    kernel = request.getfixturevalue("py" if language == "python" else "scala")
    content, outputs = kernel.run(code, timeout=120)
    assert content["status"] == "ok"
    streams = [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"]
    assert "".join(streams) == "".join(f"{i}\n" for i in range(100_000))
    assert len(streams) < 100, f"{len(streams)} stream messages for 100k lines"
