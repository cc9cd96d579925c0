"""The SQL interpreter on a real SparkSession (statement splitting and is_complete need none)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from interp_support import CollectingSink, tab_until

from toree_interpreters import OutputOptions, SparkSessionManager, SQLInterpreter
from toree_interpreters.spark.tables import fetch, to_text
from toree_interpreters.sql.interpreter import split_statements

spark = pytest.mark.spark
PEOPLE = (
    "CREATE OR REPLACE TEMPORARY VIEW people AS "
    "SELECT * FROM VALUES (1, 'ada'), (2, 'bob'), (3, 'cy') AS t(id, name)"
)


@pytest.fixture
def shared() -> dict[str, Any]:
    return {}


@pytest.fixture
def sql(spark_manager: SparkSessionManager, shared: dict[str, Any]) -> SQLInterpreter:
    # No progress displays: a slow first job (cold JVM, busy machine) would add one. test_progress.py covers them.
    interp = SQLInterpreter(spark_manager, shared_data=shared, options=OutputOptions(progress=False))
    interp.start()
    assert interp.execute(PEOPLE, CollectingSink()).status == "ok"
    return interp


def displays(sink: CollectingSink) -> list[dict[str, Any]]:
    return [data for kind, data in sink.events if kind == "display"]


# No Spark needed ----------------------------------------------------------------------------------


def test_statements_split_on_semicolons_outside_strings_names_and_comments() -> None:
    code = (
        "select 'a;b' as `x;y`;\n"
        "-- a comment; with a semicolon\n"
        'select "c;d" /* more; */ ;\n'
        ";  -- nothing here\n"
        "select `e``;f` from t"
    )
    assert split_statements(code) == [
        "select 'a;b' as `x;y`",
        '-- a comment; with a semicolon\nselect "c;d" /* more; */',
        "select `e``;f` from t",
    ]
    assert split_statements("-- only a comment\n/* and another */") == []


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("select 1", "complete"),
        ("select 1;", "complete"),
        ("select ')' -- (\n", "complete"),
        ("select `a(`", "complete"),
        ("select 'it''s'", "complete"),
        ("select 'abc", "incomplete"),
        ("select (1 + ", "incomplete"),
        ("select 1 /* open", "incomplete"),
        ("select 'a\\'", "incomplete"),
        ("select 1)", "invalid"),
    ],
)
def test_is_complete_needs_no_trailing_semicolon(code: str, status: str) -> None:
    assert SQLInterpreter(SparkSessionManager(init_mode="none")).is_complete(code).status == status


def test_language_info_and_variables_without_spark() -> None:
    interp = SQLInterpreter(
        SparkSessionManager(init_mode="none"), shared_data={"a": 1}, variables={"a": 2, "b": True}.__getitem__
    )
    info = interp.language_info.to_dict()
    assert (info["name"], info["mimetype"], info["file_extension"], info["codemirror_mode"]) == (
        "sql",
        "text/x-sql",
        ".sql",
        "text/x-sql",
    )
    assert info["version"][0] in "34"  # Spark's version
    assert interp.substitute("${a} ${b} ${env:HOME} ${spark.x}") == "1 true ${env:HOME} ${spark.x}"
    assert interp.complete("sel", 3).matches == ["select"]  # keywords even without a session
    outcome = interp.execute("select ${nope}", CollectingSink())
    assert outcome.error is not None and outcome.error.ename == "KeyError"
    assert outcome.error.evalue == "unknown variable ${nope} (not in kernel.data nor a variable)"
    outcome = interp.execute("select 1", CollectingSink())
    assert outcome.error is not None and outcome.error.ename == "SparkUnavailable"


# On Spark -----------------------------------------------------------------------------------------


@spark
def test_ddl_shows_nothing_and_a_query_is_the_result(sql: SQLInterpreter, tmp_path: Path) -> None:
    sink = CollectingSink()
    outcome = sql.execute(
        f"CREATE TABLE nums (n INT) USING parquet LOCATION '{tmp_path / 'nums'}';\n"
        "INSERT INTO nums VALUES (1), (2);\n"
        "SELECT n, n * 10 AS tens FROM nums ORDER BY n",
        sink,
    )
    assert outcome.status == "ok", outcome.error
    assert outcome.result is not None and sink.events == []
    assert outcome.result["text/plain"] == "\n".join(
        ["+---+----+", "|  n|tens|", "+---+----+", "|  1|  10|", "|  2|  20|", "+---+----+"]
    )
    assert "<th>tens<br><small>int</small></th>" in outcome.result["text/html"]
    assert sql.execute("DROP TABLE nums", sink) == type(outcome)()


@spark
def test_several_statements_with_semicolons_in_strings_and_comments(sql: SQLInterpreter) -> None:
    sink = CollectingSink()
    outcome = sql.execute(
        "SELECT 'a;b' AS `x;y`;  -- first; shown as a display\n"
        "/* a comment; */\n"
        "CACHE TABLE people;\n"
        "SELECT count(*) AS n FROM people; -- the result",
        sink,
    )
    assert outcome.status == "ok", outcome.error
    [first] = displays(sink)
    assert "|x;y|" in first["text/plain"] and "|a;b|" in first["text/plain"]
    assert outcome.result is not None and "|  3|" in outcome.result["text/plain"]


@spark
def test_errors_are_short_and_the_interpreter_keeps_working(sql: SQLInterpreter) -> None:
    parse = sql.execute("SELEC 1", CollectingSink())
    assert parse.status == "error" and parse.error is not None
    assert parse.error.ename == "ParseException"
    assert "SELEC" in parse.error.evalue and "\tat " not in parse.error.evalue

    sink = CollectingSink()
    missing = sql.execute("SELECT 1 AS one; SELECT * FROM no_such_table; SELECT 2", sink)
    assert missing.error is not None and missing.error.ename == "AnalysisException"
    assert "no_such_table" in missing.error.evalue and "\tat " not in missing.error.evalue
    assert missing.error.traceback[-1] == "(in statement 2 of 3)"
    assert len(displays(sink)) == 1  # the first statement's result; the third never ran

    again = sql.execute("SELECT name FROM people WHERE id = 2", CollectingSink())
    assert again.result is not None and "bob" in again.result["text/plain"]


@spark
def test_variables_come_from_kernel_data_then_the_lookup(
    spark_manager: SparkSessionManager, shared: dict[str, Any]
) -> None:
    found = {"who": "cy", "table": "ignored"}
    interp = SQLInterpreter(spark_manager, shared_data=shared, variables=found.__getitem__)
    interp.execute(PEOPLE, CollectingSink())
    shared["table"] = "people"
    outcome = interp.execute("SELECT id FROM ${table} WHERE name = '${who}'", CollectingSink())
    assert outcome.result is not None and "|  3|" in outcome.result["text/plain"]

    unknown = interp.execute("SELECT 1; SELECT ${missing}", CollectingSink())
    assert unknown.error is not None and "unknown variable ${missing}" in unknown.error.evalue

    per_call = interp.run(
        "SELECT '${who}' AS w", CollectingSink(), limit=5, variables={"who": "x"}.__getitem__
    )
    assert per_call.result is not None and "|  x|" in per_call.result["text/plain"]


@spark
def test_limit_is_respected_and_more_is_told(sql: SQLInterpreter, spark_manager: SparkSessionManager) -> None:
    outcome = sql.run("SELECT id FROM range(100)", CollectingSink(), limit=5)
    assert outcome.result is not None
    text = outcome.result["text/plain"]
    assert text.endswith("only showing top 5 rows") and "|  4|" in text and "|  5|" not in text
    assert "showing 5 of 5+ rows" in outcome.result["text/html"]
    table = fetch(spark_manager.get().range(3), 3)
    assert (table.more, len(table.rows)) == (False, 3)
    sql.limit = 2
    assert (
        "only showing top 2 rows"
        in sql.execute("SELECT * FROM people", CollectingSink()).result["text/plain"]
    )


@spark
def test_values_are_escaped_in_html(sql: SQLInterpreter) -> None:
    outcome = sql.execute("SELECT '<script>alert(1)</script>' AS `<b>`, NULL AS n", CollectingSink())
    assert outcome.result is not None
    page = outcome.result["text/html"]
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<th>&lt;b&gt;<br>" in page and "<td>null</td>" in page


@spark
def test_text_matches_spark_show(spark_manager: SparkSessionManager) -> None:
    df = spark_manager.get().sql(
        "SELECT * FROM VALUES (1, 'a long string that show cuts', 1.5D, DATE'2024-01-02', "
        "TIMESTAMP'2024-01-02 03:04:05.12', array(1, 2), map('k', 1), named_struct('x', 1, 'y', 'z'), "
        "CAST(1.10 AS DECIMAL(4, 2)), X'01AB', true) AS t(i, s, d, dt, ts, arr, m, st, dec, bin, b)"
    )
    assert to_text(fetch(df, 20)) + "\n" == df._jdf.showString(20, 20, False)


@spark
def test_completion_and_inspection_use_the_catalog(sql: SQLInterpreter) -> None:
    def tab(marked: str, wanted: str) -> list[str]:
        code, cursor = marked.replace("|", ""), marked.index("|")
        return tab_until(lambda: sql.complete(code, cursor), wanted).matches

    assert tab("SELECT * FROM peo|", "people") == ["people"]
    assert sql.complete("SELECT * FROM peo", 17).cursor_start == 14
    assert "SELECT" in sql.complete("SEL", 3).matches
    assert tab("select na| from people", "name")[0] == "name"  # columns of the tables further on
    assert tab("select p.| from people p where p.id > 1", "id") == ["id", "name"]
    assert "upper" in tab("select upp|", "upper")  # the session's SQL functions
    # A view a cell creates (here with a name that needs backquotes) is there at the next Tab.
    sql.execute("CREATE OR REPLACE TEMPORARY VIEW `people ünïcode` AS SELECT 1 AS `é`", CollectingSink())
    assert tab("select * from people|", "`people ünïcode`") == ["people", "`people ünïcode`"]
    assert tab("select * from `people ü|", "`people ünïcode`") == ["`people ünïcode`"]
    assert tab("select | from `people ünïcode`", "`é`")[0] == "`é`"
    sql.execute("CREATE OR REPLACE GLOBAL TEMPORARY VIEW everyone AS SELECT 1 AS id", CollectingSink())
    assert tab("select * from global_temp.ev|", "everyone") == ["everyone"]
    assert sql.inspect("SELECT * FROM people", 16) == {"text/plain": "people: struct<id:int,name:string>"}
    doc = sql.inspect("upper", 5)
    assert doc is not None and "Usage: upper" in doc["text/plain"]
    assert sql.inspect("no_such_thing", 3) is None


@spark
def test_interrupt_cancels_the_cells_jobs(sql: SQLInterpreter) -> None:
    sql.interrupt()  # idle: harmless
    threading.Thread(target=lambda: (time.sleep(2), sql.interrupt())).start()
    started = time.monotonic()
    outcome = sql.execute(
        "SELECT java_method('java.lang.Thread', 'sleep', 60000L) FROM range(0, 2, 1, 2); SELECT 1",
        CollectingSink(),
    )
    assert outcome.error is not None and outcome.error.ename == "KeyboardInterrupt"
    assert time.monotonic() - started < 20
    after = sql.execute("SELECT count(*) AS n FROM people", CollectingSink())
    assert after.result is not None and "|  3|" in after.result["text/plain"]
