"""The PySpark interpreter on a real Spark session (one per module), through a collecting sink."""

from __future__ import annotations

import threading
import time

import pytest
from interp_support import CollectingSink, tab_until

from toree_interpreters import PySparkInterpreter

pytestmark = [pytest.mark.spark, pytest.mark.timeout(180)]

LONG_JOB = (
    "from pyspark.sql import functions as F\n"
    "slow = F.udf(lambda x: __import__('time').sleep(0.5) or x, 'long')\n"
    "spark.range(0, 240, 1, 2).select(slow('id').alias('x')).agg(F.sum('x')).collect()"
)


def run(python: PySparkInterpreter, code: str, sink: CollectingSink | None = None):
    return python.execute(code, sink or CollectingSink())


def test_namespace_persists_and_last_expression_is_the_result(python) -> None:
    assert run(python, "a = 40").result is None
    outcome = run(python, "a + 2")
    assert outcome.status == "ok" and outcome.result == {"text/plain": "42"}
    assert run(python, "_ * 2").result == {"text/plain": "84"}
    assert run(python, "None").result is None


def test_rich_reprs_and_a_failing_repr(python) -> None:
    code = (
        "class Rich:\n"
        "    def _repr_html_(self): return '<b>rich</b>'\n"
        "    def _repr_markdown_(self): raise RuntimeError('broken repr')\n"
        "    def __repr__(self): return 'Rich()'\n"
        "Rich()"
    )
    outcome = run(python, code)
    assert outcome.status == "ok"
    assert outcome.result == {"text/html": "<b>rich</b>", "text/plain": "Rich()"}
    bundle = run(
        python, "class B:\n    def _repr_mimebundle_(self): return {'application/json': {'x': 1}}\nB()"
    )
    assert bundle.result["application/json"] == {"x": 1}


def test_streams_in_order_including_threads(python) -> None:
    # pytest swaps its own capture into sys.stdout between fixture setup and the test: re-install ours.
    python.shutdown()
    python.start()
    sink = CollectingSink()
    code = (
        "import sys, threading\n"
        "print('one')\n"
        "print('two', file=sys.stderr)\n"
        "t = threading.Thread(target=lambda: print('from thread')); t.start(); t.join()\n"
        "print('three')"
    )
    assert run(python, code, sink).status == "ok"
    assert sink.events == [
        ("stdout", "one"),
        ("stdout", "\n"),
        ("stderr", "two"),
        ("stderr", "\n"),
        ("stdout", "from thread"),
        ("stdout", "\n"),
        ("stdout", "three"),
        ("stdout", "\n"),
    ]


def test_errors_are_clean_and_the_next_cell_works(python) -> None:
    syntax = run(python, "x = (1,")
    assert syntax.error.ename == "SyntaxError"
    assert any("^" in line for line in syntax.error.traceback)
    runtime = run(python, "def f():\n    return 1 / 0\nf()")
    assert runtime.error.ename == "ZeroDivisionError"
    text = "\n".join(runtime.error.traceback)
    assert "return 1 / 0" in text and "<cell-" in text
    assert "toree_interpreters" not in text
    analysis = run(python, "spark.sql('SELECT * FROM table_that_is_not_there')")
    assert analysis.error.ename == "AnalysisException"
    assert "table_that_is_not_there" in analysis.error.evalue
    assert run(python, "spark.range(3).count()").result == {"text/plain": "3"}


def test_input_through_the_sink(python) -> None:
    sink = CollectingSink(answer="ada")
    assert run(python, "input('name? ')", sink).result == {"text/plain": "'ada'"}
    denied = run(python, "input('name? ')", CollectingSink(answer=None))
    assert denied.error.ename == "StdinNotAllowed"
    assert "stdin" in denied.error.evalue


def test_complete_inspect_is_complete_evaluate(python) -> None:
    run(python, "import os")
    completion = python.complete("os.pa", 5)
    assert "path" in completion.matches
    assert (completion.cursor_start, completion.cursor_end) == (3, 5)
    assert "range" in python.complete("spark.ran", 9).matches
    assert "Return the number of items" in python.inspect("len", 3)["text/plain"]
    assert python.is_complete("x = 1").status == "complete"
    verdict = python.is_complete("def f():")
    assert (verdict.status, verdict.indent) == ("incomplete", "    ")
    assert python.is_complete("1 2 3 )").status == "invalid"
    assert python.evaluate("6 * 7") == {"text/plain": "42"}


def test_kernel_object_and_shared_data(python) -> None:
    sink = CollectingSink()
    run(
        python,
        "kernel.data['answer'] = 42\nkernel.display.html('<i>hi</i>')\nkernel.display.clear_output()",
        sink,
    )
    assert python.kernel.data == {"answer": 42}
    assert ("display", {"text/html": "<i>hi</i>", "text/plain": "<text/html>"}) in sink.events
    assert ("clear", False) in sink.events
    assert run(python, "kernel.sparkSession is spark").result == {"text/plain": "True"}


def interrupt_after(python: PySparkInterpreter, delay: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), python.interrupt()))
    thread.start()
    return thread


def test_interrupt_cancels_the_cells_spark_job(python) -> None:
    run(python, "keep = 'me'\nspark.range(1).count()")
    thread = interrupt_after(python, 2.0)
    started = time.monotonic()
    outcome = run(python, LONG_JOB)
    thread.join()
    assert outcome.error.ename == "KeyboardInterrupt"
    assert time.monotonic() - started < 15
    assert run(python, "list(sc.statusTracker().getActiveJobsIds())").result == {"text/plain": "[]"}
    assert run(python, "spark.range(5).count()").result == {"text/plain": "5"}
    assert run(python, "keep").result == {"text/plain": "'me'"}


def test_interrupt_pure_python_from_another_thread_and_when_idle(python) -> None:
    python.interrupt()  # idle: nothing happens
    thread = interrupt_after(python, 1.0)
    outcome = run(python, "while True:\n    pass")
    thread.join()
    assert outcome.error.ename == "KeyboardInterrupt"
    assert run(python, "1 + 1").result == {"text/plain": "2"}


def test_catalog_names_in_spark_sql_and_table_strings(python) -> None:
    """``spark.table("peo`` and ``spark.sql("... from peo``: the session's views first, then jedi's own."""
    run(python, "spark.sql('SELECT 1 AS id, \\'ann\\' AS name').createOrReplaceTempView('people_py')")
    code = 'spark.table("peo'
    found = tab_until(lambda: python.complete(code, len(code)), "people_py")
    assert (found.matches[0], found.cursor_start, found.cursor_end) == ("people_py", 13, 16)
    code = "spark.sql('select na from people_py')"
    found = tab_until(lambda: python.complete(code, 20), "name")
    assert found.matches[0] == "name" and code[found.cursor_start : found.cursor_end] == "na"
    assert "range" in python.complete("spark.ran", 9).matches  # elsewhere: jedi alone
