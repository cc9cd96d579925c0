"""SQL completion: the catalog's tables, views, databases and columns, SQL functions and keywords, each
where the SQL around the cursor takes it (``context``). For SQL cells (the SQL room, ``%%sql``) and for
SQL in the strings of Python and Scala code (``spark.sql("...")``, ``spark.table("...")``: ``embedded``),
merged there with the language's own completions. Catalog names come from ``CatalogNames``, within one
deadline per request (``CatalogNames.deadline``) whatever it asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..contract import Completion
from ..spark.catalog import CatalogNames
from . import embedded
from .context import SqlCursor, analyze, quote, unquote

_KEYWORDS = """
SELECT FROM WHERE GROUP BY ORDER HAVING LIMIT OFFSET AS AND OR NOT IN IS NULL LIKE RLIKE ILIKE
BETWEEN EXISTS CASE WHEN THEN ELSE END DISTINCT ALL UNION INTERSECT EXCEPT JOIN INNER LEFT RIGHT
FULL OUTER CROSS SEMI ANTI ON USING WITH VALUES INSERT INTO OVERWRITE UPDATE DELETE MERGE MATCHED
SET CREATE REPLACE TEMPORARY TEMP VIEW TABLE DATABASE SCHEMA FUNCTION DROP ALTER RENAME TO ADD
COLUMN COLUMNS PARTITION PARTITIONED CLUSTER DISTRIBUTE SORT ASC DESC NULLS FIRST LAST IF SHOW
TABLES DATABASES FUNCTIONS DESCRIBE EXPLAIN EXTENDED FORMATTED CACHE UNCACHE LAZY REFRESH ANALYZE
COMPUTE STATISTICS TRUE FALSE CAST OVER WINDOW ROWS RANGE UNBOUNDED PRECEDING FOLLOWING CURRENT ROW
LATERAL EXPLODE PIVOT UNPIVOT TABLESAMPLE OPTIONS LOCATION COMMENT TBLPROPERTIES USE
"""
KEYWORDS = tuple(_KEYWORDS.split())  # offered where a keyword fits; Spark has more, these are the common ones
_UNQUOTED = ("function", "keyword")  # never backquoted
_ORDER = ("column", "temp view", "view", "table", "cte", "database", "function", "keyword")


def complete(text: str, cursor: int, names: CatalogNames, *, tables_only: bool = False) -> Completion:
    """What may replace the word at ``cursor`` in the SQL ``text`` (``tables_only``: a table name)."""
    return _complete(analyze(text, cursor), cursor, names, tables_only, names.deadline())


def complete_in_code(
    code: str, cursor: int, language: embedded.Language, own: Callable[[], Completion], names: CatalogNames
) -> Completion:
    """The language's completion (``own()``) with catalog names first when the cursor is in the SQL or
    table-name string of ``spark.sql(...)``/``spark.table(...)``; ``own()`` alone (at no cost) elsewhere.
    The catalog is asked before the language's completer runs, so that the two overlap."""
    found = embedded.find(code, cursor, language)
    if found is None:
        return own()
    deadline = names.deadline()
    where = analyze(found.text, cursor - found.offset)
    _first_lookup(where, found.tables_only, names)
    theirs = own()
    sql = _complete(where, cursor - found.offset, names, found.tables_only, deadline)
    return merged(code, shifted(sql, found.offset), theirs)


def _complete(where: SqlCursor, cursor: int, names: CatalogNames, tables_only: bool, deadline: float) -> Completion:
    if where.kind == "none":  # in a string or a comment, naming an alias ...
        return Completion([], cursor, cursor)
    kind = "table" if tables_only else where.kind
    # The lookups one after the other, the likeliest wanted first (run at once, a session's first
    # lookups slow each other down several times over), all by one deadline.
    found: list[tuple[str, str]] = []  # (name, type)
    if kind == "table":
        found += [(t.name, t.kind) for t in names.tables(where.qualifier, deadline=deadline)]
        if where.qualifier is None:
            found += [(name, "cte") for name in where.ctes]
            found += [(name, "database") for name in names.databases(deadline=deadline)]
    elif kind == "column" and where.qualifier is not None:
        found += [(c, "column") for c in names.columns(_table_of(where), deadline=deadline)]
    elif kind == "column":
        tables = [t.name for t in where.tables]
        found += [(c, "column") for c in names.columns(*tables, deadline=deadline)]
        found += [(f, "function") for f in names.functions(deadline=deadline)]
    if kind in ("column", "keyword") and where.qualifier is None:
        upper = where.prefix[:1].isupper()
        found += [(k if upper else k.lower(), "keyword") for k in KEYWORDS]
    return _completion(where, found, cursor)


def _first_lookup(where: SqlCursor, tables_only: bool, names: CatalogNames) -> None:
    """Start the lookup ``_complete`` waits for first, without waiting."""
    kind = "table" if tables_only else where.kind
    if kind == "table":
        names.start(tables=[where.qualifier])
    elif kind == "column" and where.qualifier is not None:
        names.start(columns=[_table_of(where)])
    elif kind == "column":
        names.start(columns=[t.name for t in where.tables], functions=not where.tables)


def shifted(completion: Completion, offset: int) -> Completion:
    """``completion`` of a text that starts at ``offset`` of a larger one."""
    types = [{**t, "start": t["start"] + offset, "end": t["end"] + offset} for t in _types(completion)]
    return Completion(
        completion.matches,
        completion.cursor_start + offset,
        completion.cursor_end + offset,
        {**completion.metadata, "_jupyter_types_experimental": types} if completion.matches else {},
    )


def merged(code: str, first: Completion, second: Completion) -> Completion:
    """Both completions as one (``first``'s matches first): a match that replaces less of ``code``
    carries the text between the common start and its own."""
    valid = [c for c in (first, second) if c.matches and 0 <= c.cursor_start <= c.cursor_end]
    if len(valid) < 2:
        return valid[0] if valid else second
    start, end = min(c.cursor_start for c in valid), max(c.cursor_end for c in valid)
    matches: list[str] = []
    types: list[dict[str, Any]] = []
    for completion in valid:
        lead, tail = code[start : completion.cursor_start], code[completion.cursor_end : end]
        for match, kind in zip(completion.matches, _types(completion), strict=True):
            text = lead + match + tail
            if text not in matches:
                matches.append(text)
                types.append({**kind, "text": text, "start": start, "end": end})
    return Completion(matches, start, end, {"_jupyter_types_experimental": types})


def _types(completion: Completion) -> list[dict[str, Any]]:
    """The per-match types of ``completion`` (JupyterLab pairs them with the matches by position)."""
    given = completion.metadata.get("_jupyter_types_experimental")
    if isinstance(given, list) and len(given) == len(completion.matches):
        return [dict(t) for t in given]
    return [
        {"text": m, "type": "<unknown>", "start": completion.cursor_start, "end": completion.cursor_end}
        for m in completion.matches
    ]


def _table_of(where: SqlCursor) -> str:
    """The table ``p`` stands for in ``p.na|``: an alias or a table of the statement, else itself."""
    assert where.qualifier is not None
    wanted = unquote(where.qualifier.rsplit(".", 1)[-1]).lower()
    for ref in where.tables:
        last = unquote(ref.name.rsplit(".", 1)[-1]).lower()
        if (ref.alias or "").lower() == wanted or (ref.alias is None and last == wanted):
            return ref.name
    return where.qualifier


def _completion(where: SqlCursor, found: Iterable[tuple[str, str]], cursor: int) -> Completion:
    """The names that start with what is typed (any case), quoted where SQL needs it (all of them once a
    backquote is open), in ``_ORDER``."""
    typed = where.prefix.lower()
    seen: dict[str, str] = {}
    for name, kind in found:
        if name.lower().startswith(typed) and name not in seen and not (where.quoted and kind in _UNQUOTED):
            seen[name] = kind
    ranked = sorted(seen.items(), key=lambda item: (_ORDER.index(item[1]), item[0].lower()))
    matches = ["`" + name.replace("`", "``") + "`" if where.quoted else quote(name) for name, _ in ranked]
    types = [
        {"text": match, "type": kind, "start": where.start, "end": cursor}
        for match, (_, kind) in zip(matches, ranked, strict=True)
    ]
    return Completion(matches, where.start, cursor, {"_jupyter_types_experimental": types} if matches else {})
