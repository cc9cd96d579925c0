"""The IPython room: PySpark cells are IPython cells.

``IPythonInterpreter`` is the PySpark interpreter (its Spark cell, interrupts, host hooks, DataFrame
tables and ``kernel`` object) with an embedded IPython ``InteractiveShell`` running the code: ``!cmd``,
``%magics``, ``%%cell magics``, ``obj?``, ``_``/``In``/``Out``, IPython's tracebacks, completer and
inspector, and matplotlib's inline backend. It is not ipykernel: the shell publishes through the cell's
``OutputSink`` like every other room, so an embedder gets the same outputs without a kernel.

One shell per interpreter; the one running a cell is what ``get_ipython()`` returns. Cells are compiled
under their ``CellFiles`` path, and a few methods at the end serve a debugger (the kernel's DAP glue).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from ..comms import CommManager
from ..contract import Completion, ExecuteOutcome, IsComplete, MimeBundle, OutputOptions, OutputSink
from ..spark import tables
from ..spark.cell import SparkCell
from ..spark.errors import shorten
from ..spark.session import SparkSessionManager
from ..sql.completion import complete_in_code
from .cell_files import CellFiles
from .host_hooks import HookMode
from .interpreter import SPARK_NAMES, PySparkInterpreter, _failed, _uses_names

if TYPE_CHECKING:  # IPython itself is imported when the shell is built (off the kernel's start-up path)
    from .ipython_parts import ToreeShell

log = logging.getLogger(__name__)
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# Names IPython and this room put in the namespace: not the user's variables (a debugger's variables panel)
_IPYTHON_NAMES = frozenset(
    {"In", "Out", "get_ipython", "exit", "quit", "_ih", "_oh", "_dh", "_", "__", "___"}
)
_HISTORY_NAME = re.compile(r"_\d+|_i+\d*")
WARM_UP_AFTER_S = 60.0  # the completer is warmed once the session is up, or after this long
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
        self._here = _PerThread()  # the cell of each thread (kernel subshells run cells on several)
        self.cell_files = CellFiles.for_process()  # where a debugger finds each cell (its compiled name)
        self._own = {name: self.namespace[name] for name in ("input", "update_display")}  # ours, not the user's
        self._removed_cleanup: list[tuple[int, Any]] = []  # IPython cleanup transforms off while debugged

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
        shell.compile.files = self.cell_files  # our compiler_class: CellFileCompiler
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
            self._here.display_failure = self._here.display_failure or exc
            return None

    # Lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.inline_plots:
            os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
        super().start()
        # IPython loads (~0.2 s) on a thread of its own, so a kernel answers kernel_info meanwhile; the
        # first request that needs the shell waits for it.
        threading.Thread(target=self._prepare, name="ipython-shell", daemon=True).start()

    def _prepare(self) -> None:
        """Build the shell, then, once Spark is up (not to slow its start), warm the completer: jedi's
        first completions take ~1 s of CPU, the first Tab (or a subshell's completion) would wait for it."""
        _ = self.shell  # built here, on this thread
        self.spark.wait_ready(WARM_UP_AFTER_S)
        if not self._cells and self._started:  # not while a cell runs (or once the kernel stops)
            self._warm_completer()

    def _warm_completer(self) -> None:
        from IPython.core.completer import provisionalcompleter

        for text in ("pri", "import o", "len("):
            try:
                with provisionalcompleter():
                    list(self.shell.Completer.completions(text, len(text)))
            except Exception:  # only ever a warm-up
                log.debug("completer warm-up failed", exc_info=True)
                return

    def warm_up(self) -> None:
        """The plain room's warm-up cell, run by IPython, and the completer warmed."""
        super().warm_up()
        self._warm_completer()

    def shutdown(self) -> None:
        super().shutdown()
        if self._shell is not None:
            from .ipython_parts import forget

            forget(self._shell)
        shutil.rmtree(self.cell_files.directory, ignore_errors=True)  # the cells a debugger had dumped

    def begin_cell(self, execution_count: int, *, store_history: bool = True, silent: bool = False) -> None:
        here = self._here
        here.count, here.store_history, here.silent = execution_count, store_history, silent

    def language_magics(self) -> dict[str, list[str]]:
        found = self.shell.magics_manager.magics
        return {"line": sorted(found["line"]), "cell": sorted(found["cell"])}

    # Execution ------------------------------------------------------------------------------------
    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
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
        here = self._here
        if here.count is not None and here.store_history:
            align_history(shell, here.count)
        shell.displayhook.captured = None
        shell.take_errors()
        here.shown, here.display_failure = {}, None
        result = shell.run_cell(code, store_history=here.store_history, silent=here.silent)
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
            here.shown = {id(evalue): stb for _, evalue, stb in shown}
            return self._failure(error, cell)
        if here.display_failure is not None:  # the job behind a DataFrame's table failed or was interrupted
            return self._failure(here.display_failure, cell)
        captured = shell.displayhook.captured
        if captured is None:
            return ExecuteOutcome(payload=payload)
        return ExecuteOutcome(result=captured[0], result_metadata=captured[1], payload=payload)

    def _report(self, exc: BaseException, tb: Any) -> ExecuteOutcome:
        """IPython's traceback of ``exc``, its last line (a Spark error's JVM text) shortened."""
        stb = self._here.shown.get(id(exc))
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

        def own() -> Completion:
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

        self._await_spark_names(code, cursor_pos)
        return complete_in_code(code, cursor_pos, "python", own, self.spark.catalog_names)

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

    # Debugger support ---------------------------------------------------------------------------------
    def set_debugging(self, active: bool) -> None:
        """While a debugger is attached, a cell's leading blank lines stay: IPython drops them, and every
        line would then run one line above where the client set its breakpoint."""
        from IPython.core.inputtransformer2 import leading_empty_lines

        transforms = self.shell.input_transformer_manager.cleanup_transforms
        if active and not self._removed_cleanup and leading_empty_lines in transforms:
            index = transforms.index(leading_empty_lines)
            self._removed_cleanup.append((index, transforms.pop(index)))
        elif not active:
            for index, transform in reversed(self._removed_cleanup):
                transforms.insert(index, transform)
            self._removed_cleanup.clear()

    def is_user_variable(self, name: str) -> bool:
        """False for what IPython and this room put in the namespace (``In``, ``_i3``, ``__name__``, our
        ``input``) unless the user has rebound it."""
        if name in _IPYTHON_NAMES or _HISTORY_NAME.fullmatch(name) or (name[:2] == name[-2:] == "__"):
            return False
        return not (name in self._own and self.namespace.get(name) is self._own[name])

    def format_value(self, value: Any) -> tuple[MimeBundle, dict[str, Any]]:
        """A value's display bundle and metadata, as a cell's result would show it (a DataFrame's table)."""
        return self._bundle(value)

    def rich_expression(self, name: str) -> str:
        """Python that evaluates, in any frame of a cell, to ``format_value``'s answer for variable ``name``
        (a debugger stopped in the cell evaluates it there)."""
        return f"__import__('IPython').get_ipython().display_formatter.format({name})"


class _PerThread(threading.local):
    """The IPython room's state of the cell running on the calling thread."""

    count: int | None = None  # the kernel's number for the thread's next cell (None: IPython counts)
    store_history = True
    silent = False
    display_failure: BaseException | None = None  # showing a DataFrame failed in this cell

    def __init__(self) -> None:
        self.shown: dict[int, list[str]] = {}  # the traceback IPython made of each error of the cell
