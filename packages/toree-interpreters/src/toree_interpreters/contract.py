"""The contract every language interpreter implements, and the sink it writes output to.

Nothing here knows about Jupyter's wire protocol: a kernel adapts an ``OutputSink`` to IOPub
messages, a Spark application can pass a sink that prints or collects. One sink is created per
cell, so output always belongs to the cell that produced it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

MimeBundle = dict[str, Any]
StreamName = Literal["stdout", "stderr"]


class StdinNotAllowed(RuntimeError):
    """Raised by ``OutputSink.input`` when the client did not allow stdin for this cell."""


@runtime_checkable
class OutputSink(Protocol):
    """Where a running cell sends its output. Implementations must be thread-safe.

    A sink may also have ``waits_when_busy`` (absent: True): False asks a room that runs one cell at a
    time (Scala: one compiler) to fail the cell at once with ``InterpreterBusy`` rather than queue it while
    another cell holds the room. A kernel sets it for its subshells' cells, which must answer promptly.
    """

    def stream(self, name: StreamName, text: str) -> None:
        """Append text to stdout or stderr (callers batch; sinks may batch further)."""

    def display(
        self,
        data: MimeBundle,
        metadata: dict[str, Any] | None = None,
        *,
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        """Show a MIME bundle; with ``update=True`` replace the output published under ``display_id``."""

    def clear_output(self, wait: bool = False) -> None:
        """Clear the cell's output (``wait``: when the next output arrives)."""

    def input(self, prompt: str, password: bool = False) -> str:
        """Ask the user for a line of text; raises StdinNotAllowed when the client can't answer."""


class DiscardSink:
    """An ``OutputSink`` that shows nothing (warm-up cells; no one to ask for input)."""

    waits_when_busy = True

    def stream(self, name: StreamName, text: str) -> None:
        pass

    def display(
        self,
        data: MimeBundle,
        metadata: dict[str, Any] | None = None,
        *,
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        pass

    def clear_output(self, wait: bool = False) -> None:
        pass

    def input(self, prompt: str, password: bool = False) -> str:
        raise StdinNotAllowed("nobody is there to answer")


def waits_when_busy(sink: OutputSink) -> bool:
    """Whether a cell with this sink queues for a busy one-cell-at-a-time room (see ``OutputSink``)."""
    return bool(getattr(sink, "waits_when_busy", True))


BUSY = "InterpreterBusy"  # the ename of a cell refused by a busy room (``waits_when_busy`` False)


@attrs.frozen
class ErrorInfo:
    ename: str
    evalue: str
    traceback: list[str] = attrs.field(factory=list)


@attrs.frozen
class ExecuteOutcome:
    """What a cell ended with. ``result`` is the value of the last expression, if any and shown."""

    status: Literal["ok", "error"] = "ok"
    result: MimeBundle | None = None
    result_metadata: dict[str, Any] = attrs.field(factory=dict)
    error: ErrorInfo | None = None
    # execute_reply payloads, e.g. ``{"source": "page", "data": {...}, "start": 0}`` (help for ``obj?``)
    payload: list[dict[str, Any]] = attrs.field(factory=list)

    @classmethod
    def failed(cls, ename: str, evalue: str, traceback: list[str] | None = None) -> ExecuteOutcome:
        return cls(status="error", error=ErrorInfo(ename, evalue, traceback or [f"{ename}: {evalue}"]))


@attrs.frozen
class Completion:
    matches: list[str]
    cursor_start: int
    cursor_end: int
    metadata: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class IsComplete:
    status: Literal["complete", "incomplete", "invalid", "unknown"]
    indent: str = ""


@attrs.define
class OutputOptions:
    """Toree's kernel-wide output switches (``%ShowTypes``, ``%Truncation``, ``%ShowOutput``, ``%Progress``).

    One instance is shared by a kernel's interpreters, so a magic in any language changes them all.
    """

    show_types: bool = False  # Scala: ``Int = 2`` instead of ``2``, ``x: Int = 2`` for definitions
    truncation: bool = True  # Scala: the REPL's shortened rendering; off = the value's full toString
    show_output: bool = True  # Scala: echo definitions (``x = 2``, ``defined class Foo``) and warnings
    progress: bool = True  # ``%Progress``: live Spark job progress while a cell runs (all languages)
    max_rows: int = 20  # rows of a DataFrame a cell's value shows (only those are fetched)


@attrs.frozen
class LanguageInfo:
    """``language_info`` of ``kernel_info_reply``."""

    name: str
    version: str
    mimetype: str
    file_extension: str
    pygments_lexer: str | None = None
    codemirror_mode: str | dict[str, Any] | None = None
    nbconvert_exporter: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in attrs.asdict(self).items() if v is not None}


class Interpreter(ABC):
    """One language. ``execute`` runs on the kernel's main thread; ``interrupt`` comes from another."""

    name: str  # e.g. "PySpark", "Scala", "SQL" (Toree's interpreter names)
    language_info: LanguageInfo

    def start(self) -> None:  # noqa: B027 - optional hook
        """Prepare (cheap); heavy work like starting Spark belongs to the session manager."""

    def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Do now what the first cell would otherwise wait for (a kernel from a warm pool does it before
        a notebook adopts it, on a thread of its own; cells may start meanwhile). Nothing it does may
        show in a notebook: no output, no names defined. Raises SparkUnavailable when Spark cannot start."""

    @abstractmethod
    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        """Run a cell. Must not raise for user errors: those become ``ExecuteOutcome.failed``."""

    def begin_cell(  # noqa: B027
        self, execution_count: int, *, store_history: bool = True, silent: bool = False
    ) -> None:
        """The kernel's number for the cell about to run (called before each cell, in every language).
        Interpreters that keep a history of their own (IPython's ``In``/``Out``/``_N``) follow it;
        a ``silent`` cell (a widget's, a variable inspector's) leaves no trace in it."""

    def language_magics(self) -> dict[str, list[str]]:
        """Magics the language itself understands (IPython's ``%timeit`` ...), by kind; a magics
        runner hands calls of these names to ``execute`` as code. Keys ``"line"``, ``"cell"``; none by default."""
        return {}

    def evaluate(self, expression: str) -> MimeBundle:
        """Value of one expression as a MIME bundle (``user_expressions``); raises on error."""
        raise NotImplementedError(f"{self.name} cannot evaluate user expressions")

    def value(self, expression: str) -> Any:
        """The object an expression evaluates to, for magics (``%%DataFrame``, ``${name}`` in SQL).
        JVM values come back as py4j objects. Raises KeyError for an unknown name, ValueError when
        the expression does not evaluate."""
        raise NotImplementedError(f"{self.name} cannot hand values to magics")

    def add_jar(self, url: str) -> None:  # noqa: B027 - optional hook
        """Make a jar's classes usable in this language (``%AddJar``, ``%AddDeps``). The session
        manager has already put it on the driver and executors; JVM languages add it to their compiler."""

    def complete(self, code: str, cursor_pos: int) -> Completion:
        return Completion([], cursor_pos, cursor_pos)

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> MimeBundle | None:
        return None

    def is_complete(self, code: str) -> IsComplete:
        return IsComplete("unknown")

    def interrupt(self) -> None:  # noqa: B027 - optional hook
        """Stop the running cell (cancel its Spark jobs); harmless when idle. Called off the main thread
        or from a signal handler, so it must not block."""

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release resources, promptly (a kernel gives each room ~0.4 s while it shuts down): stop child
        processes the room started (an R process, say) rather than wait for them. The session manager
        stops Spark; a kernel kills whatever child process is still running after this."""
