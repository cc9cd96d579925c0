"""PySpark cells are IPython cells (issue #16), through the real kernel: IPython's display and inline
plots, ``!cmd``, ``obj?`` (the ``page`` payload), its magics next to Toree's, its completer, inspector and
tracebacks, and ``In``/``Out``/``_N`` numbered as the kernel numbers cells."""

from __future__ import annotations

import base64
import re
import textwrap
import threading
import time

import pytest
from kernel_support import Kernel

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def plain(lines: list[str]) -> str:
    return ANSI.sub("", "\n".join(lines))


def outputs_of(kernel: Kernel, code: str) -> tuple[dict, list[dict]]:
    content, outputs = kernel.run(code)
    assert content["status"] == "ok", (code, content, outputs)
    return content, [m for m in outputs if m["msg_type"] != "execute_input"]


def stdout_of(outputs: list[dict]) -> str:
    return "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")


def test_ipython_display_reaches_the_cell_with_its_display_id(py: Kernel) -> None:
    msg_id = py.kc.execute(
        "from IPython.display import display, HTML\n"
        "display(HTML('<b>x</b>'))\n"
        "h = display(HTML('<i>1</i>'), display_id=True)\n"
        "h.update(HTML('<i>2</i>'))"
    )
    reply = py.kc.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok", reply["content"]
    shown = []
    while True:
        msg = py.kc.get_iopub_msg(timeout=10)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        if msg["msg_type"] in ("display_data", "update_display_data"):
            assert msg["parent_header"]["msg_id"] == msg_id
            shown.append(msg)
    assert [m["msg_type"] for m in shown] == ["display_data", "display_data", "update_display_data"]
    assert shown[0]["content"]["data"]["text/html"] == "<b>x</b>"
    assert shown[2]["content"]["data"]["text/html"] == "<i>2</i>"
    assert shown[1]["content"]["transient"]["display_id"] == shown[2]["content"]["transient"]["display_id"]


def test_inline_plots(py: Kernel) -> None:
    _, outputs = outputs_of(py, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()")
    pngs = [m["content"]["data"]["image/png"] for m in outputs if "image/png" in m["content"].get("data", {})]
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(b"\x89PNG")
    _, outputs = outputs_of(py, "%matplotlib inline\nfig, ax = plt.subplots()\nax.bar([1, 2], [3, 4])\nfig")
    results = [m for m in outputs if m["msg_type"] == "execute_result"]
    assert results and "image/png" in results[0]["content"]["data"]


def test_inline_plot_of_a_pandas_frame(py: Kernel) -> None:
    has_pandas, _ = py.ok("import importlib.util\nimportlib.util.find_spec('pandas') is not None")
    if has_pandas != "True":
        pytest.skip("pandas is not installed in this environment")
    _, outputs = outputs_of(py, "import matplotlib.pyplot as plt\nspark.range(5).toPandas().plot()\nplt.show()")
    assert any("image/png" in m["content"].get("data", {}) for m in outputs)


def test_shell_escapes(py: Kernel) -> None:
    _, outputs = outputs_of(py, "!echo hello-from-shell")
    assert "hello-from-shell" in stdout_of(outputs)
    assert py.value("files = !ls /\n'etc' in files") == "True"


def test_help_is_a_page_payload_and_inspect_uses_ipython(py: Kernel) -> None:
    content, _ = outputs_of(py, "len?")
    (page,) = content["payload"]
    assert page["source"] == "page" and page["start"] == 0
    assert "Return the number of items" in ANSI.sub("", page["data"]["text/plain"])
    reply = py.kc.inspect("len(x)", 2, detail_level=0, reply=True, timeout=30)["content"]
    assert reply["found"] and "Signature" in ANSI.sub("", reply["data"]["text/plain"])
    missing = py.kc.inspect("no_such_name_here", 5, reply=True, timeout=30)["content"]
    assert missing["status"] == "ok" and not missing["found"]


def test_ipython_magics_next_to_toree_magics(py: Kernel) -> None:
    _, outputs = outputs_of(py, "%timeit -n1 -r1 sum(range(10))")
    assert "per loop" in stdout_of(outputs)
    _, outputs = outputs_of(py, "%%time\nx_timed = 6 * 7")
    assert "Wall time" in stdout_of(outputs) and py.value("x_timed") == "42"
    _, outputs = outputs_of(py, "who_marker = 1\n%who")
    assert "who_marker" in stdout_of(outputs)
    py.ok("%env TOREE_IPYTHON_TEST=yes")
    assert py.value("import os\nos.environ['TOREE_IPYTHON_TEST']") == "'yes'"
    listing, _ = py.ok("%lsmagic")
    assert "%AddJar" in listing and "%timeit" in listing and "%%time" in listing
    assert py.ok("%LsMagic")[0] == listing
    # %%sql stays Toree's SQL on the shared session (IPython has none; Toree wins on a clash anyway)
    _, outputs = outputs_of(py, "%%sql\nSELECT 41 + 1 AS answer")
    assert any("answer" in str(m["content"].get("data", {})) for m in outputs)


def test_bad_magics_say_so_and_keep_the_kernel(py: Kernel) -> None:
    error = py.error("%timeitt 1")
    assert "%timeitt is not a magic" in error["evalue"] and "%timeit" in error["evalue"]
    error = py.error("%load_ext no_such_extension_anywhere")
    assert "no_such_extension_anywhere" in plain(error["traceback"]) + error["evalue"]
    error = py.error("%run /no/such/file.py")
    assert error["ename"] in ("UsageError", "FileNotFoundError", "Exception"), error
    assert py.value("1 + 1") == "2"


def test_ipython_extensions_load(py: Kernel, tmp_path) -> None:
    (tmp_path / "toree_test_ext.py").write_text(
        textwrap.dedent(
            """
            def load_ipython_extension(ip):
                ip.register_magic_function(lambda line: line.upper(), "line", "shout")
            """
        )
    )
    py.ok(f"import sys\nsys.path.insert(0, {str(tmp_path)!r})")
    py.ok("%load_ext toree_test_ext")
    assert py.value("%shout hello") == "'HELLO'"


def test_history_follows_the_kernel_execution_count(py: Kernel) -> None:
    content, _ = py.run("20 * 2")
    n = content["execution_count"]
    py.ok("%%sql\nSELECT 1")  # a cell the shell never sees still takes its number
    content, outputs = py.run(f"(In[{n}], Out[{n}], _{n}, _)")
    assert content["execution_count"] == n + 2
    result = next(m for m in outputs if m["msg_type"] == "execute_result")
    assert result["content"]["execution_count"] == n + 2
    assert result["content"]["data"]["text/plain"] == "('20 * 2', 40, 40, 40)"
    assert py.value("In[-1]") == "'In[-1]'" and py.value("__") == "('20 * 2', 40, 40, 40)"


def test_completion_and_is_complete(py: Kernel) -> None:
    py.ok("spark.version")  # the session is bound to `spark` by the first cell that uses it
    matches = py.kc.complete("spark.ran", 9, reply=True, timeout=60)["content"]["matches"]
    assert "range" in matches or "spark.range" in matches
    matches = py.kc.complete("%ti", 3, reply=True, timeout=30)["content"]["matches"]
    assert "%timeit" in matches and "%time" in matches
    def is_complete(code: str) -> dict:
        py.kc.is_complete(code)
        return py.kc.get_shell_msg(timeout=30)["content"]

    assert is_complete("def f(x):\n  x*2")["status"] == "incomplete"  # as ipykernel answers
    assert is_complete("files = !ls")["status"] == "complete"


def test_tracebacks_are_ipythons_and_spark_errors_stay_short(py: Kernel) -> None:
    error = py.error("def broken():\n    return 1 / 0\nbroken()")
    text = plain(error["traceback"])
    assert error["ename"] == "ZeroDivisionError" and "return 1 / 0" in text and "broken()" in text
    error = py.error("sc.parallelize([1], 1).map(lambda x: 1 / 0).collect()")
    assert len(error["evalue"].splitlines()) <= 13
    assert sum(len(line) for line in error["traceback"]) < 20_000
    assert py.value("spark.range(3).count()") == "3"


def test_interrupt_inside_an_ipython_magic(py: Kernel) -> None:
    timer = threading.Timer(2.0, py.km.interrupt_kernel)
    timer.start()
    started = time.monotonic()
    error = py.error("import time\n%time time.sleep(60)")
    assert error["ename"] == "KeyboardInterrupt" and time.monotonic() - started < 30
    assert py.value("'alive'") == "'alive'"


def test_a_dataframe_whose_job_fails_fails_the_cell(py: Kernel) -> None:
    """IPython's formatters print what a repr raises and carry on; a DataFrame's failing job fails the cell."""
    error = py.error("spark.range(3).selectExpr(\"raise_error('boom from the job') AS x\")")
    assert "boom from the job" in error["evalue"], error
    assert len(error["evalue"].splitlines()) <= 13  # shortened as any Spark error
    assert py.value("spark.range(2).count()") == "2"


def test_a_silent_cell_leaves_no_trace_in_the_history(py: Kernel) -> None:
    py.ok("'visible'")
    py.kc.execute("'from a silent cell'", silent=True)
    assert py.kc.get_shell_msg(timeout=60)["content"]["status"] == "ok"
    assert py.value("_") == "'visible'"


def test_a_second_interrupt_reaches_a_cell_that_caught_the_first(py: Kernel) -> None:
    """``!cmd`` catches the first interrupt (it stops the command); the next one stops the cell."""
    timers = [threading.Timer(t, py.km.interrupt_kernel) for t in (2.0, 5.0)]
    for timer in timers:
        timer.start()
    started = time.monotonic()
    error = py.error("!sleep 30\nimport time\ntime.sleep(120)")
    assert error["ename"] == "KeyboardInterrupt" and time.monotonic() - started < 30
    assert py.value("'alive'") == "'alive'"
