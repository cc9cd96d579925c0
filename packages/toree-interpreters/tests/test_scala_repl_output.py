"""Reading the Scala REPL's reports, without a JVM: the texts below are what IMain's reporter wrote
for these cells on Scala 2.12.18 (pyspark 3.5) and 2.13.18 (pyspark 4.x)."""

from __future__ import annotations

import ast
from importlib.resources import files
from pathlib import Path

import pytest

from toree_interpreters.scala import bridge, interrupt_checks, repl_output
from toree_interpreters.scala.repl_output import Result

LONG = ",".join(str(i) for i in range(1, 223)) + ",22..."

# cell: (Scala 2.12 report, Scala 2.13 report), all answered Success
SUCCESS = {
    "1 + 1": ("res0: Int = 2\n", "val res0: Int = 2\n"),
    'val greeting = "hi"': ("greeting: String = hi\n", "val greeting: String = hi\n"),
    "val n = 3\ncase class Point(x: Int)": ("n: Int = 3\ndefined class Point\n", "val n: Int = 3\nclass Point\n"),
    "var v = 1": ("v: Int = 1\n", "var v: Int = 1\n"),
    "object O": ("defined object O\n", "object O\n"),
    "trait T": ("defined trait T\n", "trait T\n"),
    "type A = Int": ("defined type alias A\n", "type A\n"),
    "def f(x: Int) = x + 1": ("f: (x: Int)Int\n", "def f(x: Int): Int\n"),
    "import scala.util.Try": ("import scala.util.Try\n", "import scala.util.Try\n"),
    "spark.range(3)": (
        "res1: org.apache.spark.sql.Dataset[Long] = [id: bigint]\n",
        "val res1: org.apache.spark.sql.Dataset[Long] = [id: bigint]\n",
    ),
    "spark.range(3).toDF()": (
        "res2: org.apache.spark.sql.DataFrame = [id: bigint]\n",
        "val res2: org.apache.spark.sql.DataFrame = [id: bigint]\n",
    ),
    '(1 to 400).mkString(",")': (f"res3: String = {LONG}\n", f"val res3: String = {LONG}\n"),
    '@deprecated("x", "1") def old = 1; old': (
        "warning: one deprecation (since 1); for details, enable `:setting -deprecation' or `:replay "
        "-deprecation'\nold: Int\nres5: Int = 1\n",
        "warning: 1 deprecation (since 1); for details, enable `:setting -deprecation` or `:replay "
        "-deprecation`\ndef old: Int\nval res5: Int = 1\n",
    ),
}
COMPILE_ERROR = (
    '<console>:16: error: type mismatch;\n found   : String("s")\n required: Int\n'
    '       val x: Int = "s"\n                    ^\n',
    '                    ^\n       error: type mismatch;\n        found   : String("s")\n        required: Int\n',
)
RUNTIME_ERROR = (
    "java.lang.ArithmeticException: / by zero\n  ... 31 elided\n",
    "java.lang.ArithmeticException: / by zero\n  ... 29 elided\n",
)
VERSIONS = pytest.mark.parametrize("version", [0, 1], ids=["2.12", "2.13"])


def report(cell: str, version: int) -> str:
    return SUCCESS[cell][version]


@VERSIONS
def test_a_cells_value_is_its_last_res(version: int) -> None:
    assert repl_output.result(report("1 + 1", version)) == Result("res0", "Int", "2")
    assert repl_output.result(report('@deprecated("x", "1") def old = 1; old', version)) == Result(
        "res5", "Int", "1"
    )
    assert repl_output.result(report('(1 to 400).mkString(",")', version)) == Result("res3", "String", LONG)
    for definition in ('val greeting = "hi"', "def f(x: Int) = x + 1", "object O", "import scala.util.Try"):
        assert repl_output.result(report(definition, version)) is None
    assert repl_output.result("res0: Int = 1\nres1: String = two\n  lines\n") == Result("res1", "String", "two\n  lines")


@VERSIONS
def test_dataframes_and_datasets_are_recognised(version: int) -> None:
    for cell in ("spark.range(3)", "spark.range(3).toDF()"):
        found = repl_output.result(report(cell, version))
        assert found is not None and found.is_dataframe
    assert not Result("res0", "Seq[org.apache.spark.sql.Row]", "List()").is_dataframe
    assert Result("res0", "DataFrame", "[id: bigint]").is_dataframe
    assert Result("res1", "org.apache.spark.sql.connect.DataFrame", "[id: bigint]").is_dataframe  # Connect client


def test_show_types_puts_the_type_before_the_value() -> None:
    found = Result("res0", "String", "hihi")
    assert found.text(show_types=False) == "hihi"
    assert found.text(show_types=True) == "String = hihi\n"  # Toree ends the typed form with a newline
    assert found.text(show_types=True, value="the whole value") == "String = the whole value\n"


@VERSIONS
def test_the_echo_of_definitions_reads_the_same_on_both_versions(version: int) -> None:
    def echo(cell: str, show_types: bool = False) -> str:
        return repl_output.echo(report(cell, version), show_types=show_types)

    assert echo('val greeting = "hi"') == "greeting = hi"
    assert echo('val greeting = "hi"', show_types=True) == "greeting: String = hi"
    assert echo("val n = 3\ncase class Point(x: Int)", show_types=True) == "n: Int = 3\ndefined class Point"
    assert echo("var v = 1") == "v = 1"
    assert echo("object O") == "defined object O"
    assert echo("trait T") == "defined trait T"
    assert echo("type A = Int") == ("defined type alias A", "defined type A")[version]
    assert echo("1 + 1") == ""  # the value is the result, not an echo
    assert echo("import scala.util.Try") == ""
    assert echo("def f(x: Int) = x + 1") == SUCCESS["def f(x: Int) = x + 1"][version].rstrip("\n")
    warning, signature = echo('@deprecated("x", "1") def old = 1; old').splitlines()
    assert warning.startswith("warning:") and "deprecation" in warning
    assert signature in ("old: Int", "def old: Int")


def test_the_echo_uses_whole_values_when_asked() -> None:
    whole = {"greeting": "h" * 500}
    assert repl_output.echo("val greeting: String = hhh...\n", show_types=False, full_value=whole.get) == (
        "greeting = " + "h" * 500
    )
    assert repl_output.echo("defined module M\n", show_types=False) == "defined object M"


@VERSIONS
def test_failures(version: int) -> None:
    compile_error = repl_output.failure("Error", COMPILE_ERROR[version])
    assert compile_error.ename == "CompileError"
    assert "type mismatch" in compile_error.evalue
    assert compile_error.traceback == COMPILE_ERROR[version].rstrip("\n").splitlines()
    runtime = repl_output.failure("Error", RUNTIME_ERROR[version])
    assert runtime.ename == "ScalaException"
    assert runtime.evalue == "java.lang.ArithmeticException: / by zero"
    assert "ArithmeticException" in runtime.traceback[0]
    incomplete = repl_output.failure("Incomplete", "")
    assert incomplete.ename == "Incomplete" and "incomplete" in incomplete.evalue
    assert incomplete.traceback == []
    assert repl_output.failure("Error", "       error: not found: value x\n").evalue == "not found: value x"


def test_a_failure_always_says_something() -> None:
    silent = repl_output.failure("Error", "")
    assert silent.ename == "ScalaException" and silent.evalue


def test_only_comments() -> None:
    for code in ["", "  \n", "// a", "/* b */", "\n// a\n/* b\n c */\n"]:
        assert repl_output.only_comments(code), code
    for code in ["1", "val x = 1 // c", "/* b */ x", "// a\nx", "/* unterminated"]:
        assert not repl_output.only_comments(code), code


def test_first_line_skips_blanks_and_carets() -> None:
    assert repl_output.first_line("\n   ^\n  error: not found: value q\nmore\n") == "error: not found: value q"
    assert repl_output.first_line("") == ""


def test_term_types_lose_the_repl_accessor() -> None:
    assert repl_output.term_type("()String") == "String"  # 2.12
    assert repl_output.term_type("(): String") == "String"  # 2.13
    assert repl_output.term_type("=> Int") == "Int"
    assert repl_output.term_type("(x: Int)Int") == "(x: Int)Int"  # a def keeps its signature
    assert repl_output.term_type("<notype>") is None
    assert repl_output.term_type("") is None


def test_word_at_the_cursor() -> None:
    assert repl_output.word_at("greeting", 3) == "greeting"
    assert repl_output.word_at("val x = my_val.size", 10) == "my_val"
    assert repl_output.word_at("a + b", 2) == ""
    assert repl_output.word_at("abc", 99) == "abc"


def test_is_complete() -> None:
    assert repl_output.is_complete("val x = 1") == "complete"
    assert repl_output.is_complete("def f(x: Int) = {") == "incomplete"
    assert repl_output.is_complete("val x =") == "incomplete"
    assert repl_output.is_complete("xs.map(_ + 1).") == "incomplete"
    assert repl_output.is_complete("}") == "invalid"
    assert repl_output.is_complete("6 * ") == "incomplete"  # more is coming after an operator
    assert repl_output.is_complete("val n = 6 // the answer =") == "complete"  # not in a comment
    assert repl_output.is_complete('val s = "a // b" +') == "incomplete"
    assert repl_output.is_complete("val c = 1 /* note */") == "complete"


def test_a_cell_is_cut_where_the_parser_says_lines_start() -> None:
    code = "// a note\ncase class P(x: Int)\nval ps = Seq(P(1))\nps.size"
    starts = [code.index("val"), code.index("ps.size")]
    assert repl_output.cut(code, starts) == ["// a note\ncase class P(x: Int)\n", "val ps = Seq(P(1))\n", "ps.size"]
    assert repl_output.cut(code, []) == [code]
    emoji = 'val smile = "\U0001F600"\nsmile.length'  # Java counts the emoji as two UTF-16 units
    assert repl_output.cut(emoji, [len(emoji.split("\n")[0]) + 2]) == ['val smile = "\U0001F600"\n', "smile.length"]


def test_the_scala_bridge_is_packaged_scala() -> None:
    for name in (*bridge.RESOURCES, bridge.WARMUP, interrupt_checks.SOURCE, interrupt_checks.DESCRIPTOR):
        assert files("toree_interpreters.scala").joinpath("resources", name).is_file()
    cells = bridge.scala_source("cells.scala")
    assert "class ToreeRunner" in cells and "val toreeRunner" in cells
    assert "val kernel = new ToreeKernel" in bridge.scala_source("kernel.scala")
    assert "object ToreeStatements" in bridge.scala_source("statements.scala")
    first, second = bridge.warmup_source(1), bridge.warmup_source(2)
    assert "case class W1(" in first and "foldLeft(1)" in first and "$" not in first
    assert "case class W2(" in second


def test_no_long_program_hides_in_a_python_string() -> None:
    """Scala (or any other program) lives in its own files, not in Python string literals."""
    package = Path(bridge.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert node.value.count("\n") < 30, f"a {node.value.count(chr(10))}-line string in {module.name}"


def test_the_interrupt_check_plugin_is_compiled_once_per_scala_version(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TOREE_SCALA_CACHE", str(tmp_path))
    assert interrupt_checks.cache_root() == tmp_path
    key = interrupt_checks.plugin_key("2.13.18")
    assert key.startswith("interrupt-checks-2.13.18-") and key != interrupt_checks.plugin_key("2.12.18")
    compiled = tmp_path / key
    (compiled / "toree_plugin").mkdir(parents=True)
    (compiled / interrupt_checks.DESCRIPTOR).write_text("<plugin/>")
    assert interrupt_checks.plugin_dir(None, "2.13.18") == compiled  # cached: no JVM needed
    assert interrupt_checks.compiler_options(compiled) == (
        f"-Xplugin:{compiled} -Xplugin-require:toree-interrupt-checks"
    )


def test_without_a_compiler_there_are_no_interrupt_checks(tmp_path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("TOREE_SCALA_CACHE", str(tmp_path))
    assert interrupt_checks.plugin_dir(object(), "2.13.18") is None  # not a session: compiling fails
    assert "interrupt checks are unavailable" in caplog.text
    assert list(tmp_path.iterdir()) == []  # nothing half-compiled left behind
