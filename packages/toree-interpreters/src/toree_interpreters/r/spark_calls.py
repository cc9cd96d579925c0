"""The Spark side of R's SparkR API: R's calls, answered with PySpark on the kernel's session.

R holds handles (ids) to DataFrames kept here; ``sql()``, ``tableToDF()``, ``createDataFrame()`` make
them, R's garbage collector releases them. Every call runs on the cell's thread inside its
``SparkCell``, so an R cell's Spark jobs are in the cell's job group: progress, interrupt and a dead
JVM are handled as in every other language.
"""

from __future__ import annotations

import contextlib
import html
import io
import itertools
import logging
from typing import Any

import attrs
import pyspark

from ..contract import MimeBundle, OutputOptions, OutputSink, StdinNotAllowed
from ..spark.cell import SparkCell
from ..spark.errors import jvm_message
from ..spark.session import SparkUnavailable
from ..spark.tables import dataframe_bundle
from . import columns

log = logging.getLogger(__name__)

Reply = tuple[dict[str, Any], bytes]
CALLS = frozenset(
    ["session", "sql", "table", "create", "view", "collect", "count", "schema", "show", "limit", "select", "filter", "cache", "input", "show_value"]
)


@attrs.frozen
class Call:
    """One call from R: its arguments and payload, the cell it runs in (whose session it uses) and sink."""

    args: dict[str, Any]
    payload: bytes
    cell: SparkCell
    sink: OutputSink

    @property
    def session(self) -> Any:
        """The session, started or waited for as needed, with this thread's jobs in the cell's group."""
        return self.cell.session()


class SparkCalls:
    """DataFrames R has handles to, and the answers to R's calls on them."""

    def __init__(self, options: OutputOptions) -> None:
        self.options = options
        self.frames: dict[str, Any] = {}
        self._ids = itertools.count(1)
        self.result: MimeBundle | None = None  # a SparkDataFrame that was a cell's last value

    def forget(self) -> None:
        """The R session ended: its handles with it."""
        self.frames.clear()

    def answer(self, header: dict[str, Any], payload: bytes, cell: SparkCell, sink: OutputSink) -> Reply:
        for released in header.get("released") or []:
            self.frames.pop(released, None)
        name, args = header.get("name", ""), header.get("args") or {}
        handler = getattr(self, f"_{name}", None) if name in CALLS else None
        if handler is None:
            return {"error": f"unknown Spark call {name!r}"}, b""
        try:
            return handler(Call(args, payload, cell, sink))
        except StdinNotAllowed:
            return {"error": "this client cannot answer input requests (readline)"}, b""
        except SparkUnavailable as exc:
            return {"error": str(exc)}, b""
        except Exception as exc:  # Spark's errors become R errors, in Spark's words
            failure = cell.failure(exc)
            if failure is not None and failure.error is not None:
                return {"error": failure.error.evalue}, b""
            return {"error": jvm_message(str(exc)) or type(exc).__name__}, b""

    def _frame(self, args: dict[str, Any]) -> Any:
        try:
            return self.frames[str(args.get("id"))]
        except KeyError:
            raise ValueError("this SparkDataFrame belongs to an R session that has ended; make it again") from None

    def _handle(self, df: Any) -> Reply:
        handle = str(next(self._ids))
        self.frames[handle] = df
        return {"id": handle, "schema": _schema(df), "columns": list(df.columns)}, b""

    # The calls -------------------------------------------------------------------------------------
    def _session(self, call: Call) -> Reply:
        return {"version": call.session.version}, b""

    def _sql(self, call: Call) -> Reply:
        return self._handle(call.session.sql(str(call.args["query"])))

    def _table(self, call: Call) -> Reply:
        return self._handle(call.session.table(str(call.args["name"])))

    def _create(self, call: Call) -> Reply:
        table = columns.from_r(call.args["columns"], int(call.args["rows"]), call.payload)
        return self._handle(create_dataframe(call.session, table))

    def _view(self, call: Call) -> Reply:
        self._frame(call.args).createOrReplaceTempView(str(call.args["name"]))
        return {}, b""

    def _collect(self, call: Call) -> Reply:
        df = self._frame(call.args)
        if call.args.get("limit") is not None:
            df = df.limit(int(call.args["limit"]))
        table = to_arrow(df)
        specs, data = columns.to_r(table)
        return {"columns": specs, "rows": table.num_rows}, data

    def _count(self, call: Call) -> Reply:
        return {"value": self._frame(call.args).count()}, b""

    def _schema(self, call: Call) -> Reply:
        return {"text": _printed(self._frame(call.args).printSchema)}, b""

    def _show(self, call: Call) -> Reply:
        df = self._frame(call.args)
        return {"text": _printed(lambda: df.show(int(call.args.get("rows", 20)), bool(call.args.get("truncate", True))))}, b""

    def _limit(self, call: Call) -> Reply:
        return self._handle(self._frame(call.args).limit(int(call.args["rows"])))

    def _select(self, call: Call) -> Reply:
        return self._handle(self._frame(call.args).select(*[str(c) for c in call.args["columns"]]))

    def _filter(self, call: Call) -> Reply:
        return self._handle(self._frame(call.args).filter(str(call.args["condition"])))

    def _cache(self, call: Call) -> Reply:
        self._frame(call.args).cache()
        return {}, b""

    def _input(self, call: Call) -> Reply:
        """R's ``readline()``: an input request to the client."""
        return {"value": call.sink.input(str(call.args.get("prompt", "")))}, b""

    def _show_value(self, call: Call) -> Reply:
        """A SparkDataFrame as a value: its schema, as SparkR prints it, over its first rows as the other
        languages show them."""
        df = self._frame(call.args)
        table = dataframe_bundle(df, self.options.max_rows)
        schema = f"SparkDataFrame[{_schema(df)}]"
        bundle = {
            **table,
            "text/plain": f"{schema}\n{table['text/plain']}",
            "text/html": f"<code>{html.escape(schema)}</code>\n{table['text/html']}",
        }
        if call.args.get("last"):
            self.result = bundle
        else:
            call.sink.display(bundle)
        return {}, b""


def _schema(df: Any) -> str:
    return ", ".join(f"{field.name}:{field.dataType.simpleString()}" for field in df.schema.fields)


def _printed(show: Any) -> str:
    """What a PySpark method that prints (``show``, ``printSchema``) prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        show()
    return out.getvalue()


def to_arrow(df: Any) -> Any:
    """A DataFrame's rows as an Arrow table (Spark 4's ``toArrow``; on 3.5 the same through its internals)."""
    if hasattr(df, "toArrow"):
        return df.toArrow()
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    batches = df._collect_as_arrow()
    return pa.Table.from_batches(batches) if batches else to_arrow_schema(df.schema).empty_table()


def create_dataframe(session: Any, table: Any) -> Any:
    """A DataFrame of an Arrow table: directly on Spark 4, through pandas with Arrow on 3.5."""
    if int(pyspark.__version__.split(".")[0]) >= 4:
        return session.createDataFrame(table)
    from pyspark.sql.pandas.types import from_arrow_schema

    key = "spark.sql.execution.arrow.pyspark.enabled"
    before = session.conf.get(key, None)
    session.conf.set(key, "true")
    try:
        return session.createDataFrame(table.to_pandas(), schema=from_arrow_schema(table.schema))
    finally:
        if before is None:
            session.conf.unset(key)
        else:
            session.conf.set(key, before)
