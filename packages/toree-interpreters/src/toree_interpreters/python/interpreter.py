"""The PySpark interpreter: Python cells in one persistent namespace with ``spark``, ``sc``, ``kernel``.

What the interpreter swaps into its process (``sys.stdout``, ``getpass``, comm hooks) is in place only
while a cell runs, or from ``start()`` to ``shutdown()`` for a kernel: see ``host_hooks.py``.

Interrupts are the delicate part. Each cell runs its Spark jobs in its own job group; an
interrupt cancels that group from a separate thread (py4j from another thread is safe), and
raises KeyboardInterrupt in the cell only when the cell is not inside a py4j call — raising
there would leave the JVM connection mid-answer. A cell stuck in the JVM gets its job
cancelled, the call returns with an error, and the cell reports KeyboardInterrupt.
"""

from __future__ import annotations

import ast
import builtins
import ctypes
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
    SparkConnectUnsupported,
    SparkSessionManager,
    SparkUnavailable,
    is_connect,
)
from ..streams import SinkStream
from . import introspection
from .host_hooks import HOOK_MODES, HookMode, HostHooks

log = logging.getLogger(__name__)

SPARK_NAMES = frozenset({"spark", "sc", "sqlContext"})
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
        self._sink: OutputSink | None = None  # the current (or last) cell's sink
        self._cell = 0
        self._exec_thread: int | None = None  # set while a cell runs
        self._spark_cell: SparkCell | None = None  # the running cell's job group, progress, interrupt
        self._raised = False
        self._raise_lock = threading.Lock()
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

    # Execution ------------------------------------------------------------------------------------
    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        self._cell += 1
        filename = f"<cell-{self._cell}>"
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
        """``run`` as the running cell: its output to ``sink``, its Spark jobs in a ``SparkCell`` of their
        own, interruptible, the host's hooks swapped for ours; what it raises becomes the outcome."""
        self._sink = sink
        self._raised = False
        cell = self._spark_cell = SparkCell(self.spark, sink, self.options, language="python")
        self._exec_thread = threading.get_ident()  # from here on, interrupts apply (also while Spark starts)
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
            with self._raise_lock:
                self._exec_thread = None
                if self._raised:
                    _set_async_exc(threading.get_ident(), None)  # drop one not delivered yet
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
        if _connect_unsupported(exc, self.spark.session_if_ready):
            return self._report(self._connect_error(exc), exc.__traceback__)
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

    def _connect_error(self, exc: BaseException) -> SparkConnectUnsupported:
        return SparkConnectUnsupported(
            f"{str(exc).strip().splitlines()[0]}: not available with Spark Connect (the kernel uses "
            f"{self.spark.remote}); use the DataFrame API or SQL"
        )

    def _bind_spark(self) -> None:
        session = self.spark.get()  # a new one if the JVM died: rebound below, and the cell is told
        if self._sink is not None:
            self.spark.announce(self._sink)
        if is_connect(session):
            if self.namespace.get("spark") is not session:
                self.namespace.update(spark=session, sc=_NoSparkContext(self.spark))
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
        """Cancel the cell's Spark jobs (as they start, too) and raise KeyboardInterrupt in its Python
        code as soon as it is out of the JVM: raising inside py4j would break the connection."""
        tid, cell, number = self._exec_thread, self._spark_cell, self._cell
        if tid is None or cell is None:
            return
        # Each interrupt may raise once more: code (or IPython's ``!cmd``) may have caught the last one.
        if self._raise_lock.acquire(blocking=threading.get_ident() != tid):  # never waits in the handler
            self._raised = False
            self._raise_lock.release()
        first = not cell.interrupted
        cell.interrupt(on_tick=lambda: self._raise_out_of_jvm(tid, number))
        if first and _in_jvm_call(tid):
            return  # the cancelling thread raises once the call returns
        self._raise_in(tid, number)

    def _raise_out_of_jvm(self, tid: int, cell: int) -> None:
        if not _in_jvm_call(tid):
            self._raise_in(tid, cell)

    def _raise_in(self, tid: int, cell: int) -> None:
        """Raise KeyboardInterrupt in the cell's thread, once, and only while that cell runs."""
        here = threading.get_ident() == tid  # we are the SIGINT handler, running on the cell's thread
        # The handler must not wait: it may have landed while this thread holds the lock (the cell's end).
        if not self._raise_lock.acquire(blocking=not here):
            return
        try:
            if self._raised or self._exec_thread != tid or self._cell != cell:
                return
            self._raised = True
            if not here:
                _set_async_exc(tid, KeyboardInterrupt)
                return
        finally:
            self._raise_lock.release()
        raise KeyboardInterrupt

    # Introspection --------------------------------------------------------------------------------
    def complete(self, code: str, cursor_pos: int) -> Completion:
        self._await_spark_names(code, cursor_pos)
        return introspection.complete(self.namespace, code, cursor_pos)

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> MimeBundle | None:
        self._await_spark_names(code, cursor_pos)
        return introspection.inspect(self.namespace, code, cursor_pos)

    def _await_spark_names(self, code: str, cursor_pos: int) -> None:
        """``spar<Tab>`` or ``spark.ran<Tab>`` right after start-up: the session is still starting and
        ``spark``/``sc`` are bound by the first cell. When the name at the cursor is (the start of) one of
        them, wait for the session (bounded) and bind them now; not while a cell runs (it binds them)."""
        if self._exec_thread is not None or "spark" in self.namespace:
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


def _in_jvm_call(tid: int) -> bool:
    frame = sys._current_frames().get(tid)
    while frame is not None:
        if str(frame.f_globals.get("__name__", "")).startswith("py4j"):
            return True
        frame = frame.f_back
    return False


def _set_async_exc(tid: int, exc: type[BaseException] | None) -> None:
    """Schedule ``exc`` in thread ``tid`` (None clears a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(exc) if exc else None)


class _NoSparkContext:
    """``sc`` on Spark Connect: there is no SparkContext; using it says so."""

    def __init__(self, spark: SparkSessionManager) -> None:
        self._spark = spark

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise SparkConnectUnsupported(
            f"sc.{name}: the SparkContext (sc, RDDs) is not available with Spark Connect (the kernel uses "
            f"{self._spark.remote}); use the DataFrame API or SQL"
        )

    def __repr__(self) -> str:
        return f"<no SparkContext: Spark Connect session on {self._spark.remote}>"


def _connect_unsupported(exc: BaseException, session: Any) -> bool:
    """pyspark's own errors for classic-only APIs on Connect (``spark.sparkContext``, ``_jvm`` ...)."""
    if session is None or not is_connect(session):
        return False
    text = str(exc)
    return (
        "NOT_IMPLEMENTED" in text
        or "JVM_ATTRIBUTE_NOT_SUPPORTED" in text
        or "NOT_SUPPORTED_WITH_SPARK_CONNECT" in text
    )


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
