"""Scala cells on the same SparkSession as Python: the Scala REPL compiler (IMain) inside the Spark
driver JVM, driven through py4j (on Spark Connect, in a client JVM of its own: ``connect_repl``). No
Toree jar: pyspark's own spark-repl / scala-compiler jars.

The interpreter owns the cell lifecycle: one cell (or warm-up compile, or completion) on the REPL at a
time, Spark job groups and interrupts through ``SparkCell`` (stopping the JVM thread: ``stopping``), a
new REPL when the JVM was replaced. The JVM side lives in ``bridge`` (and its Scala resources), live
output in ``forwarding``, the REPL's reports in ``repl_output``, completion in ``completion``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from ..comms import CommManager
from ..contract import (
    BUSY,
    Completion,
    DiscardSink,
    ExecuteOutcome,
    Interpreter,
    IsComplete,
    LanguageInfo,
    MimeBundle,
    OutputOptions,
    OutputSink,
    waits_when_busy,
)
from ..shared_data import SharedData
from ..spark import tables
from ..spark.cell import SparkCell
from ..spark.errors import cancelled, lost
from ..spark.session import REQUEST_WAIT_S, SparkSessionManager, SparkUnavailable, is_connect
from ..sql.completion import complete_in_code
from . import completion, connect_repl, interrupt_checks, repl_output, stopping
from .bridge import BridgeError, ReplBridge, Verdict, shipped_scala_version, warmup_source
from .forwarding import Forwarder

log = logging.getLogger(__name__)
T = TypeVar("T")
BUSY_WAIT_S = 0.5  # a cell that must not queue still waits out a warm-up compile (~50 ms)
BUSY_MESSAGE = (
    "the Scala interpreter is running another cell (one Scala compiler runs one cell at a time), so this "
    "cell did not run; run it again when that cell is done, or interrupt it"
)


class ScalaInterpreter(Interpreter):
    name = "Scala"
    language_info = LanguageInfo(
        name="scala",
        version="2.13",
        mimetype="text/x-scala",
        file_extension=".scala",
        pygments_lexer="scala",
        codemirror_mode="text/x-scala",
    )

    def __init__(
        self,
        spark: SparkSessionManager,
        *,
        shared_data: SharedData | None = None,
        options: OutputOptions | None = None,
        comms: CommManager | None = None,
        predef: str = "",
    ) -> None:
        """``predef``: Scala definitions every REPL starts with, compiled with the bridge (the kernel
        declares ``var REQUEST`` under the Kernel Gateway, whose notebook-http mode assigns it)."""
        self.spark = spark
        self.predef = predef
        self.comms = comms if comms is not None else CommManager()
        self.shared_data = shared_data if shared_data is not None else SharedData()
        self._bridge: ReplBridge | None = None  # the REPL, once a cell needed it
        self._forwarder: Forwarder | None = None
        self._client = connect_repl.ReplJvm(spark)  # Spark Connect: the kernel's client JVM, for the REPL
        version = shipped_scala_version()  # known before the JVM starts: kernel_info answers at once
        self._scala_version = (int(version.split(".")[0]), int(version.split(".")[1]))
        self.language_info = attrs.evolve(self.language_info, version=version)
        self._lock = threading.Lock()
        self._spark_cell: SparkCell | None = None  # while a cell runs: its job group and interrupt
        self._interpreting = False  # the REPL runs the cell's code (interrupts can reach it)
        self._values = 0
        self._closed = False
        self._wanted = 0  # cells waiting for the REPL (the warm-up steps aside)
        self._last_cell_end = 0.0
        self.warmup_compiles = 150  # background compiles after start-up; 0 turns warm-up off
        self.interrupt_checks = True  # compile loops with an interrupt check (see interrupt_checks)
        self._pending_jars: list[str] = []  # added before the REPL existed
        self._repl_builder: threading.Thread | None = None  # builds the REPL for completion right after start
        self._lock_for_builder = threading.Lock()
        self._jars: list[str] = []  # added to the REPL: added again to a new one (after the JVM died)
        self.options = options if options is not None else OutputOptions()
        spark.on_lost(self._forget_jvm)

    def _forget_jvm(self) -> None:
        """The JVM died: its REPL, streams and kernel.data map with it. The next cell builds a new REPL."""
        self._bridge = None
        self._forwarder = None
        self.shared_data.detach_lost()  # kernel.data lived in the dead JVM: start an empty one
        self._client.stop()  # Spark Connect: the server went away; the next cell starts a new client

    def _start_repl(self) -> ReplBridge:
        """The REPL, created on first use (it needs the JVM, hence the session)."""
        session = self.spark.get()
        bridge = self._bridge
        if bridge is not None and bridge.session is session and self._client.usable():
            return bridge
        if bridge is not None:
            self._forget_jvm()
        bridge = self._new_bridge(session)
        self.shared_data.attach(bridge.kernel_data)
        self._bridge = bridge
        self._forwarder = Forwarder(bridge, self.comms)
        self._jars += self._pending_jars
        self._pending_jars.clear()
        for url in self._jars:
            bridge.add_to_classpath(url)
        if self.warmup_compiles:
            threading.Thread(target=self._warm_up, args=(bridge,), name="scala-warmup", daemon=True).start()
        return bridge

    def _new_bridge(self, session: Any) -> ReplBridge:
        if is_connect(session):  # Spark Connect: the REPL runs in a client JVM of its own
            gateway, new = self._client.factory(session, self.predef)
        else:
            gateway, class_dir = session.sparkContext._gateway, str(self.spark.repl_class_dir)
            new = lambda options: ReplBridge(session, class_dir, options, self.predef)  # noqa: E731
        plugin = interrupt_checks.plugin_dir(gateway, self.language_info.version) if self.interrupt_checks else None
        if plugin is not None:
            try:
                return new(interrupt_checks.compiler_options(plugin))
            except Exception:  # a dead JVM fails again below
                log.warning("the Scala REPL failed with interrupt checks; starting without", exc_info=True)
        try:
            return new("")
        except BridgeError as exc:
            raise SparkUnavailable(f"the Scala interpreter could not be set up: {exc}") from exc

    def _acquire_for_request(self) -> bool:
        """The REPL for completion/inspect: waits out a warm-up compile (~50 ms), not a running cell."""
        self._wanted += 1
        try:
            return self._lock.acquire(timeout=0.5)
        finally:
            self._wanted -= 1

    def _warm_up(self, bridge: ReplBridge) -> None:
        """Compile throwaway code while no cell runs, so the JVM's JIT has compiled the compiler: a
        trivial cell drops from ~80 ms (first cells) to ~30 ms. Yields to cells between compiles."""
        i = 0
        while i < self.warmup_compiles and not self._closed and self._bridge is bridge:
            # Only in idle time: not while a cell runs or waits, nor right after one (cells come in bursts).
            if (
                self._wanted
                or time.monotonic() - self._last_cell_end < 0.3
                or not self._lock.acquire(blocking=False)
            ):
                time.sleep(0.05)
                continue
            i += 1
            try:
                bridge.compile_only(warmup_source(i))
            except Exception:  # the JVM went away
                log.debug("Scala warm-up stopped", exc_info=True)
                return
            finally:
                self._lock.release()

    def warm_up(self) -> None:
        """The REPL built and a cell with a Spark job run (the compiler's and the JIT's first time; it
        leaves no name behind). The idle-time warm-up compiles go on after it, yielding to cells."""
        outcome = self.execute("{ spark.range(1).count(); () }", DiscardSink())
        if outcome.status != "ok":
            raise RuntimeError(f"the Scala warm-up cell failed: {outcome.error}")

    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        """Run a cell once the REPL is free: one compiler, one cell at a time. A cell whose sink does not
        wait when busy (a kernel subshell's) is refused at once while another cell runs."""
        if repl_output.only_comments(code):  # nothing to run, as in spark-shell
            return ExecuteOutcome()
        self._wanted += 1
        try:
            if not self._lock.acquire(timeout=-1 if waits_when_busy(sink) else BUSY_WAIT_S):
                self._wanted -= 1
                return ExecuteOutcome.failed(BUSY, BUSY_MESSAGE)
            try:
                self._wanted -= 1
                return self._execute(code, sink)
            finally:
                self._lock.release()
        finally:
            self._last_cell_end = time.monotonic()

    def _execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        with SparkCell(self.spark, sink, self.options, language="scala") as cell:
            self._spark_cell = cell
            try:
                bridge = self._start_repl()
                # The cell's thread starts from this thread's JVM twin (py4j pins it) and inherits its group.
                connect = is_connect(bridge.session)  # the client JVM's reports feed the progress display
                cell.attach(bridge.session, connect_repl.progress_poll(bridge, cell.group) if connect else None)
                if connect:  # the client tags the cell's operations
                    bridge.runner.setTag(cell.group)
            except SparkUnavailable as exc:
                return lost(exc)
            except Exception as exc:
                dead = self.spark.died(exc)
                if dead is None:
                    raise
                return lost(dead)
            assert self._forwarder is not None
            try:
                with self._forwarder.live(sink):
                    self._interpreting = True
                    status, reports = self._interpret(bridge, code)
            except Exception as exc:
                dead = self.spark.died(exc)
                if dead is None:
                    raise
                self._forget_jvm()
                return lost(dead)
            finally:
                self._interpreting = False
                self._spark_cell = None
        if status != "Success" or cell.interrupted:  # what ran before the end: not a line that failed
            ran = reports if status in ("Success", "Abandoned") else reports[:-1]
            self._show_echo("".join(ran), sink)
        if status == "Abandoned":
            return cancelled(stopping.abandoned_message(bridge))
        if cell.interrupted:
            return cancelled()
        return self._outcome(status, reports, sink)

    @staticmethod
    def _interpret(bridge: ReplBridge, code: str) -> tuple[str, list[str]]:
        """Run the cell a statement at a time, as spark-shell does (see ``statements.scala``), until one
        fails or the cell is interrupted: the REPL status of the last line run and each line's report.
        Code the parser finds incomplete or invalid runs whole, for the REPL to report."""
        verdict, starts = bridge.split(code)
        return bridge.interpret_lines(repl_output.cut(code, starts) if verdict == "complete" else [code])

    def _outcome(self, status: str, reports: list[str], sink: OutputSink) -> ExecuteOutcome:
        if status == "Success":
            self._show_echo("".join(reports), sink)
            return ExecuteOutcome(result=self._render(reports[-1]))  # the last line's value is the cell's
        failure = repl_output.failure(status, reports[-1])
        if failure.ename == "ScalaException" and is_connect(self.spark.session_if_ready):
            gone = self.spark.died(RuntimeError(reports[-1]))  # the Connect server went away?
            if gone is not None:
                return lost(gone)
        return ExecuteOutcome.failed(failure.ename, failure.evalue, failure.traceback)

    def _show_echo(self, report: str, sink: OutputSink) -> None:
        """Toree's echo of what ran: ``x = 2``, ``defined class Foo``, warnings (``%ShowOutput on``)."""
        options = self.options
        echo = repl_output.echo(report, show_types=options.show_types, full_value=self._full_values())
        if echo and options.show_output:
            sink.display({"text/plain": echo})

    def _full_values(self) -> Callable[[str], str] | None:
        """With truncation off, a term's whole value (the REPL shortens long ones)."""
        if self.options.truncation:
            return None
        return lambda name: str(self._require_bridge().term(name))

    def _require_bridge(self) -> ReplBridge:
        assert self._bridge is not None, "the Scala REPL is not running"
        return self._bridge

    def _render(self, report: str) -> MimeBundle | None:
        """The cell's value the way Toree shows it (a DataFrame as a table of its first rows); None when
        the cell has no ``resN`` value."""
        found = repl_output.result(report)
        if found is None:
            return None
        if found.is_dataframe:
            value, session = self._require_bridge().term(found.name), self.spark.session_if_ready
            with tables.jvm_dataframe(value, session, self.dataset_view) as df:
                if df is not None:
                    return tables.dataframe_bundle(df, self.options.max_rows)
        full = self._full_values()
        value = full(found.name) if full is not None else None
        return {"text/plain": found.text(show_types=self.options.show_types, value=value)}

    def dataset_view(self, value: Any, name: str) -> bool:
        """Spark Connect: a Scala Dataset as temp view ``name``, for Python to read (tables.jvm_dataframe)."""
        return connect_repl.dataset_view(self._require_bridge(), value, name)

    def evaluate(self, expression: str) -> MimeBundle:
        """``user_expressions``: the value's toString."""
        return {"text/plain": str(self.value(expression))}

    def value(self, expression: str) -> Any:
        """A Scala value as a py4j object (or a Python primitive, as py4j converts those)."""
        with self._lock:
            bridge = self._start_repl()
            name = expression.strip()
            if not name.isidentifier():
                self._values += 1
                name = f"toreeValue{self._values}"
                status, report = bridge.interpret(f"val {name} = ({expression})")
                if status != "Success":
                    why = repl_output.first_line(report)
                    raise ValueError(why or f"{expression!r} does not evaluate in Scala")
            return bridge.term(name)

    def complete(self, code: str, cursor_pos: int) -> Completion:
        """The presentation compiler's candidates; nothing while a cell runs or Spark is down. Right after
        start-up it waits for the session that is starting and the REPL (see ``_ask``)."""
        def own() -> Completion:
            return completion.as_completion(
                self._ask(lambda bridge: completion.candidates(bridge, code, cursor_pos, self._scala_version)), cursor_pos
            )
        # In the string of spark.sql("...")/spark.table("..."): the catalog's names first.
        return complete_in_code(code, cursor_pos, "scala", own, self.spark.catalog_names)

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> MimeBundle | None:
        """The type of the term under the cursor (``greeting: String``); waits for start-up as ``complete``."""
        if not repl_output.word_at(code, cursor_pos):
            return None
        text = self._ask(lambda bridge: completion.inspection(bridge, code, cursor_pos))
        return None if text is None else {"text/plain": text}

    def _ask(self, question: Callable[[ReplBridge], T]) -> T | None:
        """``question`` answered by the REPL for completion/inspect; None while a cell runs, Spark is down,
        or it failed (best-effort: never an error for the user). Right after start-up the session and the
        REPL are waited for, ``REQUEST_WAIT_S`` in all; a REPL still being built then goes on being built
        in the background, and the next request waits for that same build."""
        deadline = time.monotonic() + REQUEST_WAIT_S
        if not self.spark.wait_ready(REQUEST_WAIT_S):
            return None
        bridge = self._bridge
        if bridge is None or bridge.session is not self.spark.session_if_ready:
            with self._lock_for_builder:
                builder = self._repl_builder
                if builder is None or not builder.is_alive():
                    builder = threading.Thread(target=self._build_repl, name="scala-repl-build", daemon=True)
                    self._repl_builder = builder
                    builder.start()
            builder.join(max(0.0, deadline - time.monotonic()))
            if builder.is_alive():
                return None
        return self._with_repl(lambda: question(self._start_repl()))

    def _build_repl(self) -> None:
        """The REPL for a request, unless a cell holds the REPL (it builds it itself)."""
        self._with_repl(self._start_repl)

    def _with_repl(self, request: Callable[[], T]) -> T | None:
        """``request()`` with the REPL to itself (a warm-up compile is waited out, a running cell is not):
        None when a cell holds the REPL or the request failed (best-effort: never an error for the user)."""
        if not self._acquire_for_request():
            return None
        try:
            return request()
        except Exception:  # the JVM went away, the compiler choked on half-typed code ...
            log.debug("Scala request failed", exc_info=True)
            return None
        finally:
            self._lock.release()

    def add_jar(self, url: str) -> None:
        """Put a jar on the REPL's compile and run-time classpath (the ``%AddJar`` hook); the session
        manager's ``add_jar`` ships it to the executors. Before the REPL exists, it is remembered."""
        with self._lock:
            if self._bridge is None:
                self._pending_jars.append(url)
            else:
                self._bridge.add_to_classpath(url)
                self._jars.append(url)

    def interrupt(self) -> None:
        """Stop the running cell: cancel its Spark jobs, interrupt its JVM thread (sleeps, waits) and,
        if it is still busy a second later (``while (true) {}``), stop or abandon that thread."""
        cell = self._spark_cell
        if cell is not None:
            cell.interrupt(on_tick=stopping.thread_stopper(lambda: self._bridge, lambda: self._interpreting))

    def shutdown(self) -> None:
        self._closed = True  # ends the warm-up
        if self._client.jvm is not None:
            self._forget_jvm()

    def is_complete(self, code: str) -> IsComplete:
        """The REPL parser's verdict, as spark-shell decides whether to wait for more lines; a heuristic
        while the REPL is not up. A trailing operator (``6 *``) means more is coming."""
        bridge = self._bridge
        status: Verdict | None = None if bridge is None else self._with_repl(lambda: bridge.split(code)[0])
        if status is None:  # no REPL (yet), or it could not answer: the heuristic answers
            status = repl_output.is_complete(code)
        elif status == "complete" and repl_output.ends_in_operator(code):
            status = "incomplete"
        return IsComplete("incomplete", "  ") if status == "incomplete" else IsComplete(status)
