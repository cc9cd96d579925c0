"""The IPython room: PySpark cells are IPython cells.

``IPythonInterpreter`` is the PySpark interpreter (its Spark cell, interrupts, host hooks, DataFrame
tables and ``kernel`` object) with an embedded IPython ``InteractiveShell`` running the code: ``!cmd``,
``%magics``, ``%%cell magics``, ``obj?``, ``_``/``In``/``Out``, IPython's tracebacks, completer and
inspector, and matplotlib's inline backend. It is not ipykernel: the shell publishes through the cell's
``OutputSink`` like every other room, so an embedder gets the same outputs without a kernel.

One shell per interpreter; the one running a cell is what ``get_ipython()`` returns.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from ..comms import CommManager
from ..contract import Completion, ExecuteOutcome, IsComplete, MimeBundle, OutputOptions, OutputSink
from ..spark import tables
from ..spark.cell import SparkCell
from ..spark.errors import shorten
from ..spark.session import SparkSessionManager
from .host_hooks import HookMode
from .interpreter import SPARK_NAMES, PySparkInterpreter, _failed, _uses_names

if TYPE_CHECKING:  # IPython itself is imported when the shell is built (off the kernel's start-up path)
    from .ipython_parts import ToreeShell

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
_SPARK_WORD = re.compile(r"\b(?:" + "|".join(sorted(SPARK_NAMES)) + r")\b")
# What a DataFrame (or a JVM Dataset handed over from Scala) is shown as: a table of its first rows.
_SPARK_TYPES = (
    ("pyspark.sql.dataframe", "DataFrame"),
    ("pyspark.sql.connect.dataframe", "DataFrame"),
    ("py4j.java_gateway", "JavaObject"),
)


class IPythonInterpreter(PySparkInterpreter):
    """PySpark cells run by an IPython ``InteractiveShell`` (``inline_plots``: matplotlib's inline
    backend is the default backend, as under ipykernel, unless ``MPLBACKEND`` says otherwise)."""

    def __init__(
        self,
        spark: SparkSessionManager,
        *,
        shared_data: MutableMapping[str, Any] | None = None,
        options: OutputOptions | None = None,
        comms: CommManager | None = None,
        hooks: HookMode = "cell",
        inline_plots: bool = True,
    ) -> None:
        super().__init__(spark, shared_data=shared_data, options=options, comms=comms, hooks=hooks)
        self.inline_plots = inline_plots
        del self.namespace["display"]  # IPython's own display() (a builtin under the shell)
        self._shell: ToreeShell | None = None
        self._shell_lock = threading.Lock()
        self._count: int | None = None  # the kernel's number for the next cell (None: IPython counts)
        self._store_history = True
        self._shown: dict[int, list[str]] = {}  # the traceback IPython made of each error of the cell
        self._display_failure: BaseException | None = None  # showing a DataFrame failed in this cell
        self._silent = False

    @property
    def shell(self) -> ToreeShell:
        """The shell, made on first use (``start()`` makes it)."""
        with self._shell_lock:  # start() may be building it on its own thread
            if self._shell is None:
                self._shell = self._make_shell()
            return self._shell

    def _make_shell(self) -> ToreeShell:
        from IPython.display import update_display
        from traitlets.config import Config

        from .ipython_parts import ToreeShell, make_current

        config = Config()
        config.HistoryManager.enabled = False  # the kernel keeps the history; In/Out stay in memory
        shell = ToreeShell(config=config, user_ns=self.namespace)
        shell.display_pub.sink = lambda: self._sink
        self.namespace.setdefault("update_display", update_display)  # as the plain room has it
        assert shell.display_formatter is not None
        formatter = shell.display_formatter.mimebundle_formatter
        for module, name in _SPARK_TYPES:
            formatter.for_type_by_name(module, name, self._spark_bundle)
        make_current(shell)
        return shell

    def _spark_bundle(self, value: Any) -> MimeBundle | None:
        """A DataFrame's table. Its job may fail or be interrupted: IPython's formatters would print that
        and carry on, so it is kept for the cell's outcome instead (``_run_cell``)."""
        try:
            df = tables.as_dataframe(value, self.spark.session_if_ready)
            return None if df is None else tables.dataframe_bundle(df, self.options.max_rows)
        except BaseException as exc:
            self._display_failure = self._display_failure or exc
            return None

    # Lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.inline_plots:
            os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
        super().start()
        # IPython loads (~0.2 s) on a thread of its own, so a kernel answers kernel_info meanwhile; the
        # first request that needs the shell waits for it.
        threading.Thread(target=lambda: self.shell, name="ipython-shell", daemon=True).start()

    def shutdown(self) -> None:
        super().shutdown()
        if self._shell is not None:
            from .ipython_parts import forget

            forget(self._shell)

    def begin_cell(self, execution_count: int, *, store_history: bool = True, silent: bool = False) -> None:
        self._count, self._store_history, self._silent = execution_count, store_history, silent

    def language_magics(self) -> dict[str, list[str]]:
        found = self.shell.magics_manager.magics
        return {"line": sorted(found["line"]), "cell": sorted(found["cell"])}

    # Execution ------------------------------------------------------------------------------------
    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        self._cell += 1
        shell = self.shell
        # Once the session is up every cell binds it anyway: no second transform of the cell to look for it.
        uses_spark = self.spark.is_ready or self._mentions_spark(code)
        return self._in_cell(sink, uses_spark, lambda cell: self._run_cell(shell, code, cell))

    def _mentions_spark(self, code: str) -> bool:
        try:
            transformed = self.shell.transform_cell(code)
            compiled = compile(transformed, "<cell>", "exec")
        except Exception:  # IPython reports it when it runs the cell
            return _SPARK_WORD.search(code) is not None
        if _uses_names(compiled, None, SPARK_NAMES):
            return True
        # In a magic's argument, ``spark?`` or ``!echo {spark.version}`` the name is only a string.
        return "get_ipython()" in transformed and _SPARK_WORD.search(code) is not None

    def _run_cell(self, shell: ToreeShell, code: str, cell: SparkCell) -> ExecuteOutcome:
        from .ipython_parts import align_history, make_current, write_stderr

        make_current(shell)
        if self._count is not None and self._store_history:
            align_history(shell, self._count)
        shell.displayhook.captured = None
        shell.take_errors()
        self._shown, self._display_failure = {}, None
        result = shell.run_cell(code, store_history=self._store_history, silent=self._silent)
        payloads = shell.payload_manager
        assert payloads is not None
        payload = payloads.read_payload()
        payloads.clear_payload()
        shown = shell.take_errors()
        error = result.error_before_exec or result.error_in_exec
        for _, evalue, stb in shown:  # tracebacks IPython showed without failing the cell (a broken repr)
            if evalue is not error:
                write_stderr(shell.as_text(stb))
        if error is not None:
            self._shown = {id(evalue): stb for _, evalue, stb in shown}
            return self._failure(error, cell)
        if self._display_failure is not None:  # the job behind a DataFrame's table failed or was interrupted
            return self._failure(self._display_failure, cell)
        captured = shell.displayhook.captured
        if captured is None:
            return ExecuteOutcome(payload=payload)
        return ExecuteOutcome(result=captured[0], result_metadata=captured[1], payload=payload)

    def _report(self, exc: BaseException, tb: Any) -> ExecuteOutcome:
        """IPython's traceback of ``exc``, its last line (a Spark error's JVM text) shortened."""
        stb = self._shown.get(id(exc))
        if not stb:
            return _failed(exc, tb)
        evalue = shorten(str(exc))
        if evalue != str(exc).strip():
            stb = [entry for entry in stb[:-1] if "/py4j/" not in entry] + [f"{type(exc).__name__}: {evalue}"]
        return ExecuteOutcome.failed(type(exc).__name__, evalue, stb)

    def _bundle(self, value: Any) -> tuple[MimeBundle, dict[str, Any]]:
        """Everything as IPython formats it (DataFrames as tables: a formatter registered for them)."""
        formatter = self.shell.display_formatter
        assert formatter is not None
        data, metadata = formatter.format(value)
        return data, metadata

    # Introspection --------------------------------------------------------------------------------
    def complete(self, code: str, cursor_pos: int) -> Completion:
        from IPython.core.completer import provisionalcompleter, rectify_completions

        self._await_spark_names(code, cursor_pos)
        with provisionalcompleter():
            found = list(rectify_completions(code, self.shell.Completer.completions(code, cursor_pos)))
        if not found:
            return Completion([], cursor_pos, cursor_pos)
        types = [
            {"start": c.start, "end": c.end, "text": c.text, "type": c.type, "signature": c.signature}
            for c in found
        ]
        return Completion(
            [c.text for c in found], found[0].start, found[0].end, {"_jupyter_types_experimental": types}
        )

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> MimeBundle | None:
        from IPython.utils.tokenutil import token_at_cursor

        self._await_spark_names(code, cursor_pos)
        name = token_at_cursor(code, cursor_pos)
        try:
            bundle: MimeBundle = self.shell.object_inspect_mime(name, detail_level=detail_level)
        except Exception:  # not found (KeyError), or an object whose inspection fails
            return None
        if not self.shell.enable_html_pager:
            bundle.pop("text/html", None)
        return bundle or None

    def is_complete(self, code: str) -> IsComplete:
        status, indent = self.shell.input_transformer_manager.check_complete(code)
        if status == "incomplete":
            return IsComplete("incomplete", " " * (indent or 0))
        return IsComplete(status if status in ("complete", "invalid") else "unknown")
