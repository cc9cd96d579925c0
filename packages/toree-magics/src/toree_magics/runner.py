"""Run a cell that may contain magics: code segments go to the cell's interpreter, magic calls to
their magics, in order. The cell stops at the first error; every earlier value stays visible.
Requests about code (completion, is_complete) are routed the same way."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence

from toree_interpreters import Completion, ExecuteOutcome, Interpreter, IsComplete, OutputSink

from .magic import MagicContext, MagicError, UsageError
from .parsing import Code, MagicCall, Segment, parse_cell
from .registry import MagicRegistry

log = logging.getLogger(__name__)

_LANGUAGE_OF = {"pyspark": "python", "python": "python", "scala": "scala", "sql": "sql"}
_MAGIC_PREFIX = re.compile(r"(?:^|\n)[ \t]*(%%?)([\w]*)$")


class CellRunner:
    def __init__(self, registry: MagicRegistry, context: MagicContext) -> None:
        self.registry = registry
        self.context = context
        context.registry = registry

    @property
    def active(self) -> Interpreter | None:
        """The interpreter running code for the calling thread's cell (None: idle, or a magic's own work)."""
        return self.context.active

    @property
    def running(self) -> list[Interpreter]:
        """Every interpreter running code now, for any cell (kernel subshells run cells concurrently)."""
        return self.context.running_interpreters

    def run(self, code: str, interpreter: Interpreter, sink: OutputSink) -> ExecuteOutcome:
        segments = self._segments(code, interpreter)
        if len(segments) == 1 and isinstance(segments[0], Code):  # the common case: no magics at all
            return self.context.for_cell(interpreter, sink).execute(interpreter, code)
        ctx = self.context.for_cell(interpreter, sink)
        outcome = ExecuteOutcome()
        for segment in segments:
            if outcome.result:  # an earlier segment's value: shown, not replaced
                sink.display(outcome.result, outcome.result_metadata)
            if isinstance(segment, Code):
                outcome = ctx.execute(interpreter, segment.text)
            elif segment.cell and len(segments) > 1:  # a %% line after other lines: its body is ambiguous
                message = f"%%{segment.name} must be on the first line of the cell (line {segment.line + 1} here)"
                outcome = ExecuteOutcome.failed("MagicError", message, [f"MagicError: {message}"])
            else:
                outcome = self._call(segment, ctx)
            if outcome.status != "ok":
                break
        return outcome

    def _segments(self, code: str, interpreter: Interpreter) -> list[Segment]:
        """The cell split into Toree's magic calls and code for ``interpreter``; calls of the language's
        own magics (IPython's ``%timeit``, ``%%time``) are code, merged with the code around them."""
        segments = parse_cell(code, _LANGUAGE_OF.get(interpreter.name.lower(), "python"))
        if not any(isinstance(s, MagicCall) for s in segments):
            return segments
        own = interpreter.language_magics()
        if not own:
            return segments
        lines = code.split("\n")
        merged: list[Segment] = []
        for segment in segments:
            if isinstance(segment, MagicCall) and self.registry.get(segment.name) is None:
                spelled = _own_name(own, segment)
                if spelled is not None and segment.cell:
                    return [Code(code.replace(segment.name, spelled, 1))]
                if spelled is not None:
                    lines[segment.line] = lines[segment.line].replace(segment.name, spelled, 1)
                    segment = Code("\n" * segment.line + lines[segment.line], segment.line)
            previous = merged[-1] if merged else None
            if isinstance(segment, Code) and isinstance(previous, Code):
                end = segment.text.count("\n")
                segment = Code("\n" * previous.line + "\n".join(lines[previous.line : end + 1]), previous.line)
                merged.pop()
            merged.append(segment)
        return merged

    def _call(self, call: MagicCall, ctx: MagicContext) -> ExecuteOutcome:
        try:
            others = _spelled_own_magics(ctx.language)  # read only when the name is not Toree's
            found = self.registry.find(call.name, cell=None if call.help else call.cell, others=others)
            if call.help:
                return ExecuteOutcome(result={"text/plain": found.usage()})
            try:
                return found.function(ctx, found.parse(call.args), call.body) or ExecuteOutcome()
            except MagicError:
                if (call.body if found.kind == "cell" else call.args).strip():
                    raise
                ctx.print(found.usage())  # called without what it works on: its usage, as Toree prints it
                return ExecuteOutcome()
        except UsageError as exc:
            return ExecuteOutcome.failed("UsageError", str(exc).splitlines()[0], str(exc).splitlines())
        except MagicError as exc:
            return ExecuteOutcome.failed("MagicError", str(exc), [f"MagicError: {exc}"])
        except KeyboardInterrupt:
            return ExecuteOutcome.failed("KeyboardInterrupt", f"%{call.name} was interrupted")
        except Exception as exc:  # a broken magic (ours or a plugin's) must not take the kernel down
            log.exception("magic %s failed", call.name)
            return ExecuteOutcome.failed(type(exc).__name__, f"%{call.name} failed: {exc}")

    # Requests about code ------------------------------------------------------------------------
    def _language_cell(self, code: str) -> tuple[Interpreter, str, int] | None:
        """For ``%%Scala``-style cells: the interpreter, its body and the body's offset in the cell."""
        segments = parse_cell(code)
        if len(segments) == 1 and isinstance(segments[0], MagicCall) and segments[0].cell:
            interpreter = self.context.interpreters.get(segments[0].name.lower())
            if interpreter is None and segments[0].name.lower() == "python":
                interpreter = self.context.interpreters.get("pyspark")
            if interpreter is not None:
                body = segments[0].body
                return interpreter, body, len(code) - len(body)
        return None

    def complete(self, code: str, cursor_pos: int, interpreter: Interpreter) -> Completion:
        typed = _MAGIC_PREFIX.search(code[:cursor_pos])
        if typed is not None:
            percent, prefix = typed.groups()
            matches = [
                m.spelled for m in self.registry.magics()
                if m.name.lower().startswith(prefix.lower()) and (m.kind == "cell") == (percent == "%%")
            ]
            own = interpreter.language_magics().get("cell" if percent == "%%" else "line", [])
            taken = {m.lower() for m in matches}
            matches += [
                percent + name for name in own
                if name.lower().startswith(prefix.lower()) and (percent + name).lower() not in taken
            ]
            return Completion(matches, cursor_pos - len(percent) - len(prefix), cursor_pos)
        inner = self._language_cell(code)
        if inner is not None and cursor_pos >= inner[2]:
            other, body, offset = inner
            found = other.complete(body, cursor_pos - offset)
            return Completion(found.matches, found.cursor_start + offset, found.cursor_end + offset, found.metadata)
        return interpreter.complete(code, cursor_pos)

    def inspect(self, code: str, cursor_pos: int, detail: int, interpreter: Interpreter) -> dict | None:
        inner = self._language_cell(code)
        if inner is not None and cursor_pos >= inner[2]:
            return inner[0].inspect(inner[1], cursor_pos - inner[2], detail)
        return interpreter.inspect(code, cursor_pos, detail)

    def is_complete(self, code: str, interpreter: Interpreter) -> IsComplete:
        segments = self._segments(code, interpreter)
        if len(segments) == 1 and isinstance(segments[0], Code):
            return interpreter.is_complete(code)
        inner = self._language_cell(code)
        if inner is not None:
            return inner[0].is_complete(inner[1]) if inner[1].strip() else IsComplete("incomplete", "")
        codes = [s.text for s in segments if isinstance(s, Code)]
        return interpreter.is_complete(codes[-1]) if codes else IsComplete("complete")



def _own_name(own: Mapping[str, Sequence[str]], call: MagicCall) -> str | None:
    """How the language spells the magic ``call`` names (any case), if it has one of that kind."""
    wanted = call.name.lower()
    return next((name for name in own.get("cell" if call.cell else "line", []) if name.lower() == wanted), None)


def _spelled_own_magics(interpreter: Interpreter) -> Iterator[str]:
    """The language's own magics as typed (``%timeit``, ``%%time``), listed when first iterated."""
    for kind, names in interpreter.language_magics().items():
        yield from (("%%" if kind == "cell" else "%") + name for name in names)
