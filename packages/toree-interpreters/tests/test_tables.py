"""The DataFrame renderers are pure functions of a fetched Table: no Spark needed here."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from pyspark.sql import Row  # a plain Python class: no JVM

from toree_interpreters.spark.tables import Table, format_value, to_csv, to_html, to_json, to_text

PEOPLE = Table([("id", "bigint"), ("name", "string")], [[1, "ada"], [2, None]])


def test_text_looks_like_show() -> None:
    assert to_text(PEOPLE) == "\n".join(
        [
            "+---+----+",
            "| id|name|",
            "+---+----+",
            "|  1| ada|",
            "|  2|null|",
            "+---+----+",
        ]
    )


def test_text_truncates_like_show_and_says_there_is_more() -> None:
    table = Table([("s", "string")], [["x" * 25], ["a\nb"]], more=True)
    lines = to_text(table).splitlines()
    assert lines[3] == "|" + "x" * 17 + "...|"
    assert lines[4] == "|" + " " * 16 + "a\\nb|"  # newlines escaped as Spark 3.4+ does
    assert lines[-1] == "only showing top 2 rows"
    assert to_text(Table([("n", "int")], [[1]], more=True)).endswith("only showing top 1 row")
    assert "x" * 25 in to_text(table, truncate=0)


def test_text_of_empty_and_columnless_tables() -> None:
    assert to_text(Table([("a", "int")], [])) == "+---+\n|  a|\n+---+\n+---+"
    assert to_text(Table([], [])) == "++\n||\n++\n++"


def test_wide_characters_take_two_columns() -> None:
    lines = to_text(Table([("w", "string")], [["日本"], ["ab"]])).splitlines()
    assert lines[3] == "|日本|" and lines[4] == "|  ab|"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (1.5, "1.5"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        (Decimal("1.10"), "1.10"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02 03:04:05"),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 120000), "2024-01-02 03:04:05.12"),
        (bytearray(b"\x01\xab"), "[01 AB]"),
        ([1, None], "[1, null]"),
        ({"a": 1}, "{a -> 1}"),
        (Row(x=1, y="z"), "{1, z}"),
    ],
)
def test_values_print_as_spark_shows_them(value: object, text: str) -> None:
    assert format_value(value) == text


def test_html_escapes_everything_and_shows_types() -> None:
    table = Table([("<b>", "string")], [["<script>alert(1)</script>"], [None]])
    page = to_html(table)
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<th>&lt;b&gt;<br><small>string</small></th>" in page
    assert "<td>null</td>" in page
    assert "<caption>2 rows</caption>" in page


def test_html_caption_counts_rows() -> None:
    assert "<caption>1 row</caption>" in to_html(Table([("a", "int")], [[1]]))
    assert "<caption>showing 2 of 2+ rows</caption>" in to_html(Table([("a", "int")], [[1], [2]], more=True))


def test_json_records_with_strings_for_non_native_values() -> None:
    table = Table(
        [("d", "date"), ("n", "decimal(3,2)"), ("f", "double"), ("s", "struct<x:int>"), ("a", "array<int>")],
        [[dt.date(2024, 1, 2), Decimal("1.50"), float("nan"), Row(x=1), [1, None]], [None] * 5],
    )
    assert json.loads(to_json(table)) == [
        {"d": "2024-01-02", "n": "1.50", "f": "NaN", "s": {"x": 1}, "a": [1, None]},
        {"d": None, "n": None, "f": None, "s": None, "a": None},
    ]


def test_csv_has_a_header_and_quotes_where_needed() -> None:
    table = Table([("id", "int"), ("text", "string")], [[1, 'a,"b"'], [2, None], [3, "line\nbreak"]])
    text = to_csv(table)
    assert text.splitlines()[0] == "id,text"
    assert list(csv.reader(io.StringIO(text))) == [
        ["id", "text"],
        ["1", 'a,"b"'],
        ["2", ""],
        ["3", "line\nbreak"],
    ]
