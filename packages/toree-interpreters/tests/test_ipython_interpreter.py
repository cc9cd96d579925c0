"""The IPython room embedded without a kernel: an application picks it (or the plain room) and gets
IPython cells through its own sink. No Spark: ``init_mode="none"`` and code that does not use it."""

from __future__ import annotations

from collections.abc import Iterator

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
