"""The PySpark interpreter: Python cells in one persistent namespace with ``spark``, ``sc``, ``kernel``.

Interrupts are the delicate part. Each cell runs its Spark jobs in its own job group; an
interrupt cancels that group from a separate thread (py4j from another thread is safe), and
raises KeyboardInterrupt in the cell only when the cell is not inside a py4j call — raising
there would leave the JVM connection mid-answer. A cell stuck in the JVM gets its job
cancelled, the call returns with an error, and the cell reports KeyboardInterrupt.
"""

from __future__ import annotations

import ast
import builtins
import codeop
import ctypes
import getpass
import linecache
import logging
import os
import sys
import threading
import time
import traceback
import types
import uuid
from collections.abc import MutableMapping
from typing import Any

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
from ..spark.progress import JobProgress
from ..spark.session import (
    SparkConnectUnsupported,
    SparkSessionManager,
    SparkUnavailable,
    cancel_cell_group,
    end_cell_group,
    is_connect,
    start_cell_group,
)
from ..streams import SinkStream

log = logging.getLogger(__name__)

SPARK_NAMES = frozenset({"spark", "sc", "sqlContext"})
_OWN_DIR = os.path.dirname(os.path.abspath(__file__))
_MAX_EVALUE_LINES = 12


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
    ) -> None:
        self.spark = spark
        self.comms = comms if comms is not None else CommManager()
        self.options = options if options is not None else OutputOptions()
        self._progress: JobProgress | None = None  # the running cell's Spark job progress display
        self._sink: OutputSink | None = None  # the current (or last) cell's sink
        self._cell = 0
        self._exec_thread: int | None = None  # set while a cell runs
        self._job_group: str | None = None
        self._interrupts = 0
        self._raised = False
        self._raise_lock = threading.Lock()
        self._originals: tuple[Any, ...] | None = None  # stdout, stderr, getpass, comm hooks we replaced
        self.stdout = SinkStream("stdout", lambda: self._sink, sys.__stdout__)
        self.stderr = SinkStream("stderr", lambda: self._sink, sys.__stderr__)
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
        if self._originals is None:
            import comm

            self._originals = (
                sys.stdout,
                sys.stderr,
                getpass.getpass,
                comm.create_comm,
                comm.get_comm_manager,
            )
            sys.stdout, sys.stderr = self.stdout, self.stderr
            getpass.getpass = lambda prompt="Password: ", stream=None: self._input(prompt, password=True)
            # ipywidgets (and other comm users) open their comms through these
            comm.create_comm = self.comms.create_comm
            comm.get_comm_manager = lambda: self.comms

    def shutdown(self) -> None:
        if self._originals is not None:
            import comm

            sys.stdout, sys.stderr, getpass.getpass, comm.create_comm, comm.get_comm_manager = self._originals
            self._originals = None

    # Execution ------------------------------------------------------------------------------------
    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        self._cell += 1
        filename = f"<cell-{self._cell}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        try:
            body, last = _compile_cell(code, filename)
        except (SyntaxError, ValueError, OverflowError) as exc:
            return _failed(exc, exc.__traceback__, syntax=True)

        self._sink = sink
        self._interrupts = 0
        self._raised = False
        self._exec_thread = threading.get_ident()  # from here on, interrupts apply (also while Spark starts)
        value = None
        data: MimeBundle = {}
        metadata: dict[str, Any] = {}
        try:
            if _uses_names(body, last, SPARK_NAMES) or self.spark.is_ready:
                self._bind_spark()
            self._start_job_group()
            exec(body, self.namespace)
            if last is not None:
                value = eval(last, self.namespace)
            if value is not None:  # a DataFrame fetches its rows here: in the cell's job group
                data, metadata = self._bundle(value)
        except KeyboardInterrupt:
            return _interrupted("the cell was interrupted")
        except SparkUnavailable as exc:
            return ExecuteOutcome.failed(type(exc).__name__, str(exc))
        except BaseException as exc:
            lost = self.spark.died(exc)
            if lost is not None:  # not py4j's traceback: what happened, and what happens next
                return ExecuteOutcome.failed(type(lost).__name__, str(lost), [f"{type(lost).__name__}: {lost}"])
            if self._interrupts:
                return _interrupted("the cell's Spark jobs were cancelled")
            if oom := _driver_out_of_memory(exc):
                return ExecuteOutcome.failed("OutOfMemoryError", oom, [f"OutOfMemoryError: {oom}"])
            if _connect_unsupported(exc, self.spark.session_if_ready):
                return _failed(self._connect_error(exc), exc.__traceback__)
            return _failed(exc, exc.__traceback__)
        finally:
            with self._raise_lock:
                self._exec_thread = None
                if self._raised:
                    _set_async_exc(threading.get_ident(), None)  # drop one not delivered yet
            self._end_job_group()
        if value is None:
            return ExecuteOutcome()
        self.namespace["_"] = value
        return ExecuteOutcome(result=data, result_metadata=metadata)

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

    def _start_job_group(self) -> None:
        session = self.spark.session_if_ready
        self._job_group = None
        if session is None:
            return
        group = f"toree-cell-{self._cell}-{uuid.uuid4().hex[:8]}"
        try:
            start_cell_group(session, group, f"Toree cell {self._cell}")
            self._job_group = group
        except Exception:
            log.warning("could not set the Spark job group", exc_info=True)
        if self._job_group and self._sink is not None and not is_connect(session):
            self._progress = JobProgress.for_cell(
                lambda: self.spark.session_if_ready,
                self._job_group,
                self._sink,
                self.options,
                interrupted=lambda: self._interrupts > 0,
            )
            if self._progress is not None:
                self._progress.start()

    def _end_job_group(self) -> None:
        progress, self._progress = self._progress, None
        if progress is not None:
            progress.stop()  # publishes the final state before the cell's result
        session = self.spark.session_if_ready
        if self._job_group and session is not None:
            try:
                if self._interrupts and is_connect(session):  # the server may still run what the cell left
                    cancel_cell_group(session, self._job_group)
                end_cell_group(session, self._job_group)
            except Exception:
                log.debug("could not clear the job group", exc_info=True)

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
        tid = self._exec_thread
        if tid is None:
            return
        self._interrupts += 1
        if self._interrupts == 1:
            threading.Thread(
                target=self._enforce_interrupt, args=(tid, self._cell), name="interrupt", daemon=True
            ).start()
            if _in_jvm_call(tid):
                return  # raising inside py4j breaks the connection: the watcher takes over
        self._raise_in(tid, self._cell)

    def _raise_in(self, tid: int, cell: int) -> None:
        """Raise KeyboardInterrupt in the cell's thread, once, and only while that cell runs."""
        with self._raise_lock:
            if self._raised or self._exec_thread != tid or self._cell != cell:
                return
            self._raised = True
            if threading.get_ident() != tid:
                _set_async_exc(tid, KeyboardInterrupt)
                return
        raise KeyboardInterrupt  # we are the SIGINT handler, running on the cell's thread

    def _enforce_interrupt(self, tid: int, cell: int) -> None:
        """Until the interrupted cell ends: cancel its Spark jobs as they start (an interrupt can arrive
        before the job is submitted), and stop its Python code as soon as it is out of the JVM."""
        while self._exec_thread == tid and self._cell == cell:
            group, session = self._job_group, self.spark.session_if_ready
            if group and session is not None:
                _cancel_active_jobs(session, group)
            if not _in_jvm_call(tid):
                self._raise_in(tid, cell)
            time.sleep(0.05)

    # Introspection --------------------------------------------------------------------------------
    def complete(self, code: str, cursor_pos: int) -> Completion:
        import jedi

        line, column = _line_column(code, cursor_pos)
        try:
            completions = jedi.Interpreter(code, [self.namespace]).complete(line, column)
        except Exception:
            log.debug("completion failed", exc_info=True)
            return Completion([], cursor_pos, cursor_pos)
        if not completions:
            return Completion([], cursor_pos, cursor_pos)
        prefix = completions[0].get_completion_prefix_length()
        return Completion(
            [c.name for c in completions],
            cursor_pos - prefix,
            cursor_pos,
            {
                "_jupyter_types_experimental": [
                    {"text": c.name, "type": c.type, "start": cursor_pos - prefix, "end": cursor_pos}
                    for c in completions
                ]
            },
        )

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> MimeBundle | None:
        import jedi

        line, column = _line_column(code, cursor_pos)
        script = jedi.Interpreter(code, [self.namespace])
        try:
            names = script.help(line, column) or script.infer(line, column)
        except Exception:
            log.debug("inspect failed", exc_info=True)
            return None
        if not names:
            return None
        name = names[0]
        signatures = [s.to_string() for s in name.get_signatures()]
        doc = name.docstring(raw=True)
        text = "\n".join([*(f"Signature: {s}" for s in signatures), f"Type: {name.type}", "", doc]).strip()
        return {"text/plain": text} if text else None

    def is_complete(self, code: str) -> IsComplete:
        try:
            compile(code, "<is_complete>", "exec")
            return IsComplete("complete")
        except (SyntaxError, ValueError, OverflowError):
            pass
        try:
            if codeop.compile_command(code + "\n", "<is_complete>", "exec") is not None:
                return IsComplete("complete")
        except (SyntaxError, ValueError, OverflowError):
            return IsComplete("invalid")
        last = code.rstrip("\n").split("\n")[-1]
        indent = last[: len(last) - len(last.lstrip())]
        if last.rstrip().endswith(":"):
            indent += "    "
        return IsComplete("incomplete", indent)


def _compile_cell(code: str, filename: str) -> tuple[types.CodeType, types.CodeType | None]:
    """The cell as statements plus, if it ends in an expression, that expression to show."""
    tree = ast.parse(code, filename, "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
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


def _cancel_active_jobs(session: Any, group: str) -> None:
    try:
        if is_connect(session):
            cancel_cell_group(session, group)
            return
        tracker = session.sparkContext.statusTracker()
        if set(tracker.getActiveJobsIds()) & set(tracker.getJobIdsForGroup(group)):
            session.sparkContext.cancelJobGroup(group)
    except Exception:
        log.warning("cancelling Spark job group %s failed", group, exc_info=True)


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
    return "NOT_IMPLEMENTED" in text or "JVM_ATTRIBUTE_NOT_SUPPORTED" in text or "NOT_SUPPORTED_WITH_SPARK_CONNECT" in text


def _driver_out_of_memory(exc: BaseException) -> str | None:
    """A py4j call the driver JVM answered with OutOfMemoryError (the JVM lives on): what to do about it."""
    if type(exc).__name__ != "Py4JJavaError":
        return None
    for line in str(exc).splitlines()[:3]:
        if "java.lang.OutOfMemoryError" in line:
            return (
                f"the Spark driver ran out of memory ({line.strip().lstrip(':').strip()}); the session is still "
                "usable. Bring less to the driver (limit(), take()) or give it more memory (--driver-memory "
                "in the Spark options)"
            )
    return None


def _line_column(code: str, cursor_pos: int) -> tuple[int, int]:
    before = code[:cursor_pos]
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1)


def _interrupted(why: str) -> ExecuteOutcome:
    return ExecuteOutcome.failed("KeyboardInterrupt", why, ["KeyboardInterrupt: " + why])


def _failed(exc: BaseException, tb: types.TracebackType | None, *, syntax: bool = False) -> ExecuteOutcome:
    """An error outcome whose traceback starts at the user's code (our own frames are dropped)."""
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_OWN_DIR):
        tb = tb.tb_next
    evalue = _short(str(exc))
    if syntax:
        lines = traceback.format_exception_only(type(exc), exc)
    else:
        lines = traceback.format_exception(type(exc), exc.with_traceback(tb), tb)
        lines[-1:] = [f"{type(exc).__name__}: {evalue}\n"]
    return ExecuteOutcome.failed(type(exc).__name__, evalue, [line.rstrip("\n") for line in lines])


def _short(text: str) -> str:
    """Spark errors carry whole JVM stack traces; the first lines say what went wrong."""
    lines = text.strip().splitlines()
    if len(lines) <= _MAX_EVALUE_LINES:
        return text.strip()
    return "\n".join([*lines[:_MAX_EVALUE_LINES], f"... ({len(lines) - _MAX_EVALUE_LINES} more lines)"])
