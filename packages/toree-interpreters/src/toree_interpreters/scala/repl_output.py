"""What the Scala REPL's reporter writes, read the way Toree shows it. Pure: no JVM, no Spark.

After a cell the reporter's text holds one entry per definition or value (``val res3: Int = 2``,
``x: Int = 2``, ``defined class Foo``, ``def f(x: Int): Int``), the compiler's warnings and errors, or
a runtime exception's stack trace. Scala 2.12 and 2.13 word these slightly differently; both are read.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Literal

import attrs

# ``res3: Int = 2`` (Scala 2.12) or ``val res3: Int = 2`` (2.13); the value may span lines.
_RESULT = re.compile(r"^(?:val )?(res\d+): (.+?) = (.*?)(?=^\S|\Z)", re.MULTILINE | re.DOTALL)
_DATAFRAME_TYPE = re.compile(r"^(?:org\.apache\.spark\.sql\.(?:connect\.)?)?(?:DataFrame|Dataset\[)")  # connect.: Spark 4 Connect client
# One report entry: a line starting in column 0 plus its indented continuation lines.
_ENTRY = re.compile(r"^\S.*(?:\n(?!\S).*)*", re.MULTILINE)
# ``x: Int = 2`` (2.12) or ``val x: Int = 2`` / ``var x: Int = 2`` (2.13).
_NAMED = re.compile(r"^(?:va[lr] )?(\w+): (.+?) = (.*)", re.DOTALL)
# ``defined class Foo`` (2.12) or ``class Foo`` (2.13).
_DEFINED = re.compile(r"^(?:defined )?(class|case class|object|trait|module|type alias|type) (\S+)")
# The class-based REPL reaches a term through an accessor: "(): String" / "()String" / "=> String".
_ACCESSOR = re.compile(r"^(\(\)\s*:?\s*|=>\s*)")

# The last token is an operator (Scala's operator characters), not part of a name or a comment's end.
_TRAILING_OPERATOR = re.compile(r"(?<![\w/])[!#%&*+\-/:<=>?@\\^|~]+$")
FullValue = Callable[[str], str]  # a term's whole toString (when truncation is off)


@attrs.frozen
class Result:
    """A cell's value: the REPL's ``resN`` name, its type and its (possibly shortened) text."""

    name: str
    type: str
    value: str

    @property
    def is_dataframe(self) -> bool:
        return bool(_DATAFRAME_TYPE.match(self.type))

    def text(self, *, show_types: bool, value: str | None = None) -> str:
        """``Int = 2`` with types shown, ``2`` without; ``value`` replaces the REPL's shortened text."""
        shown = self.value if value is None else value
        return f"{self.type} = {shown}\n" if show_types else shown  # Toree ends the typed form with a newline


@attrs.frozen
class Failure:
    """A cell that did not succeed, as an error outcome's parts."""

    ename: str
    evalue: str
    traceback: list[str]


def result(report: str) -> Result | None:
    """The cell's value (its last expression's ``resN``), or None when the cell has none."""
    matches = list(_RESULT.finditer(report))
    if not matches:
        return None
    match = matches[-1]
    return Result(match.group(1), match.group(2), match.group(3).rstrip("\n"))


def echo(report: str, *, show_types: bool, full_value: FullValue | None = None) -> str:
    """What Toree echoes for a cell besides its value: ``x = 2`` per definition (``x: Int = 2``
    with types shown), ``defined class Foo``, signatures of defs, and the compiler's warnings.
    ``full_value`` (truncation off) gives a definition's whole value instead of the REPL's shortening."""
    lines = []
    for entry in _ENTRY.findall(report):
        entry = entry.rstrip("\n")
        if _RESULT.match(entry) or entry.startswith("import "):
            continue
        if named := _NAMED.match(entry):
            name, type_, value = named.groups()
            if full_value is not None:
                value = full_value(name)
            lines.append(f"{name}: {type_} = {value}" if show_types else f"{name} = {value}")
        elif defined := _DEFINED.match(entry):
            lines.append(f"defined {defined.group(1).replace('module', 'object')} {defined.group(2)}")
        else:
            lines.append(entry)
    return "\n".join(lines)


_UNSUPPORTED = re.compile(r"(?:[\w.$]+\.)?SparkConnectUnsupported: (.*)")


def failure(status: str, report: str) -> Failure:
    """The error of a cell the REPL answered ``Incomplete`` or ``Error`` (compile or runtime)."""
    if status == "Incomplete":
        return Failure("Incomplete", "the cell is incomplete (an open brace or expression?)", [])
    ename = "CompileError" if "error:" in report else "ScalaException"
    message = first_line(report).removeprefix("error: ") or "the Scala REPL failed without saying why"
    unsupported = _UNSUPPORTED.match(message)
    if unsupported:  # sc on Spark Connect (connect_session.scala): the same error as Python's
        return Failure("SparkConnectUnsupported", unsupported[1], report.rstrip("\n").splitlines())
    return Failure(ename, message, report.rstrip("\n").splitlines())


def first_line(report: str) -> str:
    """The report's first meaningful line (not blank, not the compiler's ``^`` marker)."""
    return next((line.strip() for line in report.splitlines() if line.strip() and line.strip() != "^"), "")


def term_type(raw: str) -> str | None:
    """A term's type from ``typeOfTerm`` without the REPL's accessor; None when it has none."""
    type_ = _ACCESSOR.sub("", raw)
    return None if not type_ or type_ == "<notype>" else type_


def word_at(code: str, pos: int) -> str:
    """The identifier around ``pos`` (for inspection)."""
    start = end = max(0, min(pos, len(code)))
    while start > 0 and (code[start - 1].isalnum() or code[start - 1] == "_"):
        start -= 1
    while end < len(code) and (code[end].isalnum() or code[end] == "_"):
        end += 1
    return code[start:end]


def is_complete(code: str) -> Literal["complete", "incomplete", "invalid"]:
    """Without the REPL's parser (Spark still starting): ``incomplete`` for an open bracket or a line
    ending in an operator (``=``, ``=>``, ``.``, ``*``, ...), ``invalid`` for a stray closing bracket."""
    depth = sum(code.count(o) - code.count(c) for o, c in ("{}", "()", "[]"))
    if depth < 0:
        return "invalid"
    if depth > 0 or ends_in_operator(code):
        return "incomplete"
    return "complete"


def ends_in_operator(code: str) -> bool:
    """``6 *``: the REPL's parser takes a trailing operator for a postfix one, a person means more to come."""
    head, _, last = code.rstrip().rpartition("\n")
    if "//" in last and '"' not in last:  # a line comment (not a string holding "//")
        last = last[: last.index("//")]
    tail = (head + "\n" + last).rstrip()
    return tail.endswith(".") or (bool(_TRAILING_OPERATOR.search(tail)) and not tail.endswith("*/"))


def cut(code: str, starts: list[int]) -> list[str]:
    """``code`` cut into REPL lines at ``starts`` (UTF-16 offsets, as the JVM counts; the first line
    starts at 0 and keeps any comments before it)."""
    units = code.encode("utf-16-le")
    bounds = [0, *(2 * start for start in starts), len(units)]
    return [units[a:b].decode("utf-16-le") for a, b in itertools.pairwise(bounds)]


def only_comments(code: str) -> bool:
    """No Scala in ``code``: blanks and ``//`` / ``/* */`` comments only (the REPL calls that an error)."""
    i, n = 0, len(code)
    while i < n:
        if code.startswith("//", i):
            end = code.find("\n", i)
            i = n if end < 0 else end
        elif code.startswith("/*", i):
            end = code.find("*/", i + 2)
            if end < 0:  # unterminated: the REPL's to report
                return False
            i = end + 2
        elif code[i].isspace():
            i += 1
        else:
            return False
    return True
