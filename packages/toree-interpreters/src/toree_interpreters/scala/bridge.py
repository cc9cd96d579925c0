"""The Scala REPL in the Spark driver JVM, over py4j: one ``ReplBridge`` per REPL.

It builds the REPL compiler (``IMain``, with Scala 2.12's or 2.13's reporter), interprets the Scala
side of the bridge (the ``.scala`` resources next to this module: output buffers, the cell runner,
``kernel``, ``spark``/``sc``) and hands Python the JVM objects it needs. Nothing here knows cells,
sinks or Toree's output options: that is the interpreter's job.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import os
import string
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

RESOURCES = (
    "cells.scala",
    "kernel.scala",
    "statements.scala",
)  # the bridge, interpreted in this order as one line
WARMUP = "warmup.scala"
CLASSIC = "classic_session.scala"  # spark, sc ... on the driver JVM's session (see connect_repl for Connect)
Verdict = Literal["complete", "incomplete", "invalid"]  # what the REPL's parser makes of a cell


class BridgeError(Exception):
    """The Scala side of the bridge did not compile (the message holds the compiler's report)."""


@cache
def scala_source(name: str) -> str:
    """One of the packaged Scala programs."""
    return importlib.resources.files(__package__).joinpath("resources", name).read_text("utf-8")


def warmup_source(i: int) -> str:
    """The ``i``-th warm-up compile: a class of its own."""
    return string.Template(scala_source(WARMUP)).substitute(i=i)


def shipped_scala_version() -> str:
    """The Scala version of the scala-library jar pyspark ships (e.g. 2.12.18 or 2.13.16)."""
    spec = importlib.util.find_spec("pyspark")  # locate without importing: start-up stays fast
    home = os.environ.get("SPARK_HOME") or (spec.submodule_search_locations or [""])[0] if spec else ""
    jars = Path(home) / "jars"
    for jar in jars.glob("scala-library-*.jar"):
        return jar.stem.removeprefix("scala-library-")
    return "2.13"


class ReplBridge:
    """A live REPL in ``session``'s JVM and the JVM objects of its bridge. Not thread-safe: the
    interpreter serialises calls (one cell, compile or completion at a time)."""

    def __init__(
        self,
        session: Any,
        class_dir: str,
        options: str = "",
        predef: str = "",
        *,
        jvm: Any = None,
        spark_lines: tuple[str, ...] = (),
        units: tuple[str, ...] = (),
    ) -> None:
        """``options``: more compiler options (the interrupt-check plugin); ``predef``: Scala definitions
        compiled with the bridge (no extra compile). On Spark Connect, ``jvm`` is the client's JVM (not
        ``session``'s driver), ``spark_lines`` (REPL lines of their own, so a closure that uses ``spark``
        does not capture the bridge) define ``spark``/``sc`` there, and ``units`` are Scala files compiled
        first."""
        self.session = session
        self.jvm = jvm = jvm if jvm is not None else session.sparkContext._jvm
        settings = jvm.scala.tools.nsc.Settings()
        # -Yrangepos: where each statement of a cell ends (ToreeStatements); Scala 2.13 has it by default.
        args = f"-Yrepl-class-based -Yrepl-outdir {class_dir} -usejavacp -Yrangepos {options}"
        settings.processArgumentString(args)
        self._report = jvm.java.io.StringWriter()  # what the REPL's reporter writes
        writer = jvm.java.io.PrintWriter(self._report, True)
        interpreter_pkg = jvm.scala.tools.nsc.interpreter
        try:  # Scala 2.13 (Spark 4.x): the reporter is a separate object
            reporter = interpreter_pkg.shell.ReplReporterImpl(settings, writer)
            self.repl = interpreter_pkg.IMain(settings, reporter)
        except Exception:  # Scala 2.12 (Spark 3.5)
            self.repl = interpreter_pkg.IMain(settings, writer)
        for unit in units:
            if not self.repl.compileString(unit):
                raise BridgeError(self.take_report())
        source = "\n".join(
            [*(scala_source(name) for name in RESOURCES), "" if spark_lines else scala_source(CLASSIC), predef]
        )
        for line in (source, *spark_lines):
            if str(self.repl.interpret(line)) != "Success":
                raise BridgeError(self.take_report())
            self.take_report()
        self.streams: tuple[Any, Any] = (self.term("toreeOut"), self.term("toreeErr"))  # ToreeStream
        self.runner = self.term("toreeRunner")
        kernel = self.term("kernel")
        self.display = kernel.display()  # the ToreeDisplay queue
        self.comms = kernel.comm()  # the ToreeComms queue (kernel.comm)
        self.kernel_data = kernel.data()  # the map behind kernel.data in both languages
        self._statements = self.term("toreeStatements")

    def term(self, name: str) -> Any:
        """A REPL term's value (KeyError when there is no such term)."""
        found = self.repl.valueOfTerm(name)
        if not found.isDefined():
            raise KeyError(name)
        return found.get()

    def interpret(self, code: str) -> tuple[str, str]:
        """Run ``code`` as one REPL line on a cell thread of its own: ``(status, report)``."""
        status, reports = self.interpret_lines([code])
        return status, "".join(reports)

    def interpret_lines(self, lines: list[str]) -> tuple[str, list[str]]:
        """Run REPL lines in order on one cell thread until one fails or the cell is interrupted:
        the status of the last line run (the REPL's Success, Error, Incomplete, or Abandoned when
        ``stop`` gave up on the thread) and each run line's report."""
        java_lines = self.jvm.java.util.ArrayList()
        for line in lines:
            java_lines.add(line)
        status, *reports = (str(item) for item in self.runner.run(self.repl, java_lines, self._report))
        leftover = self.take_report()
        if leftover and reports:
            reports[-1] += leftover
        return status, reports or [leftover]

    def split(self, code: str) -> tuple[Verdict, list[int]]:
        """The REPL parser's verdict on ``code`` (``complete``, ``incomplete`` or ``invalid``) and, when
        complete, where each REPL line of it starts after the first (UTF-16 offsets, as Java counts)."""
        verdict = str(self._statements.split(self.repl, code)).split()
        self.take_report()  # the parser's complaints: the REPL reports them again when the code runs
        return cast(Verdict, verdict[0]), [int(start) for start in verdict[1:]]

    def take_report(self) -> str:
        text = str(self._report.toString())
        self._report.getBuffer().setLength(0)
        return text

    def compile_only(self, source: str) -> None:
        """Compile ``source`` without running anything (the warm-up)."""
        self.repl.compileString(source)

    def type_of(self, name: str) -> str:
        return str(self.repl.typeOfTerm(name).toString())

    def add_to_classpath(self, url: str) -> None:
        jvm = self.jvm
        urls = jvm.java.util.ArrayList()
        urls.add(jvm.java.net.URL(url))
        # URL* is a Seq: an immutable List suits both Scala 2.12 and 2.13.
        self.repl.addUrlsToClassPath(jvm.scala.collection.JavaConverters.asScalaBuffer(urls).toList())

    # The running cell's thread -------------------------------------------------------------------
    def interrupt_cell(self) -> bool:
        """``Thread.interrupt`` on the running cell's thread (wakes sleeps and waits, ends loops); False
        when it was not delivered (the thread has not started, or it compiles): try again."""
        return bool(self.runner.interrupt())

    def stop_cell(self) -> str:
        """Stop a cell that ignored the interrupt: ``stopped`` (Thread.stop, Java ≤ 19), ``abandoned``
        (left running: the cell returns), ``compiling`` (try again later) or ``idle``."""
        return str(self.runner.stop())

    def java_version(self) -> str:
        return str(self.jvm.java.lang.System.getProperty("java.version"))
