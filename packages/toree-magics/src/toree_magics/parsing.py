"""Split a cell into code and magic calls. Pure functions; no interpreter needed.

A line magic is a line that starts a top-level statement with ``%name`` (``%name?`` asks for help);
a cell magic is ``%%name`` on the first line, the rest of the cell being its body. A light scanner
tracks brackets, strings and comments per language so that ``%`` inside an expression that spans
lines, or a line beginning with ``%`` inside a multi-line string, stays code.
"""

from __future__ import annotations

import re

import attrs

_MAGIC_LINE = re.compile(r"^[ \t]*(%%?)([A-Za-z_][\w.-]*)(\?)?(?:[ \t]+(.*))?[ \t]*$")


@attrs.frozen
class MagicCall:
    name: str
    args: str
    cell: bool  # %%name: ``body`` is the rest of the cell
    body: str = ""
    help: bool = False  # %name?
    line: int = 0  # 0-based line of the call in the cell


@attrs.frozen
class Code:
    """Code for the cell's interpreter; padded with blank lines so its line numbers match the cell's."""

    text: str
    line: int = 0


Segment = MagicCall | Code

# Per language: line comment, block comment (open, close), quote tokens (longest first), line continuation.
_LANGUAGES: dict[str, tuple[str | None, tuple[str, str] | None, tuple[str, ...], bool]] = {
    "python": ("#", None, ('"""', "'''", '"', "'"), True),
    "scala": ("//", ("/*", "*/"), ('"""', '"'), False),
    "sql": ("--", ("/*", "*/"), ('"', "'", "`"), False),
}


def parse_cell(code: str, language: str = "python") -> list[Segment]:
    """The cell as code and magic segments in order; a cell without magics is one Code segment."""
    lines = code.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and (call := _match(lines[first], first)) is not None and call.cell:
        return [attrs.evolve(call, body="\n".join(lines[first + 1 :]))]

    segments: list[Segment] = []
    chunk: list[str] = []
    chunk_start = 0
    for number, line, at_statement_start in _scan(lines, language):
        call = _match(line, number) if at_statement_start else None
        if call is None:
            if not chunk:
                chunk_start = number
            chunk.append(line)
            continue
        _flush(segments, chunk, chunk_start)
        chunk = []
        segments.append(call)
    _flush(segments, chunk, chunk_start)
    if any(isinstance(segment, MagicCall) for segment in segments):
        # Comments around magics are the user's notes, not code to run (`// setup` above `%AddJar ...`).
        comment = _LANGUAGES.get(language, _LANGUAGES["python"])[0]
        segments = [s for s in segments if not (isinstance(s, Code) and _only_comments(s.text, comment))]
    return segments or [Code(code)]


def _only_comments(text: str, line_comment: str | None) -> bool:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return line_comment is not None and all(line.startswith(line_comment) for line in lines)


def is_magic_line(line: str) -> bool:
    return _MAGIC_LINE.match(line) is not None


def _match(line: str, number: int) -> MagicCall | None:
    found = _MAGIC_LINE.match(line)
    if found is None:
        return None
    percent, name, question, args = found.groups()
    return MagicCall(name, (args or "").strip(), cell=percent == "%%", help=bool(question), line=number)


def _flush(segments: list[Segment], chunk: list[str], start: int) -> None:
    if any(line.strip() for line in chunk):
        segments.append(Code("\n" * start + "\n".join(chunk), start))


def _scan(lines: list[str], language: str):
    """Yield (line number, line, whether the line starts at top level: no open bracket/string/comment)."""
    line_comment, block, quotes, continuation = _LANGUAGES.get(language, _LANGUAGES["python"])
    depth = 0
    open_quote: str | None = None  # a multi-line string still open
    in_block = False
    continued = False
    for number, line in enumerate(lines):
        yield number, line, depth == 0 and open_quote is None and not in_block and not continued
        if is_magic_line(line) and depth == 0 and open_quote is None and not in_block and not continued:
            continue
        continued = False
        i = 0
        while i < len(line):
            if in_block:
                assert block is not None
                end = line.find(block[1], i)
                if end < 0:
                    break
                in_block, i = False, end + len(block[1])
                continue
            if open_quote is not None:
                if line[i] == "\\" and open_quote != "`":
                    i += 2
                    continue
                if line.startswith(open_quote, i):
                    i += len(open_quote)
                    open_quote = None
                else:
                    i += 1
                continue
            if line_comment and line.startswith(line_comment, i):
                break
            if block and line.startswith(block[0], i):
                in_block, i = True, i + len(block[0])
                continue
            quote = next((q for q in quotes if line.startswith(q, i)), None)
            if quote is not None:
                open_quote, i = quote, i + len(quote)
                continue
            char = line[i]
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth = max(0, depth - 1)
            i += 1
        if open_quote is not None and len(open_quote) == 1 and open_quote != "`":
            open_quote = None  # a one-line string cannot span lines: the code is wrong, not ours to judge
        if continuation and line.endswith("\\") and open_quote is None:
            continued = True
