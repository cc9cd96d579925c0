"""Where the cursor is in Spark SQL text, for completion: what kind of name goes there (a table, a
column, a keyword, or nothing: inside a string, a comment, an alias being named), the word typed so
far, what qualifies it (``db.`` or ``p.``) and which tables are in scope for columns.

Pure text analysis, no Spark. Half-typed SQL is the normal case here, which rules out a parser (sqlglot
parses only complete statements, and its tokenizer raises on an unclosed quote) and sqlparse's lexer
(unclosed strings and backquotes come out as error tokens, an unclosed ``/*`` as operators). A small
tokenizer knows Spark SQL's quoting ('...' and "..." strings with backslash escapes, backquoted names
with doubled backquotes, ``--`` and ``/* */`` comments; an unclosed one runs to the end), and a scan of
its tokens tracks the clause and the FROM/JOIN lists of each (sub)query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import attrs

Kind = Literal["table", "column", "keyword", "none"]

_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    |(?P<string>'(?:\\.?|[^'\\])*(?:'|\Z)|"(?:\\.?|[^"\\])*(?:"|\Z))
    |(?P<quoted>`(?:``|[^`])*(?:`|\Z))
    |(?P<word>\w+)
    |(?P<punct>.)""",
    re.S | re.X,
)
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # a name Spark reads without backquotes
# The kind of name right after each keyword. After a table keyword and something else (``FROM people |``)
# comes a keyword or an alias; a "none" keyword governs only the word right after it (``AS x``).
_CLAUSES: dict[str, Kind] = {
    **dict.fromkeys(["FROM", "JOIN", "INTO", "UPDATE", "TABLE", "VIEW", "DESCRIBE"], "table"),
    **dict.fromkeys(["SELECT", "WHERE", "ON", "HAVING", "BY", "SET", "QUALIFY", "WHEN", "THEN", "ELSE"], "column"),
    **dict.fromkeys(["AS", "LIMIT", "OFFSET", "FUNCTION", "DATABASE", "SCHEMA", "NAMESPACE"], "none"),
}
# Words that want an operand after them (``a AND b``); any other word, a name or a value before the
# cursor is an operand, and after an operand comes a keyword (``SELECT * FR|``), not a column.
_OPERATOR_WORDS = "AND OR NOT IN IS LIKE RLIKE ILIKE REGEXP BETWEEN CASE DISTINCT ALL ANY SOME EXISTS"
_OPERATORS = frozenset(_OPERATOR_WORDS.split())
_REFERS = frozenset({"FROM", "JOIN", "UPDATE", "INTO"})  # a table reference follows
_ENDS_REF = """WHERE GROUP ORDER HAVING LIMIT OFFSET UNION INTERSECT EXCEPT MINUS JOIN INNER LEFT RIGHT FULL
OUTER CROSS SEMI ANTI NATURAL LATERAL ON USING WINDOW QUALIFY SORT CLUSTER DISTRIBUTE PIVOT UNPIVOT
TABLESAMPLE SET SELECT VALUES AS WHEN MATCHED FOR WITH TABLE"""
_NOT_ALIAS = frozenset(_ENDS_REF.split())  # words that end a table reference in a FROM list
_SUBQUERY = frozenset({"SELECT", "WITH", "VALUES"})  # a parenthesis starting with these holds a query


@attrs.frozen
class TableRef:
    """A table named in a FROM/JOIN list (or UPDATE, INSERT INTO, MERGE INTO), as written."""

    name: str  # ``people``, ``db.people``, ```my table```
    alias: str | None = None


@attrs.frozen
class SqlCursor:
    """What completion at the cursor should offer; positions are indices into the analysed text."""

    kind: Kind
    start: int  # where the text a completion replaces starts
    prefix: str  # the part of the name typed so far (without its backquote)
    qualifier: str | None = None  # ``db`` in ``db.peo|``, ``p`` in ``p.na|`` (as written)
    quoted: bool = False  # the name was opened with a backquote
    tables: tuple[TableRef, ...] = ()  # in scope for columns: this query's and the enclosing queries'
    ctes: tuple[str, ...] = ()  # names the statement's WITH defines


@attrs.frozen
class _Token:
    kind: str
    start: int
    end: int
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else ""


def tokens(text: str) -> list[_Token]:
    """Every token of ``text`` (whitespace and comments included), in order."""
    found = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "punct"
        found.append(_Token(kind, match.start(), match.end(), match.group()))
    return found


def quote(name: str) -> str:
    """``name`` as Spark SQL reads it: backquoted unless it is a plain identifier."""
    return name if _PLAIN.match(name) else "`" + name.replace("`", "``") + "`"


def unquote(name: str) -> str:
    """A name as written (maybe backquoted, maybe unclosed) without its quoting."""
    if name.startswith("`"):
        inner = name[1:-1] if len(name) > 1 and name.endswith("`") else name[1:]
        return inner.replace("``", "`")
    return name


def analyze(text: str, cursor: int) -> SqlCursor:
    """What goes at ``cursor`` in ``text`` (one or more statements; the one holding the cursor counts)."""
    cursor = max(0, min(cursor, len(text)))
    statement = _statement_at([t for t in tokens(text) if t.kind != "space"], cursor)
    at = next((t for t in statement if t.start < cursor <= t.end), None)
    if at is not None and at.kind in ("string", "comment") and not (cursor == at.end and _closed(at)):
        return SqlCursor("none", cursor, "")
    word: _Token | None = None
    start, prefix, quoted = cursor, "", False
    if at is not None and at.kind == "word":
        word, start, prefix = at, at.start, text[at.start : cursor]
    elif at is not None and at.kind == "quoted" and not (cursor == at.end and _closed(at)):
        word, start, prefix, quoted = at, at.start, unquote(text[at.start : cursor]), True
    code = [t for t in statement if t.kind != "comment" and t is not word]
    before = [t for t in code if t.end <= start]
    qualifier: list[str] = []
    while len(before) >= 2 and before[-1].text == "." and before[-2].kind in ("word", "quoted"):
        qualifier.insert(0, before[-2].text)
        before = before[:-2]
    typed = code[len(before) : len(before) + 2 * len(qualifier)]  # the qualifier: not a table of its own
    scan = _Scan([t for t in code if t not in typed], start)
    return SqlCursor(
        _kind_at(before, creating=bool(code) and code[0].upper == "CREATE"),
        start,
        prefix,
        ".".join(qualifier) or None,
        quoted,
        scan.tables_in_scope(),
        scan.ctes,
    )


def _closed(token: _Token) -> bool:
    """A string, comment or backquoted name that ends before the text does."""
    text = token.text
    if token.kind == "comment":  # a -- comment runs to the end of its line, the cursor's too
        return text.startswith("/*") and len(text) >= 4 and text.endswith("*/")
    if len(text) < 2 or text[-1] != text[0]:
        return False
    if token.kind == "quoted":
        return (len(text) - len(text.rstrip("`"))) % 2 == 1 or len(text) == 2
    inner = text[1:-1]
    return (len(inner) - len(inner.rstrip("\\"))) % 2 == 0  # the closing quote is not escaped


def _statement_at(found: Sequence[_Token], cursor: int) -> list[_Token]:
    """The tokens of the statement (between ``;``) that holds the cursor."""
    statement: list[_Token] = []
    for token in found:
        if token.kind == "punct" and token.text == ";":
            if token.end > cursor:
                return statement
            statement = []
        else:
            statement.append(token)
    return statement


def _kind_at(before: Sequence[_Token], *, creating: bool) -> Kind:
    """The kind of name that follows ``before``: what the nearest keyword of the cursor's parenthesis
    level says, or what the parenthesis itself holds (a function's arguments, a subquery)."""
    level: list[_Token] = []  # the tokens of the cursor's level, nearest first
    opener: _Token | None = None  # what precedes the parenthesis the cursor is in
    depth = 0
    for i in range(len(before) - 1, -1, -1):
        token = before[i]
        if token.kind == "punct" and token.text == ")":
            if depth == 0:
                level.append(token)  # stands for the whole parenthesis
            depth += 1
        elif token.kind == "punct" and token.text == "(":
            if depth == 0:
                opener = before[i - 1] if i else token
                break
            depth -= 1
        elif depth == 0:
            level.append(token)
    starts_query = opener is None or any(token.upper in _SUBQUERY for token in level)
    if not starts_query and opener is not None:  # a parenthesis that holds no query (yet)
        if opener.text == "(" or opener.upper == "AS" or _CLAUSES.get(opener.upper) == "table":
            return "keyword"  # a subquery starts here
        # a function's arguments (EXTRACT(YEAR FROM d) too), an IN list, OVER (...)
        return "keyword" if _after_operand(level) else "column"
    for n, token in enumerate(level):
        kind = _CLAUSES.get(token.upper)
        if kind is None:
            continue
        if kind == "table":
            if n == 0:
                return "none" if creating and token.upper in ("TABLE", "VIEW") else "table"
            return "table" if token.upper == "FROM" and level[0].text == "," else "keyword"
        if kind == "none":
            if n == 0:
                return "none"
            continue
        return "keyword" if _after_operand(level) else "column"
    return "keyword"  # a statement, or a subquery, starts here


def _after_operand(level: Sequence[_Token]) -> bool:
    """Whether the token before the cursor (``level[0]``) ends an operand: a name, a value, a
    parenthesis, a ``*`` that stands for all columns."""
    if not level:
        return False
    last = level[0]
    if last.kind in ("quoted", "string") or last.text == ")":
        return True
    if last.kind == "word":
        return last.upper not in _CLAUSES and last.upper not in _OPERATORS
    if last.text == "*":  # SELECT *, t.*, count(*) ... or a product
        return len(level) == 1 or level[1].text in (",", ".", "(") or level[1].upper == "SELECT"
    return False


@attrs.define
class _Frame:
    """A query being scanned: its scope, its current clause, parentheses open inside it (not subqueries)."""

    scope: int
    clause: str = ""
    depth: int = 0


class _Scan:
    """One pass over a statement's tokens: its queries (a subquery in parentheses is a scope of its own),
    the tables each one reads, the CTE names, and the scope the cursor is in."""

    def __init__(self, code: Sequence[_Token], cursor: int) -> None:
        self.refs: list[tuple[int, TableRef]] = []  # (scope, table)
        self.parents: dict[int, int | None] = {0: None}
        ctes: list[str] = []
        frames = [_Frame(0)]  # the open queries, innermost last
        self.cursor_scope: int | None = None
        for i, token in enumerate(code):
            if self.cursor_scope is None and token.start >= cursor:
                self.cursor_scope = frames[-1].scope
            frame = frames[-1]
            if token.kind == "punct" and token.text == "(":
                if i + 1 < len(code) and code[i + 1].upper in _SUBQUERY:
                    scope = len(self.parents)
                    self.parents[scope] = frame.scope
                    frames.append(_Frame(scope))
                    if i >= 2 and code[i - 1].upper == "AS" and code[i - 2].kind in ("word", "quoted"):
                        ctes.append(unquote(code[i - 2].text))  # WITH name AS (
                else:
                    frame.depth += 1
            elif token.kind == "punct" and token.text == ")":
                if frame.depth:
                    frame.depth -= 1
                elif len(frames) > 1:
                    frames.pop()
            elif frame.depth == 0 and (token.upper in _REFERS or (token.text == "," and frame.clause == "FROM")):
                ref = _table_ref(code, i + 1)
                if ref is not None:
                    self.refs.append((frame.scope, ref))
            if frame.depth == 0 and token.upper in _CLAUSES:
                frame.clause = "FROM" if token.upper == "JOIN" else token.upper
        if self.cursor_scope is None:
            self.cursor_scope = frames[-1].scope
        self.ctes = tuple(ctes)

    def tables_in_scope(self) -> tuple[TableRef, ...]:
        """The tables of the cursor's query and of the queries around it (correlated subqueries)."""
        scopes: list[int] = []
        scope = self.cursor_scope
        while scope is not None:
            scopes.append(scope)
            scope = self.parents[scope]
        return tuple(ref for scope in scopes for s, ref in self.refs if s == scope)


def _table_ref(code: Sequence[_Token], i: int) -> TableRef | None:
    """The table named from ``code[i]`` on: a dotted name, then maybe ``AS`` and an alias."""
    parts: list[str] = []
    while i < len(code) and code[i].kind in ("word", "quoted") and code[i].upper not in _NOT_ALIAS:
        parts.append(code[i].text)
        i += 1
        if i + 1 < len(code) and code[i].text == "." and code[i + 1].kind in ("word", "quoted"):
            i += 1
        else:
            break
    if not parts or (i < len(code) and code[i].text == "("):  # none, or a table-valued function
        return None
    if i < len(code) and code[i].upper == "AS":
        i += 1
    alias = None
    if i < len(code) and code[i].kind in ("word", "quoted") and code[i].upper not in _NOT_ALIAS:
        alias = unquote(code[i].text)
    return TableRef(".".join(parts), alias)
