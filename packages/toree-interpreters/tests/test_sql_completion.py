"""Catalog-aware completion without Spark: where the cursor is in SQL (``sql.context``), SQL strings in
Python and Scala code (``sql.embedded``), the completion built from both, and the bounded, cached catalog
lookups (``spark.catalog``) against a fake session."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from toree_interpreters.contract import Completion
from toree_interpreters.spark.catalog import CatalogNames
from toree_interpreters.sql import completion, embedded
from toree_interpreters.sql.context import TableRef, analyze, quote


def at(marked: str) -> tuple[str, int]:
    """The text without its ``|`` and the cursor where the ``|`` was."""
    return marked.replace("|", ""), marked.index("|")


# Where the cursor is ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("marked", "kind", "prefix", "qualifier"),
    [
        ("select na| from people_sql", "column", "na", None),
        ("select * from peo|", "table", "peo", None),
        ("SELECT * FROM people_sql WHERE ag|", "column", "ag", None),
        ("select p.| from people_sql p", "column", "", "p"),
        ("select count(na|) from t", "column", "na", None),
        ("select extract(year from d|) from t", "column", "d", None),  # FROM inside a call: no table
        ("select upp|", "column", "upp", None),
        ("sel|", "keyword", "sel", None),
        ("|", "keyword", "", None),
        ("select * from db.pe|", "table", "pe", "db"),
        ("select * from cat.`my db`.pe|", "table", "pe", "cat.`my db`"),
        ("select * from people |", "keyword", "", None),  # WHERE, JOIN ... or an alias
        ("select * from a, b|", "table", "b", None),
        ("select * from a join b|", "table", "b", None),
        ("select * from (sel|", "keyword", "sel", None),
        ("select 'abc|", "none", "", None),  # in a string
        ("select 'it\\'s|", "none", "", None),
        ("select 'a' |", "keyword", "", None),  # after an operand: FROM, AS, AND ...
        ("select * fr|", "keyword", "fr", None),
        ("select a, count(*) fr|", "keyword", "fr", None),
        ("select a *|", "column", "", None),  # a product
        ("select a from t where a = 1 an|", "keyword", "an", None),
        ("select a from t where a = 1 and b|", "column", "b", None),
        ("select distinct na|", "column", "na", None),
        ("select 1 -- comment|\n", "none", "", None),
        ("select 1 /* open|", "none", "", None),
        ("select 1 /* closed */, |", "column", "", None),
        ("select a as b|", "none", "b", None),  # naming an alias
        ("select a as b, c| from t", "column", "c", None),
        ("create table ne|", "none", "ne", None),  # a new name
        ("create or replace temp view v as select * from pe|", "table", "pe", None),
        ("insert into pe|", "table", "pe", None),
        ("describe pe|", "table", "pe", None),
        ("drop view pe|", "table", "pe", None),
        ("update t set a|", "column", "a", None),
        ("select * from t1 join t2 using (i|)", "column", "i", None),
        ("select 1; select * from peo|; select 2", "table", "peo", None),
        ("select * from t where id in (|", "column", "", None),
        ("select * from t order by a|", "column", "a", None),
    ],
)
def test_what_goes_at_the_cursor(marked: str, kind: str, prefix: str, qualifier: str | None) -> None:
    where = analyze(*at(marked))
    assert (where.kind, where.prefix, where.qualifier) == (kind, prefix, qualifier)


def test_tables_in_scope_with_aliases_subqueries_and_ctes() -> None:
    where = analyze(*at("select p.na| from people_sql as p join `my db`.orders o on p.id = o.pid"))
    assert where.tables == (TableRef("people_sql", "p"), TableRef("`my db`.orders", "o"))
    assert where.start == 9
    # A subquery sees its own tables and those around it; the query around does not see the subquery's.
    inner = analyze(*at("select * from t where id in (select x| from u)"))
    assert [t.name for t in inner.tables] == ["u", "t"]
    outer = analyze(*at("select y| from t where id in (select x from u)"))
    assert [t.name for t in outer.tables] == ["t"]
    assert analyze(*at("select * from range(10) r where |")).tables == ()  # a table-valued function
    assert analyze(*at("select * from db.pe|")).tables == ()  # what is typed is no table yet
    cte = analyze(*at("with recent as (select * from people) select * from rec|"))
    assert cte.kind == "table" and cte.ctes == ("recent",)


def test_backquotes_and_unicode() -> None:
    where = analyze(*at("select * from `my ta|"))
    assert (where.kind, where.prefix, where.quoted, where.start) == ("table", "my ta", True, 14)
    assert analyze(*at("select * from `done` |")).kind == "keyword"
    where = analyze(*at("select é|, x from ünïcode"))  # positions are code points
    assert (where.prefix, where.start, where.tables) == ("é", 7, (TableRef("ünïcode"),))
    assert [quote(n) for n in ["people", "my table", "a`b", "1x", "é"]] == [
        "people", "`my table`", "`a``b`", "`1x`", "`é`"
    ]


# SQL in Python and Scala strings ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "marked", "text", "tables_only"),
    [
        ("python", 'spark.table("peo|', "peo", True),
        ("python", 'spark.table("peo|")', "peo", True),
        ("python", "df = spark.sql('select na| from people_sql')", "select na from people_sql", False),
        ("python", 'spark.sql("""\nselect *\nfrom peo|\n"""', "\nselect *\nfrom peo\n", False),
        ("python", 'spark.sql(f"select * from {t} where a|', "select * from {t} where a", False),
        ("python", 'spark.read.table( "peo|', "peo", True),
        ("python", 'spark.table("x\nspark.table("peo|', "peo", True),  # an unclosed string ends with its line
        ("python", 'spark.catalog.tableExists("peo|', "peo", True),
        ("scala", 'spark.table("peo|', "peo", True),
        ("scala", 'val df = spark.sql(s"select * from $t where na|")', "select * from $t where na", False),
        ("scala", 'spark.sql("""select\n * from peo|', "select\n * from peo", False),
        ("scala", "val c = '\"'; spark.table(\"peo|", "peo", True),  # a Char literal opens no string
        ("scala", '/* "x */ spark.table("peo|', "peo", True),
    ],
)
def test_sql_strings_in_code(language: embedded.Language, marked: str, text: str, tables_only: bool) -> None:
    code, cursor = at(marked)
    found = embedded.find(code, cursor, language)
    assert found is not None and (found.text, found.tables_only) == (text, tables_only)
    assert code[found.offset : found.offset + len(text)] == text


@pytest.mark.parametrize(
    ("language", "marked"),
    [
        ("python", 'x = "spark.table(" + "peo|'),
        ("python", '# spark.table("peo|'),
        ("python", 'table("peo|'),  # a function of the user's, not Spark's method
        ("python", 'spark.table(b"peo|'),
        ("python", 'spark.table("peo")|'),
        ("python", 'spark.range("peo|'),
        ("scala", '// spark.table("peo|'),
        ("scala", 'println("spark.table(peo|'),
    ],
)
def test_other_strings_and_code_are_not_sql(language: embedded.Language, marked: str) -> None:
    assert embedded.find(*at(marked), language) is None


# Catalog lookups against a fake session -----------------------------------------------------------------
class Rows(list):
    def collect(self) -> list[Any]:
        return list(self)


class FakeSession:
    """Answers the SQL commands and ``table(...).columns`` the catalog lookups use; counts them."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.tables = {"people_sql": ["name", "age"], "my view": ["x"], "orders": ["id", "total"]}
        self.calls: list[str] = []
        self.release = threading.Event()
        self.release.set()

    def sql(self, command: str) -> Rows:
        self.calls.append(command)
        self.release.wait(10)
        time.sleep(self.delay)
        if command.startswith("SHOW TABLES IN global_temp"):
            return Rows([{"tableName": "shared", "isTemporary": True}])
        if command.startswith("SHOW TABLES"):
            return Rows([{"tableName": name, "isTemporary": name != "orders"} for name in self.tables])
        if command == "SHOW DATABASES":
            return Rows([("default",), ("global_temp",)])
        if command == "SHOW FUNCTIONS":
            return Rows([("upper",), ("count",), ("+",), ("spark_catalog.default.my_udf",)])
        raise ValueError(command)

    def table(self, name: str) -> Any:
        self.calls.append(f"table {name}")
        time.sleep(self.delay)
        columns = self.tables.get(name.strip("`").replace("``", "`"))
        if columns is None:
            raise LookupError(f"no table {name}")
        return type("DF", (), {"columns": columns})()


class FakeManager:
    def __init__(self, session: Any = None) -> None:
        self.session_if_ready = session
        self.waited: list[float] = []

    def wait_ready(self, timeout: float) -> bool:
        self.waited.append(timeout)
        return self.session_if_ready is not None


def names_for(session: Any, wait: float = 2.0, first_wait: float | None = None) -> CatalogNames:
    manager = FakeManager(session)
    return CatalogNames(manager, wait=wait, first_wait=wait if first_wait is None else first_wait)  # type: ignore[arg-type]


def complete(marked: str, names: CatalogNames, **kw: Any) -> Completion:
    return completion.complete(*at(marked), names, **kw)


def test_catalog_names_in_each_place() -> None:
    names = names_for(FakeSession())
    assert complete("select na| from people_sql", names).matches == ["name"]
    assert complete("SELECT * FROM peo|", names).matches == ["people_sql"]
    assert complete("select * from my|", names).matches == ["`my view`"]  # quoted as SQL needs
    assert complete("select * from `my v|", names).matches == ["`my view`"]
    found = complete("select * from `my v|", names)
    assert (found.cursor_start, found.cursor_end) == (14, 19)  # the backquote typed is replaced too
    assert complete("select p.| from people_sql p", names).matches == ["age", "name"]
    assert complete("select o.t| from people_sql p join orders o on p.id = o.id", names).matches == ["total"]
    assert complete("select * from global_temp.sh|", names).matches == ["shared"]
    assert complete("select upp|", names).matches == ["upper"]
    assert complete("select my_|", names).matches == ["my_udf"]  # a persistent function, unqualified
    assert complete("SEL|", names).matches == ["SELECT"]
    after_table = complete("select * from people_sql |", names).matches
    assert {"where", "join", "group"} <= set(after_table) and "people_sql" not in after_table
    assert complete("select 'peo|", names).matches == []
    found = complete("select a| from people_sql", names)
    types = [(t["text"], t["type"]) for t in found.metadata["_jupyter_types_experimental"]]
    assert types[0] == ("age", "column") and ("and", "keyword") in types  # columns, functions, keywords
    assert [t for t, kind in types if kind == "function"] == []  # the fake has no function starting with a
    assert found.matches == [t for t, _ in types]


def test_without_a_session_keywords_only_at_once() -> None:
    manager = FakeManager(None)
    names = CatalogNames(manager, wait=5)  # type: ignore[arg-type]
    started = time.monotonic()
    assert complete("sel|", names).matches == ["select"]
    assert complete("select * from peo|", names).matches == []
    assert time.monotonic() - started < 1  # no session is waited for unless one is starting


def test_a_slow_catalog_is_not_waited_for_beyond_the_bound() -> None:
    session = FakeSession()
    session.release.clear()  # the JVM is busy: nothing answers
    names = names_for(session, wait=0.3)
    started = time.monotonic()
    assert complete("select * from peo|", names).matches == []
    assert time.monotonic() - started < 1.5
    session.release.set()  # the lookup goes on and fills the cache for the next request
    deadline = time.monotonic() + 5
    while complete("select * from peo|", names).matches != ["people_sql"]:
        assert time.monotonic() < deadline
    assert session.calls.count("SHOW TABLES") == 1  # one lookup, not one per request


def test_a_sessions_first_lookup_may_take_longer() -> None:
    session = FakeSession(delay=0.5)
    names = names_for(session, wait=0.1, first_wait=3)
    assert complete("select * from peo|", names).matches == ["people_sql"]  # cold: waited for
    names.invalidate()
    session.tables["later"] = []
    started = time.monotonic()
    assert complete("select * from la|", names).matches == []  # warm: the short wait, then what is known
    assert time.monotonic() - started < 0.45


def test_names_are_cached_and_forgotten_when_a_cell_ends() -> None:
    session = FakeSession()
    names = names_for(session)
    assert names.tables()[0].name == "people_sql"
    names.tables()
    assert session.calls.count("SHOW TABLES") == 1
    session.tables["new_view"] = ["v"]
    names.invalidate()  # a cell ended
    assert "new_view" in [t.name for t in names.tables()]
    assert session.calls.count("SHOW TABLES") == 2
    assert names.columns("no_such_table") == []  # a failed lookup: nothing, and not asked again soon
    assert names.columns("no_such_table") == []
    assert session.calls.count("table no_such_table") == 1
    names.spark.session_if_ready = FakeSession()  # type: ignore[misc]  # the JVM died: a new session
    assert names.tables()[0].name == "people_sql" and session.calls.count("SHOW TABLES") == 2


def test_stale_names_answer_while_the_refresh_is_slow() -> None:
    session = FakeSession()
    names = names_for(session, wait=0.3)
    assert [t.name for t in names.tables()][:1] == ["people_sql"]
    names.invalidate()
    session.release.clear()
    assert [t.name for t in names.tables()][:1] == ["people_sql"]  # the last known list
    session.release.set()


def test_database_names_are_quoted_in_commands() -> None:
    session = FakeSession()
    names = names_for(session)
    names.tables("db; DROP TABLE x")
    names.tables("cat.`my db`")
    assert "SHOW TABLES IN `db; DROP TABLE x`" in session.calls
    assert "SHOW TABLES IN cat.`my db`" in session.calls


# Merging with the language's own completion -------------------------------------------------------------
def test_merged_keeps_both_and_aligns_their_types() -> None:
    code = 'spark.table("peo'
    ours = Completion(["people_sql"], 13, 16, {"_jupyter_types_experimental": [
        {"text": "people_sql", "type": "temp view", "start": 13, "end": 16}]})
    theirs = Completion(['"peo.txt'], 12, 16)  # say, a file name that starts at the quote
    both = completion.merged(code, ours, theirs)
    assert (both.matches, both.cursor_start, both.cursor_end) == (['"people_sql', '"peo.txt'], 12, 16)
    types = both.metadata["_jupyter_types_experimental"]
    assert [(t["text"], t["type"], t["start"]) for t in types] == [
        ('"people_sql', "temp view", 12), ('"peo.txt', "<unknown>", 12)
    ]
    assert completion.merged(code, Completion([], 16, 16), theirs) is theirs
    assert completion.merged(code, ours, Completion([], -1, 16)) is ours  # Scala's "no candidates"


def test_completion_in_code_merges_catalog_names_first() -> None:
    names = names_for(FakeSession())
    own = Completion(["people_other"], 13, 16)
    code, cursor = at('spark.table("peo|")')
    found = completion.complete_in_code(code, cursor, "python", lambda: own, names)
    assert found.matches == ["people_sql", "people_other"] and found.cursor_start == 13
    code, cursor = at('x = spark.ran|')
    elsewhere = Completion(["range"], 10, 13)
    assert completion.complete_in_code(code, cursor, "python", lambda: elsewhere, names) is elsewhere
    code, cursor = at('spark.sql("select na| from people_sql where é = 1")')
    found = completion.complete_in_code(code, cursor, "scala", lambda: Completion([], cursor, cursor), names)
    assert found.matches[0] == "name" and code[found.cursor_start : found.cursor_end] == "na"


def test_the_catalog_is_asked_while_the_language_completes() -> None:
    names = names_for(FakeSession(delay=0.4), wait=0.1)

    def own() -> Completion:  # a slow completer (jedi's first run, the Scala compiler)
        time.sleep(0.8)
        return Completion([], 16, 16)

    assert completion.complete_in_code('spark.table("peo', 16, "python", own, names).matches == ["people_sql"]
