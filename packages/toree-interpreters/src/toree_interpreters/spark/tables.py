"""Render a Spark DataFrame as a notebook table without collecting all of it.

``fetch`` brings at most ``limit + 1`` rows to the driver (the extra row only tells that there are
more); the renderers are pure functions of the fetched ``Table``, so they are tested without Spark
and shared by the SQL interpreter and the ``%%DataFrame`` magic.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import io
import json
import logging
import math
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ..contract import MimeBundle
from .session import is_connect

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

TRUNCATE = 20  # DataFrame.show()'s default cell width


@attrs.frozen
class Table:
    """The first rows of a DataFrame: ``columns`` are (name, type) pairs, ``more`` = rows were left out."""

    columns: list[tuple[str, str]]
    rows: list[list[Any]]
    more: bool = False


def fetch(df: DataFrame, limit: int) -> Table:
    """At most ``limit`` rows of ``df``; one more is fetched to know whether there are more."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    columns = [(field.name, field.dataType.simpleString()) for field in df.schema.fields]
    # Not through Arrow: Spark's Arrow collection of a limit computes every partition (9 tasks for
    # 1M rows in 8 partitions), while collect() of a limit takes partitions one batch at a time (1 task).
    rows = [list(row) for row in df.limit(limit + 1).collect()]
    return Table(columns, rows[:limit], more=len(rows) > limit)


def as_dataframe(value: Any, session: Any) -> DataFrame | None:
    """``value`` as a pyspark DataFrame: itself, or a JVM Dataset (a py4j object from Scala) wrapped
    for Python; None for anything else. Lets Python render Scala's DataFrames the same way."""
    try:
        from pyspark.sql import DataFrame
    except ImportError:
        return None
    if isinstance(value, DataFrame):
        return value
    if type(value).__name__ != "JavaObject" or session is None or is_connect(session):
        return None  # a Connect client's Dataset lives in another JVM than the session's: jvm_dataframe
    from py4j.java_gateway import is_instance_of

    if not is_instance_of(session.sparkContext._gateway, value, "org.apache.spark.sql.Dataset"):
        return None
    try:  # pyspark 4: the classic (py4j) implementation
        from pyspark.sql.classic.dataframe import DataFrame as ClassicDataFrame
    except ImportError:  # pyspark 3.5
        return DataFrame(value.toDF(), session)
    return ClassicDataFrame(value.toDF(), session)


@contextlib.contextmanager
def jvm_dataframe(
    value: Any, session: Any, view: Callable[[Any, str], bool] | None = None
) -> Iterator[DataFrame | None]:
    """``as_dataframe`` for the block's time, also for a Dataset of the Spark Connect Scala client: a plan
    in another JVM that Python cannot wrap, that ``view`` makes a temp view of the server-side session
    both clients share (dropped after the block)."""
    df = as_dataframe(value, session)
    if df is not None or view is None or session is None or not is_connect(session):
        yield df
        return
    name = f"toree_scala_value_{uuid.uuid4().hex[:12]}"
    try:
        viewed = view(value, name)
    except Exception:  # a streaming Dataset, a server gone: shown as text
        log.debug("no view of the Scala value", exc_info=True)
        viewed = False
    if not viewed:
        yield None
        return
    try:
        yield session.table(name)
    finally:
        try:
            session.catalog.dropTempView(name)
        except Exception:
            log.debug("could not drop the Scala value's view %s", name, exc_info=True)


def dataframe_bundle(df: DataFrame, limit: int) -> MimeBundle:
    table = fetch(df, limit)
    return {"text/plain": to_text(table), "text/html": to_html(table)}


# Values as text, the way Spark shows them ---------------------------------------------------------


def format_value(value: Any) -> str:
    """A value as ``DataFrame.show()`` prints it: ``null``, ``true``, ``[1, 2]``, ``{a -> 1}``, ``{1, x}``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return "[" + " ".join(f"{b:02X}" for b in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
        return text.rstrip("0") if value.microsecond and value.tzinfo is None else text  # .120000 -> .12
    if isinstance(value, tuple):  # a struct (pyspark's Row is a tuple)
        return "{" + ", ".join(map(format_value, value)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(format_value, value)) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{format_value(k)} -> {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _cell(value: Any, truncate: int) -> str:
    text = format_value(value).replace("\n", "\\n").replace("\t", "\\t")  # as Spark 3.4+ escapes them
    if truncate > 0 and len(text) > truncate:
        text = text[: truncate - 3] + "..." if truncate >= 4 else text[:truncate]
    return text


def _width(text: str) -> int:
    """Terminal columns: East Asian wide characters take two, as Spark counts them."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def to_text(table: Table, truncate: int = TRUNCATE) -> str:
    """``DataFrame.show()``'s layout: +---+ borders, right-aligned cells cut to ``truncate`` characters."""
    header = [_cell(name, truncate) for name, _ in table.columns]
    body = [[_cell(v, truncate) for v in row] for row in table.rows]
    widths = [max(3, *(_width(r[i]) for r in [header, *body])) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "|" + "|".join(" " * (w - _width(c)) + c for c, w in zip(cells, widths, strict=True)) + "|"

    border = "+" + "+".join("-" * w for w in widths) + "+"
    lines = [border, line(header), border, *map(line, body), border]
    if table.more:
        lines.append(f"only showing top {len(table.rows)} row{'' if len(table.rows) == 1 else 's'}")
    return "\n".join(lines)


def _caption(table: Table) -> str:
    n = len(table.rows)
    return f"showing {n} of {n}+ rows" if table.more else f"{n} row{'' if n == 1 else 's'}"


_STYLE = (
    ".toree-dataframe{border-collapse:collapse;font-size:12px}"
    ".toree-dataframe caption{caption-side:bottom;text-align:left;color:#777;white-space:nowrap}"
    ".toree-dataframe th,.toree-dataframe td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}"
    ".toree-dataframe th small{font-weight:normal;color:#888}"
)


def to_html(table: Table) -> str:
    """A compact HTML table; every name, type and value is escaped (data is not trusted markup)."""
    head = "".join(
        f"<th>{html.escape(name)}<br><small>{html.escape(type_)}</small></th>"
        for name, type_ in table.columns
    )
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_value(v))}</td>" for v in row) + "</tr>\n"
        for row in table.rows
    )
    return (
        f"<style>{_STYLE}</style>\n"
        '<table class="toree-dataframe">\n'
        f"<caption>{_caption(table)}</caption>\n"
        f"<thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n{body}</tbody>\n</table>"
    )


def _jsonable(value: Any) -> Any:
    """JSON-native values stay; structs and maps become objects; dates, decimals etc. become strings."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else format_value(value)
    if isinstance(value, tuple) and hasattr(value, "asDict"):  # a struct
        return {k: _jsonable(v) for k, v in value.asDict().items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {format_value(k): _jsonable(v) for k, v in value.items()}
    return format_value(value)  # dates, timestamps, decimals, binary


def to_json(table: Table) -> str:
    """A JSON array of records, one object per row keyed by column name."""
    names = [name for name, _ in table.columns]
    return json.dumps([{n: _jsonable(v) for n, v in zip(names, row, strict=True)} for row in table.rows])


def to_csv(table: Table) -> str:
    """A header line, then one line per row; nulls are empty fields, nested values as Spark prints them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in table.columns])
    for row in table.rows:
        writer.writerow(["" if v is None else v if isinstance(v, str) else format_value(v) for v in row])
    return out.getvalue()
