"""The IPython room embedded without a kernel: an application picks it (or the plain room) and gets
IPython cells through its own sink. No Spark: ``init_mode="none"`` and code that does not use it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from interp_support import CollectingSink

from toree_interpreters import IPythonInterpreter, PySparkInterpreter, SparkSessionManager


@pytest.fixture(scope="module")
def ipy() -> Iterator[IPythonInterpreter]:
    interp = IPythonInterpreter(SparkSessionManager(init_mode="none"), inline_plots=False)
    interp.start()
    yield interp
    interp.shutdown()


def test_an_embedder_chooses_the_room() -> None:
    plain = PySparkInterpreter(SparkSessionManager(init_mode="none"))
    outcome = plain.execute("%timeit 1", CollectingSink())
    assert outcome.status == "error" and outcome.error is not None and outcome.error.ename == "SyntaxError"
    assert plain.language_magics() == {}


def test_ipython_cells_through_the_embedders_sink(ipy: IPythonInterpreter) -> None:
    sink = CollectingSink()
    outcome = ipy.execute("from IPython.display import display, HTML\ndisplay(HTML('<b>x</b>'))\n6 * 7", sink)
    assert outcome.status == "ok" and outcome.result == {"text/plain": "42"}
    assert ("display", {"text/plain": "<IPython.core.display.HTML object>", "text/html": "<b>x</b>"}) in sink.events
    sink = CollectingSink()
    assert ipy.execute("!echo embedded", sink).status == "ok"
    assert "embedded" in sink.text()


def test_history_numbers_follow_begin_cell(ipy: IPythonInterpreter) -> None:
    ipy.begin_cell(10)
    ipy.execute("'ten'", CollectingSink())
    ipy.begin_cell(12)  # 11 never reached this room
    outcome = ipy.execute("(In[10], Out[10], _10, In[11])", CollectingSink())
    assert outcome.result == {"text/plain": "(\"'ten'\", 'ten', 'ten', '')"}


def test_help_payload_errors_and_a_failing_magic(ipy: IPythonInterpreter) -> None:
    outcome = ipy.execute("len?", CollectingSink())
    assert outcome.payload and outcome.payload[0]["source"] == "page"
    outcome = ipy.execute("%load_ext no_such_extension_here", CollectingSink())
    assert outcome.status == "error" and outcome.error is not None
    assert ipy.execute("%notamagic", CollectingSink()).error.ename == "UsageError"  # type: ignore[union-attr]
    assert ipy.execute("1 + 1", CollectingSink()).result == {"text/plain": "2"}
    assert "timeit" in ipy.language_magics()["line"] and "time" in ipy.language_magics()["cell"]


def test_without_matplotlib_nothing_breaks() -> None:
    """Inline plots are on by default; where matplotlib is not installed, cells run as usual and
    ``%matplotlib inline`` says what is missing (a fresh process in which matplotlib cannot be imported)."""
    probe = textwrap.dedent(
        """
        import sys
        sys.modules["matplotlib"] = None  # as if it were not installed
        from interp_support import CollectingSink
        from toree_interpreters import IPythonInterpreter, SparkSessionManager
        ipy = IPythonInterpreter(SparkSessionManager(init_mode="none"))
        ipy.start()
        plot = ipy.execute("%matplotlib inline", CollectingSink())
        print(repr((ipy.execute("6 * 7", CollectingSink()).result, plot.status, plot.error and plot.error.evalue)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )
    assert done.returncode == 0, done.stderr
    result, status, message = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert result == {"text/plain": "42"}
    assert status == "error" and "matplotlib" in message


def test_spark_inside_a_magic_or_help_counts_as_using_it(ipy: IPythonInterpreter) -> None:
    """The first cell binds ``spark`` when it uses it, also where IPython turns it into a string."""
    for code in ("%%time\nspark.range(3).count()", "%timeit spark.version", "spark?", "!echo {spark.version}"):
        assert ipy._mentions_spark(code), code
    assert not ipy._mentions_spark("%timeit sum(range(3))")
    assert not ipy._mentions_spark("sparkle = 1")


def test_importing_the_interpreters_does_not_load_ipython() -> None:
    """IPython loads when an IPythonInterpreter builds its shell: embedders of the plain room never pay."""
    probe = "import sys, toree_interpreters; print('IPython' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_a_failed_cells_traceback_is_formatted_once_and_an_interrupt_has_none(ipy: IPythonInterpreter) -> None:
    ipy.begin_cell(30)
    outcome = ipy.execute("def f():\n    raise ValueError('deep')\nf()", CollectingSink())
    assert outcome.error is not None and outcome.error.ename == "ValueError"
    stored = ipy.shell.history_manager.exceptions[30]  # what IPython keeps for the cell: the traceback shown
    assert stored["ename"] == "ValueError" and stored["traceback"] == outcome.error.traceback
    ipy.begin_cell(31)
    outcome = ipy.execute("raise KeyboardInterrupt", CollectingSink())
    assert outcome.error is not None and outcome.error.ename == "KeyboardInterrupt"
    assert outcome.error.traceback == ["KeyboardInterrupt: the cell was interrupted"]
    assert ipy.shell.history_manager.exceptions[31]["traceback"] == ["KeyboardInterrupt"]
    assert ipy.execute("1 + 1", CollectingSink()).result == {"text/plain": "2"}
