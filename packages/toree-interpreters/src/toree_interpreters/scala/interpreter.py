"""Scala cells on the same SparkSession as Python: the Scala REPL compiler (IMain) inside the Spark
driver JVM, driven through py4j. No Toree jar: pyspark's own spark-repl / scala-compiler jars.

Output: Scala 2.13 has no ``Console.setOut``, so the REPL defines a small drainable stream class and
``Console``'s thread-local ``outVar`` is pointed at it; a Python thread drains it every 50 ms while a
cell runs, so ``println`` reaches the notebook live. Results and compile errors come from the REPL's
reporter, which writes to a StringWriter we read after each cell.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ..comms import CommManager, ToreeComm
from ..contract import (
    Completion,
    ExecuteOutcome,
    Interpreter,
    IsComplete,
    LanguageInfo,
    MimeBundle,
    OutputOptions,
    OutputSink,
)
from ..shared_data import SharedData
from ..spark import tables
from ..spark.cell import SparkCell
from ..spark.errors import cancelled, lost
from ..spark.session import SparkSessionManager, SparkUnavailable

log = logging.getLogger(__name__)
DRAIN_SECONDS = 0.05
STOP_AFTER_S = 1.0  # an interrupted cell still busy this long after Thread.interrupt gets Thread.stop

_SETUP = """
class ToreeStream extends java.io.OutputStream {
  private val buf = new java.io.ByteArrayOutputStream()
  override def write(b: Int): Unit = buf.synchronized { buf.write(b) }
  override def write(b: Array[Byte], off: Int, len: Int): Unit = buf.synchronized { buf.write(b, off, len) }
  def drain(): String = buf.synchronized { val s = buf.toString("UTF-8"); buf.reset(); s }
}
val toreeOut = new ToreeStream
val toreeErr = new ToreeStream
def toreeRedirect(): Unit = {
  def point(field: String, to: java.io.OutputStream): Unit = {
    val f = scala.Console.getClass.getDeclaredField(field); f.setAccessible(true)
    f.get(scala.Console).asInstanceOf[scala.util.DynamicVariable[java.io.PrintStream]]
      .value_=(new java.io.PrintStream(to, true, "UTF-8"))
  }
  point("outVar", toreeOut); point("errVar", toreeErr)
  // Java's streams too (System.out.println, executor threads in local mode); Spark's log4j appender
  // captured the real stderr at start-up and keeps writing to the kernel's terminal.
  System.setOut(new java.io.PrintStream(toreeOut, true, "UTF-8"))
  System.setErr(new java.io.PrintStream(toreeErr, true, "UTF-8"))
}
toreeRedirect()
class ToreeDisplay {
  // (kind, mime, data, displayId) queued for Python, which publishes them while the cell runs
  private val items = new java.util.ArrayList[Array[String]]()
  private def add(item: String*): Unit = items.synchronized { items.add(item.toArray) }
  def content(mime: String, data: String): Unit = add("show", mime, data, null)
  def content(mime: String, data: String, displayId: String): Unit = add("show", mime, data, displayId)
  def update(displayId: String, mime: String, data: String): Unit = add("update", mime, data, displayId)
  def html(s: String): Unit = content("text/html", s)
  def html(s: String, displayId: String): Unit = content("text/html", s, displayId)
  def javascript(s: String): Unit = content("application/javascript", s)
  def markdown(s: String): Unit = content("text/markdown", s)
  def markdown(s: String, displayId: String): Unit = content("text/markdown", s, displayId)
  def image(png: Array[Byte]): Unit = content("image/png", java.util.Base64.getEncoder.encodeToString(png))
  def clear_output(): Unit = clear_output(false)
  def clear_output(wait: Boolean): Unit = add(if (wait) "clear-wait" else "clear", null, null, null)
  def drain(): Array[Array[String]] = items.synchronized {
    val all = items.toArray(new Array[Array[String]](0)); items.clear(); all
  }
}
class ToreeComm(val commId: String, val targetName: String, comms: ToreeComms) {
  @volatile private var msgHandler: String => Unit = (_: String) => ()
  @volatile private var closeHandler: String => Unit = (_: String) => ()
  def send(jsonData: String): Unit = comms.add("msg", commId, targetName, jsonData)
  def close(): Unit = close("{}")
  def close(jsonData: String): Unit = comms.add("close", commId, targetName, jsonData)
  def onMsg(f: String => Unit): Unit = msgHandler = f
  def onClose(f: String => Unit): Unit = closeHandler = f
  def deliverMsg(jsonData: String): Unit = msgHandler(jsonData)
  def deliverClose(jsonData: String): Unit = closeHandler(jsonData)
  override def toString: String = s"ToreeComm($commId, $targetName)"
}
class ToreeComms {  // kernel.comm: drained by Python, which speaks the Jupyter comm protocol
  private val items = new java.util.ArrayList[Array[String]]()
  private val targets = new java.util.concurrent.ConcurrentHashMap[String, ToreeComm => Unit]()
  private val comms = new java.util.concurrent.ConcurrentHashMap[String, ToreeComm]()
  def add(item: String*): Unit = items.synchronized { items.add(item.toArray) }
  def open(targetName: String): ToreeComm = open(targetName, "{}")
  def open(targetName: String, jsonData: String): ToreeComm = {
    val c = new ToreeComm(java.util.UUID.randomUUID.toString.replace("-", ""), targetName, this)
    comms.put(c.commId, c)
    add("open", c.commId, targetName, jsonData)
    c
  }
  def registerTarget(targetName: String, f: ToreeComm => Unit): Unit = {
    targets.put(targetName, f)
    add("target", null, targetName, null)
  }
  // Python calls these for client messages: (open: the data as JSON) -> the target's handler
  def deliver(kind: String, commId: String, targetName: String, jsonData: String): Unit = kind match {
    case "open" =>
      val c = new ToreeComm(commId, targetName, this)
      comms.put(commId, c)
      Option(targets.get(targetName)).foreach(f => f(c))
    case "msg" => Option(comms.get(commId)).foreach(_.deliverMsg(jsonData))
    case "close" => Option(comms.remove(commId)).foreach(_.deliverClose(jsonData))
    case _ => ()
  }
  def forget(commId: String): Unit = comms.remove(commId)
  def drain(): Array[Array[String]] = items.synchronized {
    val all = items.toArray(new Array[Array[String]](0)); items.clear(); all
  }
}
class ToreeKernel {
  val comm = new ToreeComms
  val data = new java.util.concurrent.ConcurrentHashMap[String, Any]()  // shared with Python's kernel.data
  val display = new ToreeDisplay
  def out: java.io.PrintStream = scala.Console.out
  def err: java.io.PrintStream = scala.Console.err
  def sparkSession: org.apache.spark.sql.SparkSession = org.apache.spark.sql.SparkSession.active
  def sparkContext: org.apache.spark.SparkContext = sparkSession.sparkContext
}
val kernel = new ToreeKernel
val toreeReplThread = Thread.currentThread()
val spark = org.apache.spark.sql.SparkSession.active
val sc = spark.sparkContext
val sqlContext = spark.sqlContext
import spark.implicits._
"""


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
    ) -> None:
        self.spark = spark
        self.comms = comms if comms is not None else CommManager()
        self._jvm_comms: Any = None  # the JVM ToreeComms queue (kernel.comm)
        self.shared_data = shared_data if shared_data is not None else SharedData()
        self._repl: Any = None
        self._report: Any = None  # java.io.StringWriter the reporter writes to
        self._streams: tuple[Any, Any] | None = None  # JVM ToreeStream objects for stdout, stderr
        self._display: Any = None  # the JVM ToreeDisplay queue
        self._thread: Any = None  # the JVM thread the REPL runs cells on
        version = _shipped_scala_version()  # known before the JVM starts: kernel_info answers at once
        self._scala_version = tuple(int(part) for part in version.split(".")[:2])
        self.language_info = attrs.evolve(self.language_info, version=version)
        self._lock = threading.Lock()
        self._spark_cell: SparkCell | None = None  # while a cell runs: its job group and interrupt
        self._values = 0
        self._closed = False
        self._wanted = 0  # cells waiting for the REPL (the warm-up steps aside)
        self._last_cell_end = 0.0
        self.warmup_compiles = 150  # background compiles after start-up; 0 turns warm-up off
        self._pending_jars: list[str] = []  # added before the REPL existed
        self._jars: list[str] = []  # added to the REPL: added again to a new one (after the JVM died)
        self._session: Any = None  # the SparkSession the REPL runs in
        self.options = options if options is not None else OutputOptions()
        spark.on_lost(self._forget_jvm)

    def _forget_jvm(self) -> None:
        """The JVM died: its REPL, streams and kernel.data map with it. The next cell builds a new REPL."""
        self._repl = None
        self._session = None
        self._streams = self._display = self._jvm_comms = self._thread = self._report = None
        self.shared_data.detach_lost()  # kernel.data lived in the dead JVM: start an empty one

    def _start_repl(self) -> None:
        """Create the REPL on first use (it needs the JVM, hence the session)."""
        session = self.spark.classic("Scala cells are")
        if self._repl is not None and self._session is session:
            return
        if self._repl is not None:
            self._forget_jvm()
        jvm = session.sparkContext._jvm
        settings = jvm.scala.tools.nsc.Settings()
        outdir = self.spark.repl_class_dir
        settings.processArgumentString(f"-Yrepl-class-based -Yrepl-outdir {outdir} -usejavacp")
        self._report = jvm.java.io.StringWriter()
        writer = jvm.java.io.PrintWriter(self._report, True)
        interpreter_pkg = jvm.scala.tools.nsc.interpreter
        try:  # Scala 2.13 (Spark 4.x): the reporter is a separate object
            reporter = interpreter_pkg.shell.ReplReporterImpl(settings, writer)
            repl = interpreter_pkg.IMain(settings, reporter)
        except Exception:  # Scala 2.12 (Spark 3.5)
            repl = interpreter_pkg.IMain(settings, writer)
        if str(repl.interpret(_SETUP)) != "Success":
            raise SparkUnavailable(f"the Scala interpreter could not be set up: {self._take_report()}")
        self._take_report()

        def term(name: str) -> Any:
            return repl.valueOfTerm(name).get()

        self._streams = (term("toreeOut"), term("toreeErr"))
        kernel = term("kernel")
        self._display = kernel.display()
        self._jvm_comms = kernel.comm()
        self._thread = term("toreeReplThread")
        self.shared_data.attach(kernel.data())
        self._repl = repl
        self._session = session
        self._jars += self._pending_jars
        self._pending_jars.clear()
        for url in self._jars:
            self._add_to_classpath(url)
        if self.warmup_compiles:
            threading.Thread(target=self._warm_up, args=(repl,), name="scala-warmup", daemon=True).start()

    def _acquire_for_request(self) -> bool:
        """The REPL for completion/inspect: waits out a warm-up compile (~50 ms), not a running cell."""
        self._wanted += 1
        try:
            return self._lock.acquire(timeout=0.5)
        finally:
            self._wanted -= 1

    def _warm_up(self, repl: Any) -> None:
        """Compile throwaway code while no cell runs, so the JVM's JIT has compiled the compiler: a
        trivial cell drops from ~80 ms (first cells) to ~30 ms. Yields to cells between compiles."""
        i = 0
        while i < self.warmup_compiles and not self._closed and self._repl is repl:
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
                repl.compileString(_WARMUP.format(i=i))
            except Exception:  # the JVM went away
                log.debug("Scala warm-up stopped", exc_info=True)
                return
            finally:
                self._lock.release()

    def _take_report(self) -> str:
        text = str(self._report.toString())
        self._report.getBuffer().setLength(0)
        return text

    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        if not code.strip():
            return ExecuteOutcome()
        self._wanted += 1
        try:
            with self._lock:
                self._wanted -= 1
                return self._execute(code, sink)
        finally:
            self._last_cell_end = time.monotonic()

    def _execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        with SparkCell(self.spark, sink, self.options, language="scala") as cell:
            self._spark_cell = cell
            try:
                self._start_repl()
                cell.attach(self._session)  # the REPL thread is this thread's JVM twin (py4j pins it)
            except SparkUnavailable as exc:
                return lost(exc)
            except Exception as exc:
                dead = self.spark.died(exc)
                if dead is None:
                    raise
                return lost(dead)
            stop = threading.Event()
            drainer = threading.Thread(target=self._drain_until, args=(stop, sink), daemon=True)
            drainer.start()
            try:
                status = str(self._repl.interpret(code))
                report = self._take_report()
            except Exception as exc:
                dead = self.spark.died(exc)
                if dead is None:
                    raise
                self._forget_jvm()
                return lost(dead)
            finally:
                stop.set()
                drainer.join()
                if self._streams is not None:
                    try:
                        self._drain(sink)
                    except Exception:  # the JVM died: reported above
                        log.debug("draining Scala output failed", exc_info=True)
                self._spark_cell = None
        if cell.interrupted:
            return cancelled()
        return self._outcome(status, report, sink)

    def _outcome(self, status: str, report: str, sink: OutputSink) -> ExecuteOutcome:
        if status == "Success":
            echo = self._echo(report)
            if echo and self.options.show_output:
                sink.display({"text/plain": echo})
            return ExecuteOutcome(result=self._render(report))
        if status == "Incomplete":
            return ExecuteOutcome.failed(
                "Incomplete", "the cell is incomplete (an open brace or expression?)"
            )
        first = _first_line(report)
        ename = "CompileError" if "error:" in report else "ScalaException"
        return ExecuteOutcome.failed(ename, first.removeprefix("error: "), report.rstrip("\n").splitlines())

    def _render(self, report: str) -> MimeBundle | None:
        """The cell's value the way Toree shows it (a DataFrame as a table of its first rows); None when
        the cell has no ``resN`` value."""
        matches = list(_RESULT.finditer(report))
        if not matches:
            return None
        match = matches[-1]  # a cell's value is its last expression
        name, type_, value = match.group(1), match.group(2), match.group(3).rstrip("\n")
        if _DATAFRAME_TYPE.match(type_):
            session = self.spark.session_if_ready
            df = tables.as_dataframe(self._repl.valueOfTerm(name).get(), session)
            if df is not None:
                return tables.dataframe_bundle(df, self.options.max_rows)
        if not self.options.truncation:
            value = self._full_value(name)
        return {"text/plain": f"{type_} = {value}" if self.options.show_types else value}

    def _full_value(self, name: str) -> str:
        return str(self._repl.valueOfTerm(name).get())

    def _echo(self, report: str) -> str:
        """What Toree echoes for a cell besides its value: ``x = 2`` per definition (``x: Int = 2``
        with types shown), ``defined class Foo``, signatures of defs, and the compiler's warnings."""
        lines = []
        for entry in _ENTRY.findall(report):
            entry = entry.rstrip("\n")
            if _RESULT.match(entry) or entry.startswith("import "):
                continue
            if named := _NAMED.match(entry):
                name, type_, value = named.groups()
                if not self.options.truncation:
                    value = self._full_value(name)
                lines.append(f"{name}: {type_} = {value}" if self.options.show_types else f"{name} = {value}")
            elif defined := _DEFINED.match(entry):
                lines.append(f"defined {defined.group(1).replace('module', 'object')} {defined.group(2)}")
            else:
                lines.append(entry)
        return "\n".join(lines)

    def evaluate(self, expression: str) -> MimeBundle:
        """``user_expressions``: the value's toString."""
        return {"text/plain": str(self.value(expression))}

    def value(self, expression: str) -> Any:
        """A Scala value as a py4j object (or a Python primitive, as py4j converts those)."""
        with self._lock:
            self._start_repl()
            name = expression.strip()
            if not name.isidentifier():
                self._values += 1
                name = f"toreeValue{self._values}"
                status = str(self._repl.interpret(f"val {name} = ({expression})"))
                report = self._take_report()
                if status != "Success":
                    raise ValueError(_first_line(report) or f"{expression!r} does not evaluate in Scala")
            found = self._repl.valueOfTerm(name)
            if not found.isDefined():
                raise KeyError(name)
            return found.get()

    def complete(self, code: str, cursor_pos: int) -> Completion:
        """The presentation compiler's candidates (Scala 2.13); nothing while a cell runs or Spark is down."""
        if not self.spark.is_ready or not self._acquire_for_request():
            return Completion([], cursor_pos, cursor_pos)
        try:
            self._start_repl()
            if self._scala_version >= (2, 13):
                start, names = self._complete_213(code, cursor_pos)
            else:
                start, names = self._complete_212(code, cursor_pos)
            return Completion(sorted(set(names)), start, cursor_pos)
        except Exception:  # completion is best-effort: never an error for the user
            log.debug("Scala completion failed", exc_info=True)
            return Completion([], cursor_pos, cursor_pos)
        finally:
            self._lock.release()

    def _complete_213(self, code: str, cursor_pos: int) -> tuple[int, list[str]]:
        result = self._repl.presentationCompile(cursor_pos, code)
        if not result.isRight():
            return cursor_pos, []
        compiled = result.right().get()
        try:
            candidates = compiled.completionCandidates(True, 1)
            found = candidates._2()
            return int(candidates._1()), [str(found.apply(i).name()) for i in range(found.size())]
        finally:
            compiled.cleanup()

    def _complete_212(self, code: str, cursor_pos: int) -> tuple[int, list[str]]:
        jvm = self.spark.get().sparkContext._jvm
        completer = jvm.scala.tools.nsc.interpreter.PresentationCompilerCompleter(self._repl)
        candidates = completer.complete(code, cursor_pos)
        found = candidates.candidates()
        return int(candidates.cursor()), [str(found.apply(i)) for i in range(found.size())]

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> MimeBundle | None:
        """The type of the term under the cursor (``greeting: String``)."""
        name = _word_at(code, cursor_pos)
        if not name or self._repl is None or not self._acquire_for_request():
            return None
        try:
            # The class-based REPL reaches a term through an accessor: "(): String" / "()String" is String.
            type_ = _ACCESSOR.sub("", str(self._repl.typeOfTerm(name).toString()))
        except Exception:
            log.debug("Scala inspect failed", exc_info=True)
            return None
        finally:
            self._lock.release()
        return None if not type_ or type_ == "<notype>" else {"text/plain": f"{name}: {type_}"}

    def _drain(self, sink: OutputSink) -> None:
        assert self._streams is not None
        for name, stream in zip(("stdout", "stderr"), self._streams, strict=True):
            text = str(stream.drain())
            if text:
                sink.stream(name, text)  # type: ignore[arg-type]
        for kind, mime, data, display_id in self._display.drain():
            if kind.startswith("clear"):
                sink.clear_output(wait=kind == "clear-wait")
                continue
            bundle = {mime: data} if mime == "text/plain" else {mime: data, "text/plain": f"<{mime}>"}
            sink.display(bundle, display_id=display_id, update=kind == "update")
        self._drain_comms()

    def _drain_comms(self) -> None:
        """kernel.comm traffic of Scala code: opens, sends, closes, target registrations."""
        for kind, comm_id, target, data in self._jvm_comms.drain():
            try:
                if kind == "target":
                    self.comms.register_target(str(target), self._scala_target)
                elif kind == "open":
                    opened = ToreeComm(
                        target_name=str(target), comm_id=str(comm_id), data=_json(data), manager=self.comms
                    )
                    self._to_scala(opened)
                    continue
                comm = self.comms.comms.get(str(comm_id))
                if comm is None:
                    continue
                if kind == "msg":
                    comm.send(_json(data))
                elif kind == "close":
                    self._jvm_comms.forget(comm_id)
                    comm.close(_json(data))
            except Exception:
                log.warning("Scala comm %s %s failed", kind, comm_id, exc_info=True)

    def _scala_target(self, comm: Any, msg: dict[str, Any]) -> None:
        """A client's comm_open for a target Scala registered: hand the comm and its messages to Scala."""
        self._to_scala(comm)("open", msg)

    def _to_scala(self, comm: Any) -> Any:
        """Route the client's messages on ``comm`` to its Scala side; returns the deliver function."""
        jvm = self._jvm_comms

        def deliver(kind: str, m: dict[str, Any]) -> None:
            jvm.deliver(
                kind, comm.comm_id, comm.target_name, json.dumps(m.get("content", {}).get("data", {}))
            )
            self._drain_comms()  # what the handler sent goes out now, with this message as parent

        comm.on_msg(lambda m: deliver("msg", m))
        comm.on_close(lambda m: deliver("close", m))
        return deliver

    def _drain_until(self, stop: threading.Event, sink: OutputSink) -> None:
        while not stop.wait(DRAIN_SECONDS):
            try:
                self._drain(sink)
            except Exception:  # the JVM went away: the cell itself will report it
                log.debug("draining Scala output failed", exc_info=True)
                return

    def add_jar(self, url: str) -> None:
        """Put a jar on the REPL's compile and run-time classpath (the ``%AddJar`` hook); the session
        manager's ``add_jar`` ships it to the executors. Before the REPL exists, it is remembered."""
        with self._lock:
            if self._repl is None:
                self._pending_jars.append(url)
            else:
                self._add_to_classpath(url)
                self._jars.append(url)

    def _add_to_classpath(self, url: str) -> None:
        jvm = self.spark.get().sparkContext._jvm
        urls = jvm.java.util.ArrayList()
        urls.add(jvm.java.net.URL(url))
        # URL* is a Seq: an immutable List suits both Scala 2.12 and 2.13.
        self._repl.addUrlsToClassPath(jvm.scala.collection.JavaConverters.asScalaBuffer(urls).toList())

    def interrupt(self) -> None:
        """Stop the running cell: cancel its Spark jobs, interrupt the REPL's JVM thread (sleeps, waits)
        and, if it is still busy a second later (``while (true) {}``), stop that thread."""
        cell = self._spark_cell
        if cell is not None:
            cell.interrupt(on_tick=self._repl_thread_stopper(cell))

    def _repl_thread_stopper(self, cell: SparkCell) -> Callable[[], None]:
        """The interrupt's tick: ``Thread.interrupt`` at once, ``Thread.stop`` after ``STOP_AFTER_S``."""
        interrupted_at: float | None = None

        def tick() -> None:
            nonlocal interrupted_at
            thread = self._thread
            if thread is None or not cell.attached:  # the REPL is still being built: nothing runs yet
                return
            if interrupted_at is None:
                interrupted_at = time.monotonic()
                thread.interrupt()
            elif interrupted_at > 0 and time.monotonic() - interrupted_at > STOP_AFTER_S:
                interrupted_at = -1.0  # once
                log.warning("Scala cell ignored the interrupt; stopping its thread")
                thread.stop()  # deprecated, but the only way out of a busy loop on Java 17

        return tick

    def shutdown(self) -> None:
        self._closed = True  # ends the warm-up

    def is_complete(self, code: str) -> IsComplete:
        depth = sum(code.count(o) - code.count(c) for o, c in ("{}", "()", "[]"))
        if depth < 0:
            return IsComplete("invalid")
        if depth > 0 or code.rstrip().endswith(("=", "=>", ".")):
            return IsComplete("incomplete", "  ")
        return IsComplete("complete")


# ``res3: Int = 2`` (Scala 2.12) or ``val res3: Int = 2`` (2.13); the value may span lines.
_RESULT = re.compile(r"^(?:val )?(res\d+): (.+?) = (.*?)(?=^\S|\Z)", re.MULTILINE | re.DOTALL)


# Varied enough to exercise parser, typer, pattern matcher and backend; in its own package.
_WARMUP = """package toree_warmup {{
  case class W{i}(a: Int, s: String) {{
    def f(xs: List[Int]): Int = xs.map(_ + a).filter(_ % 2 == 0).foldLeft({i})(_ + _)
    def g: String = s match {{ case "" => "empty"; case t => t * 2 }}
  }}
}}"""
_DATAFRAME_TYPE = re.compile(r"^(?:org\.apache\.spark\.sql\.)?(?:DataFrame|Dataset\[)")
# One report entry: a line starting in column 0 plus its indented continuation lines.
_ENTRY = re.compile(r"^\S.*(?:\n(?!\S).*)*", re.MULTILINE)
# ``x: Int = 2`` (2.12) or ``val x: Int = 2`` / ``var x: Int = 2`` (2.13).
_NAMED = re.compile(r"^(?:va[lr] )?(\w+): (.+?) = (.*)", re.DOTALL)
# ``defined class Foo`` (2.12) or ``class Foo`` (2.13).
_DEFINED = re.compile(r"^(?:defined )?(class|case class|object|trait|module|type) (\S+)")


def _json(data: Any) -> dict[str, Any]:
    """A Scala comm payload: a JSON object (anything else is wrapped as ``{"value": ...}``)."""
    if data is None:
        return {}
    try:
        value = json.loads(str(data))
    except ValueError:
        return {"value": str(data)}
    return value if isinstance(value, dict) else {"value": value}


def _first_line(report: str) -> str:
    return next((line.strip() for line in report.splitlines() if line.strip() and line.strip() != "^"), "")


def _shipped_scala_version() -> str:
    """The Scala version of the scala-library jar pyspark ships (e.g. 2.12.18 or 2.13.16)."""
    spec = importlib.util.find_spec("pyspark")  # locate without importing: start-up stays fast
    home = os.environ.get("SPARK_HOME") or (spec.submodule_search_locations or [""])[0] if spec else ""
    jars = Path(home) / "jars"
    for jar in jars.glob("scala-library-*.jar"):
        return jar.stem.removeprefix("scala-library-")
    return "2.13"


_ACCESSOR = re.compile(r"^(\(\)\s*:?\s*|=>\s*)")


def _word_at(code: str, pos: int) -> str:
    start = end = max(0, min(pos, len(code)))
    while start > 0 and (code[start - 1].isalnum() or code[start - 1] == "_"):
        start -= 1
    while end < len(code) and (code[end].isalnum() or code[end] == "_"):
        end += 1
    return code[start:end]
