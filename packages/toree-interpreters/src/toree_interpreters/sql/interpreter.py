"""The SQL interpreter: Spark SQL cells on the kernel's SparkSession, as Toree's SQL kernel and ``%%sql``.

A cell may hold several statements separated by ``;`` (split with sqlparse, so a ``;`` inside a string,
a backquoted name or a comment stays where it is). ``${name}`` is replaced Toree-style from
``kernel.data`` first, then from the ``variables`` lookup; names with ``:`` or ``.`` (``${env:HOME}``,
``${spark.sql.x}``) are left to Spark's own substitution. Each cell's jobs run in a job group of their
own, which ``interrupt`` cancels. Completion offers the catalog's names where the SQL takes them
(``completion``).
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..contract import (
    Completion,
    ExecuteOutcome,
    Interpreter,
    IsComplete,
    LanguageInfo,
    MimeBundle,
    OutputOptions,
    OutputSink,
)
from ..spark.cell import SparkCell
from ..spark.errors import cancelled, jvm_message, lost
from ..spark.session import SparkSessionManager, SparkUnavailable
from ..spark.tables import dataframe_bundle
from . import completion

log = logging.getLogger(__name__)

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WORD_BEFORE = re.compile(r"[\w.`]*$")
_WORD_AFTER = re.compile(r"^[\w`]*")


class SQLInterpreter(Interpreter):
    name = "SQL"
    language_info = LanguageInfo(
        name="sql",
        version="",
        mimetype="text/x-sql",
        file_extension=".sql",
        pygments_lexer="sql",
        codemirror_mode="text/x-sql",
    )

    def __init__(
        self,
        spark: SparkSessionManager,
        *,
        shared_data: Mapping[str, Any] | None = None,
        variables: Callable[[str], Any] | None = None,
        limit: int = 20,
        options: OutputOptions | None = None,
    ) -> None:
        self.spark = spark
        self.options = options if options is not None else OutputOptions()
        self.shared_data: Mapping[str, Any] = shared_data if shared_data is not None else {}
        self.variables = variables
        self.limit = limit
        # The running cells' job groups, by thread: SQL cells may run on several threads at once (kernel
        # subshells); Spark runs their statements concurrently, each thread's jobs in its own group.
        self._cells: dict[int, SparkCell] = {}
        # The SQL dialect is Spark's: its version, known without starting the JVM (kernel_info is answered at once).
        self.language_info = attrs.evolve(self.language_info, version=importlib.metadata.version("pyspark"))

    # Execution ------------------------------------------------------------------------------------
    def execute(self, code: str, sink: OutputSink) -> ExecuteOutcome:
        return self.run(code, sink, limit=self.limit)

    def run(
        self,
        code: str,
        sink: OutputSink,
        *,
        limit: int,
        variables: Callable[[str], Any] | None = None,
    ) -> ExecuteOutcome:
        """Run every statement; earlier query results are displayed, the last one is the cell's result.
        ``variables`` replaces the interpreter's own lookup for this call (``%%sql`` in another language)."""
        statements = split_statements(code)
        try:
            statements = [self.substitute(s, variables) for s in statements]
        except KeyError as exc:
            return ExecuteOutcome.failed("KeyError", str(exc.args[0]))
        if not statements:
            return ExecuteOutcome()
        thread = threading.get_ident()
        with SparkCell(self.spark, sink, self.options, language="sql") as cell:
            outer, self._cells[thread] = self._cells.get(thread), cell
            try:
                return self._run(statements, sink, limit, cell)
            finally:
                if outer is None:
                    del self._cells[thread]
                else:
                    self._cells[thread] = outer

    def _run(self, statements: list[str], sink: OutputSink, limit: int, cell: SparkCell) -> ExecuteOutcome:
        result: MimeBundle | None = None
        try:
            session = cell.session()
        except SparkUnavailable as exc:
            return lost(exc)
        for index, statement in enumerate(statements, 1):
            if cell.interrupted:
                break
            result = None
            try:
                df = session.sql(statement)
                if df.columns:  # commands (CREATE, INSERT, ...) have no columns: nothing to show
                    result = dataframe_bundle(df, limit)
            except Exception as exc:
                failure = cell.failure(exc)
                if failure is not None:
                    return failure
                return _failed(exc, index, len(statements))
            if result is not None and index < len(statements):
                sink.display(result)
                result = None
        if cell.interrupted:
            return cancelled()
        return ExecuteOutcome(result=result)

    def evaluate(self, expression: str) -> MimeBundle:
        return dataframe_bundle(self.spark.get().sql(self.substitute(expression)), self.limit)

    def substitute(self, statement: str, variables: Callable[[str], Any] | None = None) -> str:
        """Replace ``${name}`` by its value; KeyError("unknown variable ${name}") when nothing has it."""
        lookup = variables or self.variables

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.shared_data:
                return _sql_text(self.shared_data[name])
            if lookup is not None:
                try:
                    return _sql_text(lookup(name))
                except KeyError:
                    pass
            where = "kernel.data" + (" nor a variable" if lookup is not None else "")
            raise KeyError(f"unknown variable ${{{name}}} (not in {where})")

        return _VARIABLE.sub(value, statement)

    def interrupt(self) -> None:
        """Cancel the running cells' Spark jobs, also those they start after this (statements still to
        run are skipped); harmless when idle."""
        for cell in list(self._cells.values()):
            cell.interrupt()

    # Introspection --------------------------------------------------------------------------------
    def is_complete(self, code: str) -> IsComplete:
        """Cells need no trailing ``;``: only an open quote, comment or parenthesis makes one incomplete."""
        depth, quote, i = 0, "", 0
        while i < len(code):
            c, pair = code[i], code[i : i + 2]
            if quote:
                if c == "\\" and quote != "`":
                    i += 1
                elif c == quote:
                    quote = ""
            elif pair == "--":
                end = code.find("\n", i)
                i = len(code) if end < 0 else end
            elif pair == "/*":
                end = code.find("*/", i + 2)
                if end < 0:
                    return IsComplete("incomplete")
                i = end + 1
            elif c in "'\"`":
                quote = c
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth < 0:
                    return IsComplete("invalid")
            i += 1
        return IsComplete("incomplete", "  " if depth else "") if quote or depth else IsComplete("complete")

    def complete(self, code: str, cursor_pos: int) -> Completion:
        """Keywords, SQL functions, and the catalog's tables, views and columns where the SQL around the
        cursor takes them (from the live session, cached briefly, never waited for long)."""
        return completion.complete(code, cursor_pos, self.spark.catalog_names)

    def inspect(self, code: str, cursor_pos: int, detail_level: int = 0) -> MimeBundle | None:
        """A table's schema, or a function's usage, for the name at the cursor (when the session is up)."""
        before, after = _WORD_BEFORE.search(code[:cursor_pos]), _WORD_AFTER.search(code[cursor_pos:])
        name = (before.group(0) if before else "") + (after.group(0) if after else "")
        session = self.spark.session_if_ready
        if not name.strip(".`") or session is None:
            return None
        try:
            return {"text/plain": f"{name}: {session.table(name).schema.simpleString()}"}
        except Exception:
            pass
        try:
            if session.catalog.functionExists(name):
                rows = session.sql(f"DESCRIBE FUNCTION {name}").collect()
                return {"text/plain": "\n".join(str(row[0]) for row in rows)}
        except Exception:
            log.debug("inspect found no table or function %r", name, exc_info=True)
        return None


def split_statements(code: str) -> list[str]:
    """The cell's statements without their ``;``, skipping empty and comment-only ones."""
    import sqlparse  # here: ~0.7 MiB that a kernel with no SQL cell (yet) does without

    statements = []
    for statement in sqlparse.split(code):
        if sqlparse.format(statement, strip_comments=True).strip().strip(";").strip():
            statements.append(statement.strip().removesuffix(";").rstrip())
    return statements


def _sql_text(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _failed(exc: BaseException, index: int, count: int) -> ExecuteOutcome:
    """Spark's message without the JVM stack trace, and which statement failed when there are several."""
    evalue = jvm_message(str(exc))
    ename = type(exc).__name__
    where = [f"(in statement {index} of {count})"] if count > 1 else []
    return ExecuteOutcome.failed(ename, evalue, [f"{ename}: {evalue}", *where])
