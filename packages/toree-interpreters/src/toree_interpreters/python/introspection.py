"""What an editor asks of Python code while it is being typed: completions, help, whether it is complete.

jedi sees the interpreter's live namespace, so ``spark.ran<TAB>`` completes from the real session.
"""

from __future__ import annotations

import codeop
import logging
from typing import Any

from ..contract import Completion, IsComplete, MimeBundle

log = logging.getLogger(__name__)


def complete(namespace: dict[str, Any], code: str, cursor_pos: int) -> Completion:
    """jedi's completions at ``cursor_pos``, seeing the live objects of ``namespace``."""
    import jedi

    line, column = _line_column(code, cursor_pos)
    try:
        completions = jedi.Interpreter(code, [namespace]).complete(line, column)
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


def dotted_name_at(code: str, cursor_pos: int) -> str:
    """The dotted name that ends at the cursor (``spark.ran`` in ``x = spark.ran|``), or ""."""
    start = cursor_pos
    while start > 0 and (code[start - 1].isidentifier() or code[start - 1].isdigit() or code[start - 1] == "."):
        start -= 1
    return code[start:cursor_pos].lstrip(".0123456789")


def inspect(namespace: dict[str, Any], code: str, cursor_pos: int) -> MimeBundle | None:
    """Signature, type and docstring of the name at ``cursor_pos``, as text."""
    import jedi

    line, column = _line_column(code, cursor_pos)
    script = jedi.Interpreter(code, [namespace])
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


def is_complete(code: str) -> IsComplete:
    """Whether ``code`` runs as it is, needs more lines (and the indent of the next), or cannot run."""
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


def _line_column(code: str, cursor_pos: int) -> tuple[int, int]:
    """jedi's position of ``cursor_pos``: 1-based line, 0-based column."""
    before = code[:cursor_pos]
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1)
