"""SQL inside Python and Scala code: is the cursor in the string literal of ``spark.sql("...")`` (a
statement) or ``spark.table("...")`` and its kin (a table name)? Pure text: a small lexer per language
finds the strings and comments before the cursor (the code around is usually half-typed, which Python's
own tokenizer refuses).
"""

from __future__ import annotations

import re
from typing import Literal

import attrs

Language = Literal["python", "scala"]

# Methods whose first argument is SQL, or the name of a table or view (Spark's Python and Scala APIs).
SQL_METHODS = frozenset({"sql"})
TABLE_METHODS = frozenset(
    {"table", "tableExists", "getTable", "listColumns", "cacheTable", "uncacheTable", "isCached",
     "refreshTable", "dropTempView", "dropGlobalTempView", "insertInto"}
)


def _string(quotes: str) -> str:
    """A string opened by one of ``quotes`` (tripled or not) up to its closing quote or, when there is
    none yet, to the end of the code (tripled) or of its line."""
    triple = "|".join(q * 3 for q in quotes)
    return (
        f"(?:(?P<q3>{triple})(?P<long>(?:\\\\.|(?!(?P=q3)).)*)"
        f"|(?P<q1>[{quotes}])(?P<short>(?:\\\\.|(?!(?P=q1))[^\\n])*))"
    )


QUOTES = "'\""  # Python's string quotes; Scala's is the second only
_LEXERS = {
    "python": re.compile(
        r"(?P<comment>#[^\n]*)"
        rf"|(?P<string>(?P<prefix>[rRbBuUfF]{{0,2}}){_string(QUOTES)})"
        r"|(?P<other>[^#'\"\w]+|\w+|.)",
        re.S,
    ),
    "scala": re.compile(
        r"(?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))"
        rf"|(?P<string>(?P<prefix>\w*){_string(QUOTES[1])})"
        r"|(?P<char>'(?:\\.|[^\\'\n])')"  # a Char literal, so that '"' opens no string
        r"|(?P<other>[^/'\"\w]+|\w+|.)",
        re.S,
    ),
}
_CALL = re.compile(r"\.\s*(\w+)\s*\(\s*\Z")  # ``.table(`` right before the string


@attrs.frozen
class Embedded:
    """The string at the cursor and what it holds."""

    text: str  # the string's content (up to its closing quote, or the end of the line/code)
    offset: int  # where that content starts in the code
    tables_only: bool  # a table name (``spark.table``), or a SQL statement (``spark.sql``)


def find(code: str, cursor: int, language: Language) -> Embedded | None:
    """The SQL string the cursor is in, if it is the first argument of one of Spark's methods."""
    for match in _LEXERS[language].finditer(code):
        if match.start() >= cursor:
            return None
        if match.group("string") is None:
            continue
        body = "long" if match.group("q3") else "short"
        if not match.start(body) <= cursor <= match.end(body):
            continue
        if language == "python" and "b" in match.group("prefix").lower():
            return None  # bytes, not text
        called = _CALL.search(code, 0, match.start())
        if called is None or called.group(1) not in SQL_METHODS | TABLE_METHODS:
            return None
        return Embedded(match.group(body), match.start(body), called.group(1) in TABLE_METHODS)
    return None
