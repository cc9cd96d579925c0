"""The R room: R cells (the SparkR kernel, ``%%SparkR`` and ``%%R``) on the kernel's one SparkSession.

R runs in a process of its own (``process.py``), driven over a socket by a small R program
(``resources/toree.R``) that evaluates a cell expression by expression and shows values, plots,
warnings and errors as IRkernel does. SparkR's API (``resources/sparkr.R``) calls back into this
process, where ``spark_calls`` runs them with PySpark on the shared session. Why a process and not
rpy2 in the kernel: R's ``q()``, a crash or a C-level hang in R can never take the kernel (and the
Spark session every other language is using) down, interrupts are plain SIGINTs R handles itself,
and R's version is whatever Debian ships (rpy2 3.6 needs R 4.5).
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import subprocess
import threading
from typing import Any

import attrs

from ..contract import (
    BUSY,
    Completion,
    ExecuteOutcome,
    Interpreter,
    IsComplete,
    LanguageInfo,
    MimeBundle,
    OutputOptions,
    OutputSink,
    waits_when_busy,
)
from ..spark.cell import SparkCell
from ..spark.errors import cancelled
from ..spark.session import SparkSessionManager
from ..spark.tables import dataframe_bundle
from . import wire
from .process import RExited, RProcess, RUnavailable, r_binary
from .spark_calls import SparkCalls

log = logging.getLogger(__name__)

REQUEST_WAIT_S = 0.5  # completion/inspect (and a subshell's cell) wait this long for a running cell
BUSY_MESSAGE = (
    "the R session is running another cell (one R process runs one cell at a time), so this cell did not "
    "run; run it again when that cell is done, or interrupt it"
)
ENDED = "the next R cell starts a new R session (R's variables are gone; the Spark session, its views and the other languages are not)"


class RInterpreter(Interpreter):
    name = "SparkR"
    language_info = LanguageInfo(
        name="R",
        version="",
        mimetype="text/x-r-source",
        file_extension=".r",
        pygments_lexer="r",
        codemirror_mode="r",
    )

    def __init__(
        self, spark: SparkSessionManager, *, options: OutputOptions | None = None, eager: bool = False
    ) -> None:
        self.spark = spark
        self.options = options if options is not None else OutputOptions()
        self.eager = eager  # start R with the kernel (the SparkR kernel), not at the first R cell
        self.calls = SparkCalls(self.options)
        self._process: RProcess | None = None
        self._lock = threading.Lock()  # one request to R at a time
        self._sink: OutputSink | None = None  # the running cell's
        self._cell: SparkCell | None = None
        # R is started from this long-lived thread: R's parent-death signal follows the thread that forked it
        self._starter = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="toree-r-start")
        self._started: concurrent.futures.Future[RProcess] | None = None
        self._start_lock = threading.Lock()
        if eager:
            self.language_info = attrs.evolve(self.language_info, version=_installed_version())

    # R's process -----------------------------------------------------------------------------------
    def start(self) -> None:
        if self.eager:
            self._begin_start()

    def _begin_start(self) -> concurrent.futures.Future[RProcess]:
        with self._start_lock:  # a cell and a completion request may both find R not started
            started = self._started
            if started is None or (started.done() and (started.exception() or not started.result().alive)):
                started = self._started = self._starter.submit(self._new_process)
            return started

    def _new_process(self) -> RProcess:
        process = RProcess(self._process_output)
        process.start()
        self.calls.forget()
        self._process = process
        return process

    def _r(self) -> RProcess:
        """The R session, started (or restarted after it ended) as needed; RUnavailable says why not."""
        return self._begin_start().result()

    def _process_output(self, name: str, text: str) -> None:
        sink = self._sink
        if sink is not None:
            sink.stream("stderr" if name == "stderr" else "stdout", text)
        else:
            log.info("R: %s", text.rstrip())

    # Cells -----------------------------------------------------------------------------------------
    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        try:
            process = self._r()
        except RUnavailable as exc:
            return ExecuteOutcome.failed("RUnavailable", str(exc))
        # One R process, one cell at a time: a cell that must not queue (a subshell's) is refused at once.
        if not self._lock.acquire(timeout=-1 if waits_when_busy(sink) else REQUEST_WAIT_S):
            return ExecuteOutcome.failed(BUSY, BUSY_MESSAGE)
        try:
            return self._execute(process, code, sink)
        finally:
            self._lock.release()

    def _execute(self, process: RProcess, code: str, sink: OutputSink) -> ExecuteOutcome:
        with SparkCell(self.spark, sink, self.options, language="r") as cell:
            self._sink, self._cell = sink, cell
            self.calls.result = None
            try:
                process.send({"type": "execute", "code": code})
                outcome = self._follow(process, sink, cell)
            except (RExited, OSError) as exc:
                process.stop()
                outcome = ExecuteOutcome.failed("RExited", f"{exc}; {ENDED}")
            finally:
                self._sink = self._cell = None
        if cell.interrupted and outcome.status == "error":
            return cancelled("the R cell was interrupted (and its Spark jobs cancelled)")
        return outcome

    def _follow(self, process: RProcess, sink: OutputSink, cell: SparkCell) -> ExecuteOutcome:
        """R's output until its answer to the cell; Spark calls are answered on the way."""
        result: MimeBundle | None = None
        metadata: dict[str, Any] = {}
        pages: list[dict[str, Any]] = []  # execute_reply payloads
        for item in process.events():
            if isinstance(item, wire.Text):
                sink.stream("stdout", item.text)
                continue
            header = item.header
            kind = header.get("type")
            if kind == "call":
                reply, payload = self.calls.answer(header, item.payload, cell, sink)
                process.send(reply, payload)
                if self.calls.result is not None:
                    result, metadata, self.calls.result = self.calls.result, {}, None
            elif kind == "stream":
                sink.stream("stderr" if header.get("name") == "stderr" else "stdout", str(header.get("text", "")))
            elif kind == "display":
                sink.display(header.get("data") or {}, header.get("metadata") or None)
            elif kind == "page":
                pages.append({"source": "page", "data": header.get("data") or {}, "start": 0})
            elif kind == "result":
                result, metadata = header.get("data") or {}, header.get("metadata") or {}
            elif kind == "clear_output":
                sink.clear_output(bool(header.get("wait")))
            elif kind == "error":
                return ExecuteOutcome.failed(
                    str(header.get("ename", "Error")),
                    str(header.get("evalue", "")),
                    [str(line) for line in header.get("traceback") or []] or None,
                )
            elif kind == "done":
                break
        return ExecuteOutcome(result=result, result_metadata=metadata, payload=pages)

    def interrupt(self) -> None:
        """SIGINT to R (R stops the running code) and the cell's Spark jobs cancelled. Never blocks."""
        cell, process = self._cell, self._process
        if cell is None or process is None:
            return
        cell.interrupt()
        process.interrupt()

    def shutdown(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.stop()
        self._starter.shutdown(wait=False, cancel_futures=True)

    # Requests to R between cells -------------------------------------------------------------------
    def _ask(self, header: dict[str, Any]) -> dict[str, Any] | None:
        """R's answer to a request, or None when R is busy with a cell (past ``REQUEST_WAIT_S``) or absent."""
        if r_binary() is None or not self._lock.acquire(timeout=REQUEST_WAIT_S):
            return None
        try:
            process = self._r()
            process.send(header)
            for item in process.events():
                if isinstance(item, wire.Frame):
                    return item.header
            return None
        except (RUnavailable, RExited, OSError):
            log.debug("R could not answer %s", header.get("type"), exc_info=True)
            return None
        finally:
            self._lock.release()

    def complete(self, code: str, cursor_pos: int) -> Completion:
        answer = self._ask({"type": "complete", "code": code, "cursor": cursor_pos})
        if not answer or answer.get("type") != "complete":
            return Completion([], cursor_pos, cursor_pos)
        return Completion([str(m) for m in answer.get("matches") or []], int(answer["start"]), int(answer["end"]))

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> MimeBundle | None:
        answer = self._ask({"type": "inspect", "code": code, "cursor": cursor_pos})
        if not answer or not answer.get("found"):
            return None
        return dict(answer.get("data") or {})

    def is_complete(self, code: str) -> IsComplete:
        answer = self._ask({"type": "is_complete", "code": code})
        if not answer or answer.get("type") != "is_complete":
            return IsComplete("unknown")
        return IsComplete(answer["status"], "  " if answer["status"] == "incomplete" else "")

    def evaluate(self, expression: str) -> MimeBundle:
        """``user_expressions``: the value's MIME bundle (a SparkDataFrame's rows as a table)."""
        answer = self._value(expression)
        if "dataframe" in answer:
            return dataframe_bundle(self.calls.frames[str(answer["dataframe"])], self.options.max_rows)
        return dict(answer.get("data") or {})

    def value(self, expression: str) -> Any:
        """A SparkDataFrame as its PySpark DataFrame (``%%DataFrame``), an R scalar as its value (``${x}``)."""
        answer = self._value(expression)
        if "dataframe" in answer:
            return self.calls.frames[str(answer["dataframe"])]
        if answer.get("scalar") is None:
            raise ValueError(f"{expression} is not a SparkDataFrame or a single value in R")
        return answer["scalar"]

    def _value(self, expression: str) -> dict[str, Any]:
        answer = self._ask({"type": "evaluate", "code": expression})
        if answer is None:
            raise ValueError("R is busy or not available")
        if answer.get("type") == "error":
            message = str(answer.get("evalue", ""))
            if re.search(r"object '.*' not found", message):
                raise KeyError(expression)
            raise ValueError(message)
        return answer


def _installed_version() -> str:
    """R's version without starting R (``R --version`` is a shell script: milliseconds)."""
    binary = r_binary()
    if binary is None:
        return ""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    match = re.search(r"R version (\S+)", out)
    return match.group(1) if match else ""
