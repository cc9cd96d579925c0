"""Scala cells through IMain in the Spark driver JVM, sharing the session with Python."""

from __future__ import annotations

import threading
import time

import pytest
from interp_support import CollectingSink, tab_until

from toree_interpreters import PySparkInterpreter, ScalaInterpreter, SharedData

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]


class TimedSink(CollectingSink):
    def __init__(self) -> None:
        super().__init__()
        self.times: list[tuple[float, str]] = []

    def stream(self, name: str, text: str) -> None:
        super().stream(name, text)
        self.times.append((time.monotonic(), text))


@pytest.fixture(scope="module")
def shared() -> SharedData:
    return SharedData()


@pytest.fixture(scope="module")
def scala(spark_manager, shared) -> ScalaInterpreter:
    return ScalaInterpreter(spark_manager, shared_data=shared)


def value(scala: ScalaInterpreter, code: str) -> str:
    outcome = scala.execute(code, CollectingSink())
    assert outcome.status == "ok", outcome.error
    return outcome.result["text/plain"]


def echoes(sink: CollectingSink) -> list[str]:
    """Toree's echo of definitions (plain text displays, not the live progress bar)."""
    return [data["text/plain"] for kind, data in sink.events if kind == "display" and "text/html" not in data]


def test_results_render_toree_style(scala) -> None:
    assert value(scala, "1 + 1") == "2"
    sink = CollectingSink()
    assert scala.execute('val greeting = "hi"', sink).result is None  # a definition has no value ...
    assert sink.events == [("display", {"text/plain": "greeting = hi"})]  # ... Toree echoes it
    options = scala.options
    options.show_types = True
    try:
        assert value(scala, "greeting * 2") == "String = hihi\n"  # as Toree: the typed form ends a line
        sink = CollectingSink()
        scala.execute("val n = 3\ncase class Point(x: Int)", sink)
        assert sink.events == [("display", {"text/plain": "n: Int = 3\ndefined class Point"})]
    finally:
        options.show_types = False
    options.show_output = False
    try:
        sink = CollectingSink()
        scala.execute("val quiet = 1", sink)
        assert sink.events == []
    finally:
        options.show_output = True
    long = '(1 to 400).mkString(",")'
    assert len(value(scala, long)) < 1000  # the REPL shortens long values ...
    options.truncation = False
    try:
        assert value(scala, long) == ",".join(str(i) for i in range(1, 401))  # ... unless truncation is off
    finally:
        options.truncation = True


def test_values_for_magics(scala) -> None:
    scala.execute("val answer = 42", CollectingSink())
    assert scala.value("answer") == 42
    assert scala.value("answer + 1") == 43
    assert scala.value("spark.range(3)").count() == 3  # a py4j Dataset
    assert scala.evaluate("List(1, 2).sum") == {"text/plain": "3"}  # user_expressions
    with pytest.raises(KeyError):
        scala.value("noSuchName")
    with pytest.raises(ValueError, match="not found"):
        scala.value("noSuchName + 1")


def test_completion_and_inspect(scala) -> None:
    completion = scala.complete("List(1, 2).ma", 13)
    assert {"map", "max"} <= set(completion.matches)
    assert completion.cursor_start == 11
    assert scala.inspect("greeting", 3) == {"text/plain": "greeting: String"}
    assert scala.inspect("no_such_term", 3) is None


def test_closures_and_case_classes_run_on_executors(scala) -> None:
    assert value(scala, "sc.parallelize(1 to 100).map(x => x * 2).sum") == "10100.0"
    assert scala.execute("case class Person(name: String, age: Int)", CollectingSink()).status == "ok"
    assert value(scala, 'Seq(Person("a", 1), Person("b", 2)).toDS().filter(_.age > 1).count()') == "1"


def test_println_streams_while_the_cell_runs(scala) -> None:
    sink = TimedSink()
    ended = None
    outcome = scala.execute('println("first"); Thread.sleep(2000); println("second")', sink)
    ended = time.monotonic()
    assert outcome.status == "ok"
    assert sink.text() == "first\nsecond\n"
    first_at = next(t for t, text in sink.times if "first" in text)
    assert ended - first_at > 1.5, "the first line arrived only when the cell ended"
    err = CollectingSink()
    scala.execute(
        'System.out.println("java out"); System.err.println("java err"); Console.err.println("scala err")',
        err,
    )
    assert err.text("stdout") == "java out\n"
    assert err.text("stderr") == "java err\nscala err\n"


def test_errors_keep_the_interpreter_usable(scala) -> None:
    compile_error = scala.execute('val x: Int = "s"', CollectingSink())
    assert compile_error.error.ename == "CompileError"
    assert "type mismatch" in "\n".join(compile_error.error.traceback)
    runtime = scala.execute("1 / 0", CollectingSink())
    assert runtime.status == "error"
    assert "ArithmeticException" in "\n".join(runtime.error.traceback)
    assert value(scala, "40 + 2") == "42"


def test_temp_views_are_shared_with_python(scala, spark_manager) -> None:
    python = PySparkInterpreter(spark_manager)
    assert (
        scala.execute('spark.range(7).createOrReplaceTempView("from_scala")', CollectingSink()).status == "ok"
    )
    assert python.execute("spark.table('from_scala').count()", CollectingSink()).result == {"text/plain": "7"}
    python.execute("spark.range(3).createOrReplaceTempView('from_python')", CollectingSink())
    assert value(scala, 'spark.table("from_python").count()') == "3"


def test_interrupt_cancels_a_scala_spark_job(scala) -> None:
    threading.Thread(target=lambda: (time.sleep(2), scala.interrupt())).start()
    started = time.monotonic()
    outcome = scala.execute(
        "sc.parallelize(1 to 4, 2).map { x => Thread.sleep(60000); x }.count()", CollectingSink()
    )
    assert outcome.error.ename == "KeyboardInterrupt"
    assert time.monotonic() - started < 20
    assert value(scala, "sc.parallelize(1 to 10).count()") == "10"


def test_is_complete(scala) -> None:
    value(scala, "1")  # the REPL is up: its parser decides
    assert scala.is_complete("val x = 1").status == "complete"
    assert scala.is_complete("def f(x: Int) = {").status == "incomplete"
    assert scala.is_complete("val x =").status == "incomplete"
    assert scala.is_complete("}").status == "invalid"
    assert scala.is_complete("case class Foo(bar)").status == "invalid"
    assert scala.is_complete("* 6").status == "invalid"
    assert scala.is_complete("6 * ").status == "incomplete"
    assert scala.is_complete("case class Foo(bar: ").status == "incomplete"
    assert scala.is_complete('val s = """multi').status == "incomplete"
    assert scala.is_complete("val a = 1\nval b = a +\n  2").status == "complete"
    assert scala.is_complete("// just a note").status == "complete"


def test_a_cell_runs_statement_by_statement(scala) -> None:
    """As spark-shell: a case class is complete before the next statement builds a typed Dataset of it."""
    code = (
        "case class Person(name: String, age: Int)\n"
        'val people = Seq(Person("a", 50), Person("b", 20)).toDS()\n'
        "people.filter(_.age > 40).map(_.name).collect()"
    )
    sink = CollectingSink()
    outcome = scala.execute(code, sink)
    assert outcome.status == "ok", outcome.error
    assert outcome.result == {"text/plain": "Array(a)"}
    assert echoes(sink) == ["defined class Person\npeople = [name: string, age: int]"]
    assert value(scala, "people.count()") == "2"
    # The statements of a cell share its thread (thread-locals such as Spark's local properties).
    assert value(scala, 'sc.setLocalProperty("toree.test", "same thread")\nsc.getLocalProperty("toree.test")') == (
        "same thread"
    )


def test_a_failing_statement_keeps_the_ones_before_it(scala) -> None:
    sink = CollectingSink()
    failed = scala.execute('val kept = 1\nval wrong: Int = "s"\nval after = 2', sink)
    assert failed.error.ename == "CompileError"
    assert "type mismatch" in failed.error.evalue
    assert echoes(sink) == ["kept = 1"]  # what did run is shown
    assert value(scala, "kept") == "1"
    assert scala.execute("after", CollectingSink()).status == "error"  # never ran
    thrown = scala.execute("val before = 5\nval boom = 1 / 0\nval later = 6", CollectingSink())
    assert "ArithmeticException" in "\n".join(thrown.error.traceback)
    assert value(scala, "before") == "5"


def test_definitions_that_belong_together_stay_together(scala) -> None:
    """Companions, sealed hierarchies and mutually recursive defs compile as one line; multi-line
    expressions, if/else across lines and values in the middle of a cell behave as before."""
    code = (
        "sealed trait Shape\n"
        "case class Square(side: Int) extends Shape\n"
        "object Square { def unit: Square = Square(1) }\n"
        "def isEven(n: Int): Boolean = if (n == 0) true else isOdd(n - 1)\n"
        "def isOdd(n: Int): Boolean = if (n == 0) false else isEven(n - 1)\n"
        "40 + 2  // a value in the middle is computed, not shown\n"
        "val n = spark.range(10)\n"
        '  .filter("id > 3")\n'
        "  .count()\n"
        "if (isEven(n.toInt)) Square.unit\n"
        "else Square(0)"
    )
    outcome = scala.execute(code, CollectingSink())
    assert outcome.status == "ok", outcome.error
    assert outcome.result == {"text/plain": "Square(1)"}
    # One statement's text, though the parser makes several trees of it or starts it after its annotations.
    patterns = (
        "val (first, second) = (1, 2)\n"
        "val Array(train, test) = Array(0.8, 0.2)\n"
        "import scala.annotation.tailrec\n"
        "@tailrec def down(n: Int): Int = if (n == 0) 0 else down(n - 1)\n"
        "@transient lazy val later = 40\n"
        "first + second + down(3) + later + (train + test).toInt"
    )
    assert value(scala, patterns) == "44"


def test_kernel_data_round_trip_between_languages(scala, spark_manager, shared) -> None:
    python = PySparkInterpreter(spark_manager, shared_data=shared)
    python.execute("kernel.data['from_python'] = 'hello'\nkernel.data['n'] = 41", CollectingSink())
    assert value(scala, 'kernel.data.get("from_python")') == "hello"
    scala.execute(
        'kernel.data.put("from_scala", 1 + kernel.data.get("n").asInstanceOf[Int])', CollectingSink()
    )
    assert python.execute("kernel.data['from_scala']", CollectingSink()).result == {"text/plain": "42"}
    bad = python.execute("kernel.data['obj'] = object()", CollectingSink())
    assert bad.error.ename == "TypeError" and "cannot be shared with Scala" in bad.error.evalue


def test_display_from_scala(scala) -> None:
    sink = CollectingSink()
    scala.execute(
        'kernel.display.html("<b>scala</b>"); kernel.display.content("text/markdown", "# md")', sink
    )
    shown = [data for kind, data in sink.events if kind == "display"]
    assert {"text/html": "<b>scala</b>", "text/plain": "<text/html>"} in shown
    assert any(d.get("text/markdown") == "# md" for d in shown)
    cleared = CollectingSink()
    scala.execute("kernel.display.clear_output()", cleared)
    assert ("clear", False) in cleared.events


@pytest.mark.java
def test_interrupt_a_scala_busy_loop(scala) -> None:
    assert value(scala, "1 + 1") == "2"  # Spark and the REPL are up: the time below is the interrupt's
    threading.Thread(target=lambda: (time.sleep(1.5), scala.interrupt())).start()
    started = time.monotonic()
    outcome = scala.execute("var i = 0L; while (true) { i += 1 }", CollectingSink())
    assert outcome.error.ename == "KeyboardInterrupt"
    assert time.monotonic() - started < 15
    assert value(scala, "21 * 2") == "42"


@pytest.mark.java
def test_loops_check_for_interrupts(scala) -> None:
    """The compiler's interrupt checks end a busy loop on any Java (no Thread.stop needed)."""
    for loop in ("while (true) { n += 1 }", "do { n += 1 } while (true)"):
        started = time.monotonic()
        # One statement (a block): a cell's next statement is compiled with the interrupt flag cleared.
        outcome = scala.execute(f"{{ Thread.currentThread.interrupt(); var n = 0L; {loop} }}", CollectingSink())
        assert outcome.error.ename == "ScalaException"
        assert "InterruptedException" in outcome.error.evalue
        assert time.monotonic() - started < 10
    assert value(scala, "var k = 0; while (k < 5) k += 1; k") == "5"  # loops still loop


def test_scala_udf_used_from_sql(scala, spark_manager) -> None:
    assert scala.execute('spark.udf.register("plus_one", (x: Int) => x + 1)', CollectingSink()).status == "ok"
    assert spark_manager.get().sql("SELECT plus_one(41) AS v").first().v == 42


@pytest.mark.java
def test_add_jar_makes_a_class_usable(scala, spark_manager, tmp_path) -> None:
    import shutil
    import subprocess

    if not shutil.which("javac") or not shutil.which("jar"):
        pytest.skip("needs a JDK (javac, jar)")
    src = tmp_path / "src" / "demo"
    src.mkdir(parents=True)
    (src / "Greeter.java").write_text(
        'package demo; public class Greeter { public static String hello(String n) { return "hello " + n; } }'
    )
    classes = tmp_path / "classes"
    subprocess.run(["javac", "-d", str(classes), str(src / "Greeter.java")], check=True)
    jar = tmp_path / "greeter.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(classes), "."], check=True)
    assert scala.execute('demo.Greeter.hello("x")', CollectingSink()).error.ename == "CompileError"
    spark_manager.add_jar(jar.as_uri())
    scala.add_jar(jar.as_uri())
    assert spark_manager.get()._jvm.demo.Greeter.hello("py4j") == "hello py4j"  # Python reaches it too
    assert value(scala, 'demo.Greeter.hello("toree")') == "hello toree"
    assert value(scala, 'sc.parallelize(Seq("a", "b")).map(demo.Greeter.hello).collect().mkString(",")') == (
        "hello a,hello b"
    )


def test_the_jvm_standard_streams_are_put_back_after_a_cell(scala, spark_manager) -> None:
    value(scala, "1")  # the REPL exists
    system = spark_manager.get()._jvm.java.lang.System

    def streams() -> tuple[int, int]:
        return system.identityHashCode(system.out), system.identityHashCode(system.err)

    host = streams()
    sink = CollectingSink()
    scala.execute('System.out.println("in the cell")', sink)
    assert sink.text("stdout") == "in the cell\n"  # redirected while the cell ran ...
    assert streams() == host  # ... and the host's streams are back after it
    scala.execute("System.setOut(new java.io.PrintStream(new java.io.ByteArrayOutputStream()))", CollectingSink())
    assert streams() == host  # a cell's own System.setOut does not outlive the cell


@pytest.mark.java
def test_interrupt_abandons_a_line_that_survives_being_stopped(scala, shared) -> None:
    """Where Thread.stop is gone (Java 20+), or a line catches what it throws, the cell still ends:
    its thread is left running, the cell says so, the REPL stays usable."""
    threading.Thread(target=lambda: (time.sleep(1.5), scala.interrupt())).start()
    started = time.monotonic()
    outcome = scala.execute(
        'while (!kernel.data.containsKey("release")) { try { while (!kernel.data.containsKey("release")) {} }'
        ' catch { case _: Throwable => () } }; println("the abandoned line ended")\n'
        'kernel.data.put("after_abandon", "ran")',  # a later statement of the abandoned cell
        CollectingSink(),
    )
    try:
        assert outcome.error.ename == "KeyboardInterrupt"
        assert "cannot be stopped" in outcome.error.evalue
        assert "restart the kernel" in outcome.error.evalue
        assert time.monotonic() - started < 15
        assert value(scala, "21 * 2") == "42"
    finally:
        shared["release"] = True  # the abandoned loop ends
    time.sleep(1)
    later = CollectingSink()
    scala.execute('println("a later cell")', later)
    assert later.text("stdout") == "a later cell\n"  # what the abandoned line printed stays out of it
    assert "after_abandon" not in shared  # the abandoned cell's next statement never runs


def test_catalog_names_in_spark_sql_and_table_strings(scala) -> None:
    """In a Scala string of ``spark.table(...)``/``spark.sql(...)``: the session's views and columns."""
    assert scala.execute('Seq(("ann", 31)).toDF("name", "age").createOrReplaceTempView("people_scala")',
                         CollectingSink()).status == "ok"
    code = 'val df = spark.table("peo'
    found = tab_until(lambda: scala.complete(code, len(code)), "people_scala", each=15)
    assert (found.matches[0], found.cursor_start) == ("people_scala", 22)
    code = 'spark.sql("""select na from people_scala""")'
    found = tab_until(lambda: scala.complete(code, 22), "name", each=15)
    assert found.matches[0] == "name" and code[found.cursor_start : found.cursor_end] == "na"
