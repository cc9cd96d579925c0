"""What a Spark cell's failures read like: short, and saying what happens next.

Spark errors carry whole JVM stack traces, py4j wraps them in its own first line; a user needs the
first lines. Pure functions: every language's interpreter and the cell lifecycle use them.
"""

from __future__ import annotations

from ..contract import ExecuteOutcome
from .session import SparkUnavailable

MAX_EVALUE_LINES = 12


def shorten(text: str, max_lines: int = MAX_EVALUE_LINES) -> str:
    """At most ``max_lines`` lines of ``text`` (stripped), saying how many more there were."""
    lines = text.strip().splitlines()
    if len(lines) <= max_lines:
        return text.strip()
    return "\n".join([*lines[:max_lines], f"... ({len(lines) - max_lines} more lines)"])


def jvm_message(text: str) -> str:
    """A JVM exception's message without py4j's wrapper line and without the JVM stack trace."""
    text = text.strip()
    if text.startswith("An error occurred while calling"):  # py4j's wrapper: the JVM's message follows
        text = text.partition("\n")[2].removeprefix(": ")
    lines = []
    for line in text.splitlines():
        if line.startswith("\tat ") or line.strip() == "JVM stacktrace:":
            break
        lines.append(line)
    return shorten("\n".join(lines))


def driver_out_of_memory(exc: BaseException) -> str | None:
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


def lost(error: SparkUnavailable) -> ExecuteOutcome:
    """The outcome of a cell whose Spark JVM died (or that could not have a session)."""
    return ExecuteOutcome.failed(type(error).__name__, str(error), [f"{type(error).__name__}: {error}"])


def cancelled(why: str = "the cell's Spark jobs were cancelled") -> ExecuteOutcome:
    """The outcome of an interrupted cell: KeyboardInterrupt, as Python users know it."""
    return ExecuteOutcome.failed("KeyboardInterrupt", why, [f"KeyboardInterrupt: {why}"])
