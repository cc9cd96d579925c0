"""What a magic is, what it can reach, and how it reports trouble.

A magic gets a ``MagicContext`` — the interpreters (through the interpreter contract only), the
Spark session manager, the cell's output sink and the kernel-wide output options — plus its parsed
arguments. It returns an ``ExecuteOutcome`` (or None) and raises ``MagicError`` for a user mistake.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Literal

import attrs

from toree_interpreters import ExecuteOutcome, Interpreter, OutputOptions, OutputSink, SparkSessionManager


class MagicError(Exception):
    """A user mistake in a magic call; the message is shown as the cell's error."""


class UsageError(MagicError):
    """Bad arguments; the message carries the magic's usage text."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports errors as UsageError instead of exiting the kernel."""

    def __init__(self, name: str, description: str = "", **kwargs: Any) -> None:
        super().__init__(prog=name, description=description, add_help=False, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n\n{self.format_help().rstrip()}")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        raise UsageError(message or self.format_usage())


Kind = Literal["line", "cell"]
MagicFunction = Callable[["MagicContext", Any, str], "ExecuteOutcome | None"]


@attrs.frozen
class Magic:
    """A named magic. ``parser`` (argparse) turns the argument string into a Namespace; without one the
    function gets the raw string."""

    name: str
    kind: Kind
    summary: str
    function: MagicFunction
    parser: ArgumentParser | None = None
    aliases: tuple[str, ...] = ()
    origin: str = "builtin"  # the distribution that provides it, for conflict messages

    @property
    def spelled(self) -> str:
        return ("%%" if self.kind == "cell" else "%") + self.name

    def usage(self) -> str:
        if self.parser is not None:
            return self.parser.format_help().rstrip()
        return f"{self.spelled}: {self.summary}"

    def parse(self, args: str) -> Any:
        if self.parser is None:
            return args
        try:
            words = shlex.split(args)
        except ValueError as exc:
            raise UsageError(f"{self.spelled}: {exc}\n\n{self.usage()}") from None
        return self.parser.parse_args(words)


def magic(
    name: str,
    kind: Kind,
    summary: str,
    *,
    parser: ArgumentParser | None = None,
    aliases: tuple[str, ...] = (),
) -> Callable[[MagicFunction], Magic]:
    """Decorator: turn ``def f(ctx, args, body)`` into a Magic (what plugins point their entry point at)."""

    def wrap(function: MagicFunction) -> Magic:
        return Magic(name, kind, summary, function, parser, aliases)

    return wrap


@attrs.define
class MagicContext:
    """What a magic may use. One per kernel; ``for_cell`` gives the cell's copy."""

    interpreters: Mapping[str, Interpreter]  # by lower-case name: "pyspark", "scala", "sql"
    spark: SparkSessionManager
    options: OutputOptions
    shared_data: MutableMapping[str, Any]
    work_dir: Path  # per-kernel scratch space: downloaded jars, the Ivy cache
    registry: Any = None  # the MagicRegistry, for %LsMagic and %help
    interpreter: Interpreter | None = None  # the language of the cell
    sink: OutputSink | None = None
    # (thread, interpreter) running code, for every cell running now (kernel subshells run several at once)
    _active: list[tuple[int, Interpreter]] = attrs.field(factory=list)

    def for_cell(self, interpreter: Interpreter, sink: OutputSink) -> MagicContext:
        return attrs.evolve(self, interpreter=interpreter, sink=sink, active=self._active)

    @property
    def language(self) -> Interpreter:
        assert self.interpreter is not None, "MagicContext.for_cell() sets the cell's interpreter"
        return self.interpreter

    @property
    def out(self) -> OutputSink:
        assert self.sink is not None, "MagicContext.for_cell() sets the cell's sink"
        return self.sink

    def print(self, text: str) -> None:
        self.out.stream("stdout", text if text.endswith("\n") else text + "\n")

    def interpreter_named(self, name: str) -> Interpreter:
        found = self.interpreters.get(name.lower())
        if found is None:
            available = ", ".join(i.name for i in self.interpreters.values())
            raise MagicError(f"this kernel has no {name} interpreter (it has: {available})")
        return found

    @contextlib.contextmanager
    def running(self, interpreter: Interpreter) -> Iterator[None]:
        """Mark ``interpreter`` as running this cell's code, so an interrupt reaches it."""
        entry = (threading.get_ident(), interpreter)
        self._active.append(entry)
        try:
            yield
        finally:
            self._active.remove(entry)

    @property
    def active(self) -> Interpreter | None:
        """The interpreter running code for the calling thread's cell (None: none, or a magic's own work)."""
        me = threading.get_ident()
        return next((i for thread, i in reversed(list(self._active)) if thread == me), None)

    @property
    def running_interpreters(self) -> list[Interpreter]:
        """Every interpreter running code now, on any thread, each once."""
        found: list[Interpreter] = []
        for _, interpreter in list(self._active):
            if interpreter not in found:
                found.append(interpreter)
        return found

    def execute(self, interpreter: Interpreter, code: str) -> ExecuteOutcome:
        with self.running(interpreter):
            return interpreter.execute(code, self.out)
