"""R cells in the real SparkR kernel: output as IRkernel gives it, interrupts, q(), the shared session."""

from __future__ import annotations

import threading
import time

import pytest
from kernel_support import Kernel, stderr_of

pytestmark = pytest.mark.timeout(600)


def outputs_of(kind: str, outputs: list[dict]) -> list[dict]:
    return [m["content"] for m in outputs if m["msg_type"] == kind]


def test_values_have_irkernel_mime_bundles_and_rich_display_can_be_off(r: Kernel) -> None:
    content, outputs = r.run("data.frame(a = 1:2, b = c('x', NA))")
    assert content["status"] == "ok"
    [result] = outputs_of("execute_result", outputs)
    assert set(result["data"]) == {"text/plain", "text/html", "text/markdown", "text/latex"}
    assert "<table" in result["data"]["text/html"] and "| a &lt;int&gt; |" in result["data"]["text/markdown"]
    assert r.value("getOption('jupyter.in_kernel')") == "[1] TRUE"
    try:
        r.ok("options(jupyter.rich_display = FALSE)")
        _, outputs = r.run("data.frame(a = 1:2)")
        assert list(outputs_of("execute_result", outputs)[0]["data"]) == ["text/plain"]
    finally:
        r.ok("options(jupyter.rich_display = TRUE)")
    # every visible value is shown, as R's console would, the last one as the cell's result
    _, outputs = r.run("1\ninvisible(2)\n'three'")
    assert [d["data"]["text/plain"] for d in outputs_of("display_data", outputs)] == ["[1] 1"]
    assert outputs_of("execute_result", outputs)[0]["data"]["text/plain"] == "[1] \"three\""


def test_plots_are_images_with_their_size_and_the_mimetypes_asked_for(r: Kernel) -> None:
    _, outputs = r.run("plot(1:10)\nlines(1:10)")  # one figure, drawn in two steps
    [plot] = outputs_of("display_data", outputs)
    assert plot["data"]["image/png"] and plot["metadata"]["image/png"] == {"width": 420, "height": 420}
    _, outputs = r.run("plot(1:3)\nhist(rnorm(10))")  # two figures
    assert len(outputs_of("display_data", outputs)) == 2
    try:
        r.ok("options(jupyter.plot_mimetypes = c('text/plain', 'image/svg+xml'), repr.plot.width = 4)")
        _, outputs = r.run("plot(1:3)")
        [svg] = outputs_of("display_data", outputs)
        assert "<svg" in svg["data"]["image/svg+xml"] and "image/png" not in svg["data"]
        assert svg["metadata"]["image/svg+xml"]["width"] == 240
    finally:
        r.ok("options(jupyter.plot_mimetypes = c('text/plain', 'image/png'), repr.plot.width = 7)")
    # ggplot2 (r-cran-ggplot2, which .ci/run installs): a ggplot value is drawn, not printed
    _, outputs = r.run("library(ggplot2)\nggplot(data.frame(x = 1:3, y = 3:1), aes(x, y)) + geom_point()")
    [gg] = outputs_of("display_data", outputs)
    assert gg["data"]["image/png"] and not outputs_of("execute_result", outputs)


def test_warnings_messages_and_errors_in_rs_words_and_state_survives(r: Kernel) -> None:
    result, stderr = r.ok("log(-1)")
    assert result == "[1] NaN" and stderr == "Warning message:\nIn log(-1) : NaNs produced\n"
    _, stderr = r.ok("f <- function(x) { warning('first'); warning('second'); x }\ny <- f(1)")
    assert stderr == "Warning messages:\n1: In f(1) : first\n2: In f(1) : second\n"
    _, stderr = r.ok("message('a note')")
    assert stderr == "a note\n"
    r.ok("kept <- 41")
    error = r.error("g <- function() h()\nh <- function() stop('deep down')\nkept <- kept + 1\ng()")
    assert error["evalue"] == "deep down"
    assert error["traceback"][0] == "Error in h() : deep down"
    assert error["traceback"][-2:] == ["1. g()", "2. h()"]
    assert r.value("kept") == "[1] 42"  # what ran before the error stays done
    error = r.error("x y")
    assert error["ename"] == "ParseError" and "unexpected symbol" in error["evalue"]
    assert r.value("kept") == "[1] 42"


def test_print_and_cat_reach_the_client_while_the_cell_runs(r: Kernel) -> None:
    arrivals: list[tuple[float, str]] = []

    def hook(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            arrivals.append((time.monotonic(), msg["content"]["text"]))

    r.kc.execute_interactive("for (i in 1:3) { cat('step', i, '\\n'); Sys.sleep(0.8) }", output_hook=hook, timeout=60)
    ended = time.monotonic()
    assert "".join(text for _, text in arrivals) == "step 1 \nstep 2 \nstep 3 \n"
    assert ended - arrivals[0][0] > 1.5, "the first line came only when the cell ended"


def test_interrupt_stops_an_r_loop_within_2_s_and_the_session_goes_on(r: Kernel) -> None:
    r.ok("before <- 'still here'")
    interrupted_at: list[float] = []

    def interrupt() -> None:
        interrupted_at.append(time.monotonic())
        r.km.interrupt_kernel()

    threading.Timer(1.0, interrupt).start()
    content, _ = r.run("while (TRUE) {}", timeout=60)
    assert content["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - interrupted_at[0] < 2.0
    assert r.value("before") == '[1] "still here"'


def test_q_ends_r_with_a_clear_error_and_the_kernel_and_spark_go_on(r: Kernel) -> None:
    r.ok("createOrReplaceTempView(sql('SELECT 7 AS n'), 'kept_view')\nr_variable <- 1")
    error = r.error("q()")
    assert error["ename"] == "RExited"
    assert "q()" in error["evalue"] and "new R session" in error["evalue"]
    assert r.value("collect(tableToDF('kept_view'))$n") == "[1] 7"  # a new R, the same Spark session
    error = r.error("r_variable")
    assert "object 'r_variable' not found" in error["evalue"]


def test_a_spark_dataframe_value_shows_its_rows(r: Kernel) -> None:
    _, outputs = r.run("df <- sql('SELECT 1 AS a, \"x\" AS b')\ndf")
    [result] = outputs_of("execute_result", outputs)
    assert result["data"]["text/plain"].startswith("SparkDataFrame[a:int, b:string]\n+---+---+\n|  a|  b|")
    assert "<td>x</td>" in result["data"]["text/html"]
    assert r.stdout("print(df)\nprintSchema(df)\nshowDF(df)") == (
        "SparkDataFrame[a:int, b:string]\n"
        "root\n |-- a: integer (nullable = false)\n |-- b: string (nullable = false)\n\n"
        "+---+---+\n|  a|  b|\n+---+---+\n|  1|  x|\n+---+---+\n\n"
    )
    assert r.value("library(SparkR)\nc(count(df), nrow(df), ncol(df))") == "[1] 1 1 2"


@pytest.mark.spark  # Spark 3.5 collects and creates through other paths
def test_types_cross_both_ways_with_na_as_null(r: Kernel) -> None:
    r.ok(
        "rdf <- data.frame(i = c(1L, NA), d = c(1.5, NA), s = c('a', NA), l = c(TRUE, NA),\n"
        "  dt = as.Date(c('2020-01-02', NA)), ts = as.POSIXct(c('2020-01-02 03:04:05', NA), tz = 'UTC'),\n"
        "  f = factor(c('u', 'v')), stringsAsFactors = FALSE)\n"
        "sdf <- createDataFrame(rdf)"
    )
    assert r.stdout("printSchema(sdf)") == (
        "root\n |-- i: integer (nullable = true)\n |-- d: double (nullable = true)\n"
        " |-- s: string (nullable = true)\n |-- l: boolean (nullable = true)\n"
        " |-- dt: date (nullable = true)\n |-- ts: timestamp (nullable = true)\n"
        " |-- f: string (nullable = true)\n\n"
    )
    assert r.value("back <- collect(sdf)\nall.equal(back, transform(rdf, f = as.character(f)), check.tzone = FALSE)") == "[1] TRUE"
    classes = "paste(sapply({}, function(v) class(v)[[1]]), collapse = ',')"
    assert r.value(classes.format("back")) == '[1] "integer,numeric,character,logical,Date,POSIXct,character"'
    assert r.value("format(back$ts[[1]], tz = 'UTC')") == '[1] "2020-01-02 03:04:05"'
    assert r.value("sum(is.na(back))") == "[1] 6"
    spark_types = (
        "SELECT CAST(1 AS TINYINT) b, CAST(2 AS SMALLINT) s, 3 i, CAST(4 AS BIGINT) l, CAST(0.5 AS FLOAT) f,"
        " 1.25D d, CAST(2.5 AS DECIMAL(4,2)) m, true t, 'x' c, DATE'2021-03-04' dt, array(1, 2) a, NULL n"
    )
    r.ok(f'x <- collect(sql("{spark_types}"))')
    assert r.value(classes.format("x")) == (
        '[1] "integer,integer,integer,numeric,numeric,numeric,numeric,logical,character,Date,character,character"'
    )
    assert r.value("c(x$l, x$m, x$f)") == "[1] 4.0 2.5 0.5"


@pytest.mark.spark
def test_views_pass_between_r_and_every_other_language(r: Kernel) -> None:
    r.ok("createOrReplaceTempView(createDataFrame(data.frame(k = 1:3)), 'from_r')")
    assert r.value("%%PySpark\nspark.table('from_r').count()") == "3"
    assert r.value("%%Scala\nspark.table(\"from_r\").count") == "3"
    assert "|  3|" in r.value("%%SQL\nSELECT count(*) AS n FROM from_r")
    r.ok("%%PySpark\nspark.range(4).createOrReplaceTempView('from_py')")
    r.ok("%%Scala\nspark.range(5).createOrReplaceTempView(\"from_scala\")")
    r.ok("%%SQL\nCREATE OR REPLACE TEMPORARY VIEW from_sql AS SELECT * FROM range(6)")
    assert r.value("sapply(c('from_py', 'from_scala', 'from_sql'), function(v) nrow(collect(tableToDF(v))))") == (
        "   from_py from_scala   from_sql \n         4          5          6 "
    )


@pytest.mark.spark
def test_interrupt_cancels_the_spark_job_an_r_cell_started(r: Kernel) -> None:
    threading.Timer(4.0, r.km.interrupt_kernel).start()
    started = time.monotonic()
    content, _ = r.run(
        "collect(sql(\"SELECT java_method('java.lang.Thread', 'sleep', 60000L) FROM range(0, 2, 1, 2)\"))",
        timeout=90,
    )
    assert content["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - started < 25
    assert r.value("count(sql('SELECT 1'))") == "[1] 1"


def test_r_cells_in_the_pyspark_kernel(py: Kernel, r: Kernel) -> None:
    assert py.value("%%R\nx <- 40 + 2\nx") == "[1] 42"
    assert py.value("%%SparkR\nx + 1") == "[1] 43"  # one R session per kernel
    content, outputs = py.run("%%R\nstop('from R')")
    assert content["status"] == "error" and content["evalue"] == "from R"
    assert stderr_of(outputs) == ""


def test_r_ends_with_the_kernel_also_when_the_kernel_is_killed(r: Kernel) -> None:  # r: skips without R
    """Shutdown takes R along; so does SIGKILL of the kernel (R's parent-death signal, Linux)."""
    import os
    import signal

    import psutil

    with Kernel("apache_toree_sparkr", __TOREE_OPTS__="--nosparkcontext") as k:
        r_pid = int(k.value("Sys.getpid()").removeprefix("[1] "))
        assert r_pid in {p.pid for p in k.tree()}
        started = time.monotonic()
        k.km.shutdown_kernel()
        assert time.monotonic() - started < 5
        assert not psutil.pid_exists(r_pid) or psutil.Process(r_pid).status() == psutil.STATUS_ZOMBIE
    with Kernel("apache_toree_sparkr", __TOREE_OPTS__="--nosparkcontext") as k:
        r_pid = int(k.value("Sys.getpid()").removeprefix("[1] "))
        k.kc.execute("while (TRUE) {}")  # busy: R does not notice its socket closing
        time.sleep(1)
        os.kill(k.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while psutil.pid_exists(r_pid) and psutil.Process(r_pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "R outlived its killed kernel"
            time.sleep(0.1)
