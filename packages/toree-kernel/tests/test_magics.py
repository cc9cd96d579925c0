"""Every built-in magic through the real kernel, in the PySpark and Scala kernels where it applies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kernel_support import Kernel

sys.path.insert(0, str(Path(__file__).parents[2] / "toree-interpreters" / "tests"))  # maven_repo
from maven_repo import build_repo, serve_repo

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]


def outputs_of(kernel: Kernel, code: str) -> list[dict]:
    content, outputs = kernel.run(code)
    assert content["status"] == "ok", content
    return [m for m in outputs if m["msg_type"] != "execute_input"]


def result(kernel: Kernel, code: str, mime: str = "text/plain"):
    found = [m["content"]["data"] for m in outputs_of(kernel, code) if m["msg_type"] == "execute_result"]
    assert found, code
    return found[-1][mime]


def error(kernel: Kernel, code: str) -> dict:
    content, _ = kernel.run(code)
    assert content["status"] == "error", content
    return content


def build_jar(tmp: Path, package: str, cls: str, body: str) -> Path:
    src = tmp / "src" / package / f"{cls}.java"
    src.parent.mkdir(parents=True)
    src.write_text(f"package {package};\npublic class {cls} {{ {body} }}\n")
    subprocess.run(["javac", "-d", str(tmp / "classes"), str(src)], check=True)
    jar = tmp / f"{cls.lower()}.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(tmp / "classes"), "."], check=True)
    return jar


# Listing and help ---------------------------------------------------------------------------------
def test_ls_magic_and_help(py) -> None:
    listing = result(py, "%LsMagic")
    for name in ("%AddJar", "%AddDeps", "%ShowTypes", "%%DataFrame", "%%SQL", "%%Scala", "%%PySpark", "%Hello"):
        assert name in listing
    assert "usage: %AddJar" in result(py, "%AddJar?")
    assert "usage: %%DataFrame" in result(py, "%help DataFrame")


def test_unknown_magic_and_bad_arguments_keep_the_kernel(py) -> None:
    py.run("kept = 'state'")
    assert "Did you mean %AddJar?" in error(py, "%addjr file:///x.jar")["evalue"]
    assert "the following arguments are required" in error(py, "%AddJar -f")["evalue"]
    assert "needs a URL" in error(py, "%AddJar /tmp/not-a-url.jar")["evalue"]
    assert "not supported" in error(py, "%AddJar --magic file:///tmp/x.jar")["evalue"]
    assert "first line" in error(py, "x = 1\n%%SQL\nSELECT 1")["evalue"]
    assert result(py, "kept") == "'state'"


@pytest.mark.parametrize("bare", ["%AddJar", "%AddDeps", "%%DataFrame", "%%DataFrame --limit=3"])
def test_a_bare_magic_prints_its_usage(scala, bare) -> None:
    """As Toree: a magic called without what it needs answers with its usage, not an error."""
    outputs = outputs_of(scala, bare)
    printed = "".join(m["content"]["text"] for m in outputs if m["msg_type"] == "stream")
    assert printed.startswith(f"usage: {bare.split()[0]}"), outputs


def test_percent_operator_is_untouched(py, scala) -> None:
    assert result(py, "x = (10\n%3)\nx % 2") == "1"
    assert result(scala, "10 % 3") == "1"


def test_names_are_case_insensitive(py) -> None:
    assert "Line magics" in result(py, "%lsmagic")
    assert "Line magics" in result(py, "%LSMAGIC")


# Jars ---------------------------------------------------------------------------------------------
@pytest.mark.java
def test_add_jar_reaches_python_scala_and_executors(py, tmp_path) -> None:
    jar = build_jar(tmp_path, "demo.added", "Twice", "public static int twice(int x) { return 2 * x; }")
    text = "".join(m["content"]["text"] for m in outputs_of(py, f"%AddJar {jar.as_uri()}") if m["msg_type"] == "stream")
    assert "Finished download of twice.jar" in text
    assert result(py, "spark._jvm.demo.added.Twice.twice(21)") == "42"  # py4j
    assert result(py, "%%Scala\ndemo.added.Twice.twice(4)") == "8"  # the Scala compiler
    executors = "%%Scala\nsc.parallelize(1 to 3).map(demo.added.Twice.twice).collect().sum"
    assert result(py, executors) == "12"  # tasks on the executors
    again = outputs_of(py, f"%AddJar {jar.as_uri()}")
    assert "Using cached version of twice.jar" in again[0]["content"]["text"]
    forced = outputs_of(py, f"%AddJar {jar.as_uri()} -f")
    assert "Finished download" in "".join(m["content"].get("text", "") for m in forced)
    assert "could not download" in error(py, f"%AddJar {(tmp_path / 'missing.jar').as_uri()}")["evalue"]


@pytest.mark.java
def test_add_jar_over_http_in_the_scala_kernel(scala, tmp_path) -> None:
    jar = build_jar(tmp_path, "demo.web", "Web", 'public static String hi() { return "from http"; }')
    with serve_repo(tmp_path) as base:
        # A line magic and the code using the jar, in one cell.
        assert result(scala, f"%AddJar {base}{jar.name}\ndemo.web.Web.hi()") == "from http"
        assert result(scala, "new demo.web.Web().getClass.getName") == "demo.web.Web"  # and in the next cell
        assert "404" in error(scala, f"%AddJar {base}nothing.jar")["evalue"]


@pytest.mark.skipif(not shutil.which("javac"), reason="needs a JDK to build the Maven repository")
@pytest.mark.java
def test_add_deps_from_a_local_maven_repository(py, tmp_path) -> None:
    repo = build_repo(tmp_path / "m2")
    g = repo.greeter
    code = f"%AddDeps {g.group} {g.artifact} {g.version} --transitive --repository {repo.url}"
    content, outputs = py.run(code, timeout=180)
    assert content["status"] == "ok", (content, outputs)
    assert result(py, f"spark._jvm.{repo.greeter_class}.greet('py4j')") == "'HELLO PY4J!'"
    assert result(py, f'%%Scala\n{repo.greeter_class}.greet("scala")') == "HELLO SCALA!"
    missing = error(py, f"%AddDeps org.example nothing 9.9 --repository {repo.url}")
    assert "org.example:nothing:9.9" in missing["evalue"] and repo.url.rstrip("/") in missing["evalue"]
    assert "needs a URL" in error(py, "%AddDeps a b 1 --repository not-a-url")["evalue"]


# Output switches (Scala) --------------------------------------------------------------------------
def test_show_types_truncation_and_show_output(scala) -> None:
    assert result(scala, "1 + 1") == "2"
    outputs = outputs_of(scala, "%ShowTypes on")
    assert outputs[0]["content"]["text"] == "Types will be printed.\n"
    assert result(scala, "1 + 1") == "Int = 2\n"  # as Toree prints it
    assert "ShowTypes is currently on" in outputs_of(scala, "%ShowTypes")[0]["content"]["text"]
    outputs_of(scala, "%ShowTypes off")
    long = '(1 to 400).mkString(",")'
    assert len(result(scala, long)) < 1000
    outputs_of(scala, "%Truncation off")
    assert len(result(scala, long)) > 1400
    outputs_of(scala, "%Truncation on")
    shown = outputs_of(scala, "val shown = 5")
    assert [m["content"]["data"]["text/plain"] for m in shown if m["msg_type"] == "display_data"] == ["shown = 5"]
    outputs_of(scala, "%ShowOutput off")
    assert outputs_of(scala, "val hidden = 6") == []
    outputs_of(scala, "%ShowOutput on")
    assert "not a valid option" in error(scala, "%ShowTypes maybe")["evalue"]


def test_a_magic_after_comment_lines_runs_as_the_magic(scala) -> None:
    """As in Toree's magic tutorial: comments above a magic are notes, and a comment-only cell is fine."""
    outputs = outputs_of(scala, "// show the types from here on\n%ShowTypes on")
    assert outputs[0]["content"]["text"] == "Types will be printed.\n"
    assert result(scala, "1 + 1") == "Int = 2\n"
    outputs_of(scala, "// turn them off again\n// (two notes)\n%ShowTypes off")
    assert result(scala, "1 + 1") == "2"
    assert outputs_of(scala, "// nothing but a note") == []


# Rich output --------------------------------------------------------------------------------------
def test_html_and_javascript(py) -> None:
    assert result(py, "%%Html\n<b>bold</b>", "text/html") == "<b>bold</b>"
    shown = outputs_of(py, "%%JavaScript\nconsole.log('hi')")
    assert shown[0]["content"]["data"] == {"application/javascript": "console.log('hi')"}


def test_dataframe_magic_in_python(py) -> None:
    py.run("df = spark.createDataFrame([(i, f'<script>alert({i})</script>') for i in range(30)], 'n int, s string')")
    html = result(py, "%%DataFrame\ndf", "text/html")
    assert "&lt;script&gt;alert(0)&lt;/script&gt;" in html and "<script>" not in html
    assert html.count("<tr") == 11  # header + the default limit of 10 rows
    records = result(py, "%%DataFrame --output=json --limit=2\ndf", "application/json")
    assert records == [{"n": 0, "s": "<script>alert(0)</script>"}, {"n": 1, "s": "<script>alert(1)</script>"}]
    csv = result(py, "%%DataFrame --output=csv --limit 3\nsmall = df.where('n < 2')\nsmall")
    assert csv.splitlines() == ["n,s", "0,<script>alert(0)</script>", "1,<script>alert(1)</script>"]
    assert "No variable found with the name nope" in error(py, "%%DataFrame\nnope")["evalue"]
    assert "needs a DataFrame" in error(py, "%%DataFrame\n42")["evalue"]
    assert error(py, "%%DataFrame --output=xml\ndf")["ename"] == "UsageError"


def test_dataframe_magic_in_scala(scala) -> None:
    scala.run("val people = Seq((1, \"ann\"), (2, \"bob\")).toDF(\"id\", \"name\")")
    assert json.loads(json.dumps(result(scala, "%%DataFrame --output=json\npeople", "application/json"))) == [
        {"id": 1, "name": "ann"},
        {"id": 2, "name": "bob"},
    ]
    assert "<th" in result(scala, "%%DataFrame\npeople.where($\"id\" > 1)", "text/html")


# Languages and SQL --------------------------------------------------------------------------------
def test_language_magics_share_one_session_and_kernel_data(py, scala) -> None:
    assert result(py, "%%Scala\nSeq(1, 2, 3).toDF(\"v\").createOrReplaceTempView(\"from_scala\")\n1") == "1"
    assert result(py, "spark.table('from_scala').count()") == "3"
    py.run("spark.range(4).createOrReplaceTempView('from_python')")
    assert result(py, "%%Scala\nspark.table(\"from_python\").count()") == "4"
    py.run("kernel.data['shared'] = 'from python'")
    assert result(py, '%%Scala\nkernel.data.get("shared")') == "from python"
    py.run('%%Scala\nkernel.data.put("back", 7)')
    assert result(py, "kernel.data['back']") == "7"
    assert result(scala, "%%PySpark\n6 * 7") == "42"
    scala.run("%%Python\nspark.range(2).createOrReplaceTempView('py_in_scala_kernel')")
    assert result(scala, 'spark.table("py_in_scala_kernel").count()') == "2"


def test_sql_magic_substitutes_variables(py, scala) -> None:
    table = result(py, "%%SQL\nSELECT 1 AS a, '<b>x</b>' AS b", "text/html")
    assert "&lt;b&gt;x&lt;/b&gt;" in table
    py.run("kernel.data['source'] = 'range'\nlow = 2")
    assert "| id|" in result(py, "%%SQL --limit=5\nSELECT * FROM ${source}(10) WHERE id >= ${low}")
    scala.run("val threshold = 8")
    text = result(scala, "%%SQL\nSELECT count(*) AS n FROM range(10) WHERE id >= ${threshold}")
    assert "|  2|" in text
    assert "unknown variable ${nowhere}" in error(py, "%%SQL\nSELECT ${nowhere}")["evalue"]
    assert error(py, "%%SQL\nSELEC 1")["ename"] == "ParseException"
    assert result(py, "1 + 1") == "2"


def test_catalog_names_complete_in_every_language(py, scala) -> None:
    """A view's name and columns complete in ``spark.table("...")``/``spark.sql("...")`` of PySpark and
    Scala cells and in ``%%sql`` cells (the SQL kernel's room); positions are code points (😀 is two
    UTF-16 units)."""
    view = "%%sql\nCREATE OR REPLACE TEMPORARY VIEW people_sql AS SELECT 'ann' AS name, 31 AS age"
    py.run(view)
    assert tab(py, 'spark.table("peo|', "people_sql")[0] == "people_sql"
    assert tab(py, "%%sql\nselect na| from people_sql", "name")[0] == "name"
    assert tab(py, "# é😀\nspark.sql('select * from people_sql where ag|')", "age")[0] == "age"
    scala.run(view)  # the Scala kernel has a session of its own
    assert tab(scala, 'val df = spark.table("peo|', "people_sql")[0] == "people_sql"
    assert tab(scala, '// é😀\nspark.sql("select na| from people_sql")', "name")[0] == "name"


def tab(kernel: Kernel, marked: str, wanted: str, within: float = 60) -> list[str]:
    """complete_request as a user sends it: again until ``wanted`` is offered (a session's first catalog
    lookups may miss completion's wait on a busy machine); each reply comes back promptly."""
    code, cursor = marked.replace("|", ""), marked.index("|")
    deadline = time.monotonic() + within
    while True:
        started = time.monotonic()
        reply = kernel.kc.complete(code, cursor, reply=True, timeout=30)["content"]
        assert time.monotonic() - started < 15, f"completion took {time.monotonic() - started:.1f} s"
        if wanted in reply["matches"] or time.monotonic() > deadline:
            assert wanted in reply["matches"], reply
            assert reply["cursor_end"] == cursor and wanted.startswith(code[reply["cursor_start"] : cursor])
            return reply["matches"]
        time.sleep(0.2)


# Plugins ------------------------------------------------------------------------------------------
def test_plugin_magic_and_a_broken_plugin(tmp_path) -> None:
    """The installed example plugin works; a plugin that fails to import is listed, the kernel runs."""
    info = tmp_path / "broken_magic_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-magic-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[toree.magics]\nbroken = no_such_module_xyz:magic\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    kernel = Kernel("apache_toree_pyspark", PYTHONPATH=path)
    try:
        listing = result(kernel, "%LsMagic")
        assert "broken from broken-magic-plugin: ModuleNotFoundError" in listing
        assert result(kernel, "%Hello Toree --shout") == "HELLO, TOREE!"
        assert result(kernel, "kernel.data['greeted']") == "'Toree'"
        reversed_ = outputs_of(kernel, "%%Reverse\none\ntwo")
        assert reversed_[0]["content"]["text"] == "two\none\n"
    finally:
        kernel.close()

