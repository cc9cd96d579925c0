"""Completion and inspection of Scala code from the REPL's presentation compiler.

Scala 2.13 asks ``IMain.presentationCompile`` for candidates; 2.12 has a ready completer class. Both
answer ``(cursor_start, names)``; the interpreter decides when the REPL may be asked.
"""

from __future__ import annotations

from ..contract import Completion
from .bridge import ReplBridge
from .repl_output import term_type, word_at


def candidates(
    bridge: ReplBridge, code: str, cursor_pos: int, scala_version: tuple[int, int]
) -> tuple[int, list[str]]:
    """Where the completed word starts and the names that may replace it."""
    if scala_version >= (2, 13):
        return _complete_213(bridge, code, cursor_pos)
    return _complete_212(bridge, code, cursor_pos)


def _complete_213(bridge: ReplBridge, code: str, cursor_pos: int) -> tuple[int, list[str]]:
    result = bridge.repl.presentationCompile(cursor_pos, code)
    if not result.isRight():
        return cursor_pos, []
    compiled = result.right().get()
    try:
        found_pair = compiled.completionCandidates(True, 1)
        found = found_pair._2()
        return int(found_pair._1()), [str(found.apply(i).name()) for i in range(found.size())]
    finally:
        compiled.cleanup()


def _complete_212(bridge: ReplBridge, code: str, cursor_pos: int) -> tuple[int, list[str]]:
    completer = bridge.jvm.scala.tools.nsc.interpreter.PresentationCompilerCompleter(bridge.repl)
    found_pair = completer.complete(code, cursor_pos)
    found = found_pair.candidates()
    return int(found_pair.cursor()), [str(found.apply(i)) for i in range(found.size())]


def inspection(bridge: ReplBridge, code: str, cursor_pos: int) -> str | None:
    """``greeting: String`` for the term under the cursor; None when there is none or it has no type."""
    name = word_at(code, cursor_pos)
    if not name:
        return None
    type_ = term_type(bridge.type_of(name))
    return None if type_ is None else f"{name}: {type_}"


def as_completion(found: tuple[int, list[str]] | None, cursor_pos: int) -> Completion:
    """The REPL's candidates (``candidates``' answer, None when it had none) as a completion reply."""
    if found is None or not found[1]:
        return Completion([], cursor_pos, cursor_pos)
    return Completion(sorted(set(found[1])), found[0], cursor_pos)
