"""The PySpark interpreter: Python cells in one persistent namespace with ``spark``, ``sc``, ``kernel``.

What the interpreter swaps into its process (``sys.stdout``, ``getpass``, comm hooks) is in place only
while a cell runs, or from ``start()`` to ``shutdown()`` for a kernel: see ``host_hooks.py``.

Interrupts are the delicate part. Each cell runs its Spark jobs in its own job group; an
interrupt cancels that group from a separate thread (py4j from another thread is safe), and
raises KeyboardInterrupt in the cell only when the cell is not inside a py4j call — raising
there would leave the JVM connection mid-answer. A cell stuck in the JVM gets its job
cancelled, the call returns with an error, and the cell reports KeyboardInterrupt. Nor is it
raised inside a debugger's own code (debugpy, while a cell is stopped at a breakpoint or
stepping): the debugger would be left thinking the cell is stopped.
"""

from __future__ import annotations

import ast
import builtins
import ctypes
import functools
import itertools
import linecache
import logging
import os
import sys
import threading
import traceback
import types
from collections.abc import Callable, MutableMapping
from typing import Any, TextIO, cast

from ..comms import CommManager
from ..contract import (
    Completion,
    DiscardSink,
    ExecuteOutcome,
    Interpreter,
    IsComplete,
    LanguageInfo,
    MimeBundle,
    OutputOptions,
    OutputSink,
    StdinNotAllowed,
)
from ..display import mime_bundle
from ..kernel_api import KernelAPI
from ..spark import tables
from ..spark.cell import SparkCell
from ..spark.errors import cancelled, lost, shorten
from ..spark.session import (
    REQUEST_WAIT_S,
    SparkSessionManager,
    SparkUnavailable,
    is_connect,
)
from ..sql.completion import complete_in_code
from ..streams import SinkStream
from . import connect, introspection
from .host_hooks import HOOK_MODES, HookMode, HostHooks
from .running import RunningCell, RunningCells

log = logging.getLogger(__name__)

SPARK_NAMES = frozenset({"spark", "sc", "sqlContext"})
_JVM_BRIDGE = ("py4j",)
_DEBUGGERS = ("debugpy", "pydevd", "_pydevd_bundle", "_pydev_bundle", "_pydevd_frame_eval")  # debugpy's parts
WARM_UP_CELL = "spark.range(10).count()\nspark.sql('SELECT 1 AS warm').collect()\nNone"
_OWN_DIR = os.path.dirname(os.path.abspath(__file__))


class PySparkInterpreter(Interpreter):
    name = "PySpark"
    language_info = LanguageInfo(
        name="python",
        version=".".join(map(str, sys.version_info[:3])),
        mimetype="text/x-python",
        file_extension=".py",
        pygments_lexer="ipython3",
        codemirror_mode={"name": "ipython", "version": 3},
        nbconvert_exporter="python",
    )

    def __init__(
        self,
        spark: SparkSessionManager,
        *,
        shared_data: MutableMapping[str, Any] | None = None,
        options: OutputOptions | None = None,
        comms: CommManager | None = None,
        hooks: HookMode = "cell",
    ) -> None:
        if hooks not in HOOK_MODES:
            raise ValueError(f"hooks must be one of {HOOK_MODES}, not {hooks!r}")
        self.spark = spark
        self.hook_mode = hooks
        self.comms = comms if comms is not None else CommManager()
        self.options = options if options is not None else OutputOptions()
        # The cells running now (several at once with kernel subshells), each thread's sink: see running.py
        self._cells = RunningCells()
        self._numbers = itertools.count(1)
        self._started = False
        # Text with no cell to go to: the process's own streams (None only without a console)
        self.stdout = SinkStream("stdout", lambda: self._sink, cast(TextIO, sys.__stdout__))
        self.stderr = SinkStream("stderr", lambda: self._sink, cast(TextIO, sys.__stderr__))
        self._hooks = HostHooks(
            self.stdout, self.stderr, lambda prompt: self._input(prompt, password=True), self.comms
        )
        self.kernel = KernelAPI(
            spark,
            shared_data if shared_data is not None else {},
            lambda: self._sink,
            (self.stdout, self.stderr),
            self._bundle,
            self.comms,
        )
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": builtins,
            "kernel": self.kernel,
            "display": self.kernel.display.display,  # IPython's display() and update_display()
            "update_display": self.kernel.display.update,
            "input": self._input,
        }

    # Lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        if not self._started and self.hook_mode == "process":
            self._hooks.install()
        self._started = True

    def shutdown(self) -> None:
        if self._started and self.hook_mode == "process":
            self._hooks.restore()
        self._started = False

    @property
    def _sink(self) -> OutputSink | None:
        """The calling thread's cell's sink (or, for a thread running no cell, the home sink)."""
        return self._cells.sink()

    def warm_up(self) -> None:
        """The session up, then a silent cell that runs a job and a query (code generation, the scheduler,
        a cell's own machinery warm), leaving nothing behind: no history, no ``_``, no output."""
        self.spark.get()
        self.begin_cell(0, store_history=False, silent=True)
        outcome = self.execute(WARM_UP_CELL, DiscardSink())
        if outcome.status != "ok":
            raise RuntimeError(f"the warm-up cell failed: {outcome.error}")

    # Execution ------------------------------------------------------------------------------------
    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        filename = f"<cell-{next(self._numbers)}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        try:
            body, last = _compile_cell(code, filename)
        except (SyntaxError, ValueError, OverflowError) as exc:
            return _failed(exc, exc.__traceback__, syntax=True)
        return self._in_cell(sink, _uses_names(body, last, SPARK_NAMES), lambda cell: self._run(body, last))

    def _run(self, body: types.CodeType, last: types.CodeType | None) -> ExecuteOutcome:
        exec(body, self.namespace)
        value = eval(last, self.namespace) if last is not None else None
        if value is None:
            return ExecuteOutcome()
        data, metadata = self._bundle(value)  # a DataFrame fetches its rows here: in the cell's job group
        self.namespace["_"] = value
        return ExecuteOutcome(result=data, result_metadata=metadata)

    def _in_cell(
        self, sink: OutputSink, uses_spark: bool, run: Callable[[SparkCell], ExecuteOutcome]
    ) -> ExecuteOutcome:
        """``run`` as the calling thread's running cell: its output to ``sink``, its Spark jobs in a
        ``SparkCell`` of their own, interruptible, the host's hooks swapped for ours; what it raises becomes
        the outcome. Cells on other threads (kernel subshells) may run meanwhile, each with its own sink."""
        cell = SparkCell(self.spark, sink, self.options, language="python")
        running = self._cells.begin(sink, cell)  # from here on, interrupts apply (also while Spark starts)
        try:
            self._hooks.install()  # the cell's sys.stdout, getpass, comms; the host's again in finally
            if uses_spark or self.spark.is_ready:
                self._bind_spark()
            session = self.spark.session_if_ready
            if session is not None:
                cell.attach(session)  # the cell's jobs in its own group, their progress shown
            return run(cell)
        except BaseException as exc:
            return self._failure(exc, cell)
        finally:
            with self._cells.lock:
                self._cells.end(running)
                if running.raised:
                    _set_async_exc(running.thread, None)  # drop one not delivered yet
            self._hooks.restore()
            cell.end()

    def _failure(self, exc: BaseException, cell: SparkCell) -> ExecuteOutcome:
        """The outcome of a cell that raised ``exc``: not py4j's traceback when Spark is why, but what
        happened and what happens next."""
        if isinstance(exc, KeyboardInterrupt):
            return cancelled("the cell was interrupted")
        if isinstance(exc, SparkUnavailable):
            return lost(exc)
        spark_failure = cell.failure(exc)
        if spark_failure is not None:
            return spark_failure
        if connect.unsupported(exc, self.spark.session_if_ready):
            return self._report(connect.explained(exc, self.spark.remote), exc.__traceback__)
        return self._report(exc, exc.__traceback__)

    def _report(self, exc: BaseException, tb: types.TracebackType | None) -> ExecuteOutcome:
        """The error outcome of a user error (the IPython room formats it its own way)."""
        return _failed(exc, tb)

    def _bundle(self, value: Any) -> tuple[MimeBundle, dict[str, Any]]:
        """A Spark DataFrame as a table of its first rows (never collected whole); others by their reprs."""
        df = tables.as_dataframe(value, self.spark.session_if_ready)
        if df is not None:
            return tables.dataframe_bundle(df, self.options.max_rows), {}
        return mime_bundle(value)

    def evaluate(self, expression: str) -> MimeBundle:
        return self._bundle(self.value(expression))[0]

    def value(self, expression: str) -> Any:
        try:
            code = compile(expression.strip(), "<expression>", "eval")
        except SyntaxError as exc:
            raise ValueError(f"not a Python expression: {expression.strip()!r} ({exc.msg})") from None
        if any(name in SPARK_NAMES for name in code.co_names):
            self._bind_spark()
        try:
            return eval(code, self.namespace)
        except NameError as exc:
            raise KeyError(exc.name or expression.strip()) from None

    def _bind_spark(self) -> None:
        session = self.spark.get()  # a new one if the JVM died: rebound below, and the cell is told
        if self._sink is not None:
            self.spark.announce(self._sink)
        if is_connect(session):
            if self.namespace.get("spark") is not session:
                self.namespace.update(spark=session, sc=connect.NoSparkContext(self.spark))
            return
        if self.namespace.get("spark") is not session:
            self.namespace.update(spark=session, sc=session.sparkContext)
            try:
                from pyspark.sql import SQLContext

                self.namespace["sqlContext"] = SQLContext(session.sparkContext, session)
            except Exception:  # removed in some Spark versions: spark is what people use now
                pass

    def _input(self, prompt: str = "", password: bool = False) -> str:
        sink = self._sink
        if sink is None:
            raise StdinNotAllowed("input() is only available while a cell runs")
        try:
            return sink.input(str(prompt), password)
        except StdinNotAllowed as exc:
            raise StdinNotAllowed(f"input() is not available: {exc}") from None

    # Interrupt ------------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Interrupt every running cell (the main shell's and the subshells'): cancel its Spark jobs (as
        they start, too) and raise KeyboardInterrupt in its Python code as soon as it is out of the JVM:
        raising inside py4j would break the connection."""
        me = threading.get_ident()
        # A SIGINT handler runs on the main cell's thread and raises there: that cell comes last.
        for running in sorted(self._cells.all(), key=lambda c: c.thread == me):
            self._interrupt_cell(running)

    def _interrupt_cell(self, running: RunningCell) -> None:
        cell = running.spark
        # Each interrupt may raise once more: code (or IPython's ``!cmd``) may have caught the last one.
        lock = self._cells.lock
        if lock.acquire(blocking=threading.get_ident() != running.thread):  # never waits in the handler
            running.raised = False
            lock.release()
        first = not cell.interrupted
        cell.interrupt(on_tick=lambda: self._raise_when_safe(running))
        tid = running.thread
        if _in_frames_of(tid, _DEBUGGERS) or (first and _in_frames_of(tid, _JVM_BRIDGE)):
            return  # the cancelling thread raises once the call returns
        self._raise_in(running)

    def _raise_when_safe(self, running: RunningCell) -> None:
        if not _in_frames_of(running.thread, _JVM_BRIDGE + _DEBUGGERS):
            self._raise_in(running)

    def _raise_in(self, running: RunningCell) -> None:
        """Raise KeyboardInterrupt in the cell's thread, once, and only while that cell runs."""
        here = threading.get_ident() == running.thread  # we are the SIGINT handler, on the cell's thread
        # The handler must not wait: it may have landed while this thread holds the lock (the cell's end).
        if not self._cells.lock.acquire(blocking=not here):
            return
        try:
            if running.raised or self._cells.on(running.thread) is not running:
                return
            running.raised = True
            if not here:
                _set_async_exc(running.thread, KeyboardInterrupt)
                return
        finally:
            self._cells.lock.release()
        raise KeyboardInterrupt

    # Introspection --------------------------------------------------------------------------------
    def complete(self, code: str, cursor_pos: int) -> Completion:
        """jedi's completions; in the string of ``spark.sql("...")``/``spark.table("...")``, the catalog's
        names first."""
        self._await_spark_names(code, cursor_pos)
        own = functools.partial(introspection.complete, self.namespace, code, cursor_pos)
        return complete_in_code(code, cursor_pos, "python", own, self.spark.catalog_names)

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> MimeBundle | None:
        self._await_spark_names(code, cursor_pos)
        return introspection.inspect(self.namespace, code, cursor_pos)

    def _await_spark_names(self, code: str, cursor_pos: int) -> None:
        """``spar<Tab>`` or ``spark.ran<Tab>`` right after start-up: the session is still starting and
        ``spark``/``sc`` are bound by the first cell. When the name at the cursor is (the start of) one of
        them, wait for the session (bounded) and bind them now; not while a cell runs (it binds them)."""
        if self._cells or "spark" in self.namespace:
            return
        head = introspection.dotted_name_at(code, cursor_pos).split(".")[0]
        wanted = head and any(name.startswith(head) for name in SPARK_NAMES)
        if wanted and self.spark.wait_ready(REQUEST_WAIT_S):
            self._bind_spark()

    def is_complete(self, code: str) -> IsComplete:
        return introspection.is_complete(code)


def _compile_cell(code: str, filename: str) -> tuple[types.CodeType, types.CodeType | None]:
    """The cell as statements plus, if it ends in an expression, that expression to show."""
    tree = ast.parse(code, filename, "exec")
    last = None
    tail = tree.body[-1] if tree.body else None
    if isinstance(tail, ast.Expr):
        tree.body.pop()
        last = ast.Expression(tail.value)
    body = compile(tree, filename, "exec")
    return body, compile(last, filename, "eval") if last is not None else None


def _uses_names(body: types.CodeType, last: types.CodeType | None, names: frozenset[str]) -> bool:
    stack = [c for c in (body, last) if c is not None]
    while stack:
        code = stack.pop()
        if names.intersection(code.co_names):
            return True
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return False


def _in_frames_of(tid: int, modules: tuple[str, ...]) -> bool:
    """Thread ``tid`` is running code of one of ``modules`` (top-level names), or code called from it."""
    frame = sys._current_frames().get(tid)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).partition(".")[0] in modules:
            return True
        frame = frame.f_back
    return False


def _set_async_exc(tid: int, exc: type[BaseException] | None) -> None:
    """Schedule ``exc`` in thread ``tid`` (None clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(exc) if exc else None)


def _failed(exc: BaseException, tb: types.TracebackType | None, *, syntax: bool = False) -> ExecuteOutcome:
    """An error outcome whose traceback starts at the user's code (our own frames are dropped)."""
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_OWN_DIR):
        tb = tb.tb_next
    evalue = shorten(str(exc))
    if syntax:
        lines = traceback.format_exception_only(type(exc), exc)
    else:
        lines = traceback.format_exception(type(exc), exc.with_traceback(tb), tb)
        lines[-1:] = [f"{type(exc).__name__}: {evalue}\n"]
    return ExecuteOutcome.failed(type(exc).__name__, evalue, [line.rstrip("\n") for line in lines])
