"""Session manager modes and clean shutdown, each with its own manager."""

from __future__ import annotations

import os
import time

import psutil
import pytest
from interp_support import SPARK_ARGS, CollectingSink

from toree_interpreters import PySparkInterpreter, SparkSessionManager, SparkUnavailable
from toree_interpreters.spark.java import required_java

# Only the tests that start a JVM are marked spark: the others (modes, errors, options) run without Spark.
pytestmark = pytest.mark.timeout(180)


def java_children() -> set[int]:
    """Live JVM descendants of this process (zombies and processes that just exited don't count)."""
    found = set()
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and "java" in " ".join(proc.cmdline()):
                found.add(proc.pid)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.spark
@pytest.mark.java
def test_lazy_mode_starts_spark_only_when_a_cell_uses_it_and_stop_leaves_no_jvm() -> None:
    before = java_children()
    manager = SparkSessionManager(SPARK_ARGS, init_mode="lazy")
    python = PySparkInterpreter(manager)
    python.start()
    try:
        assert python.execute("1 + 1", CollectingSink()).result == {"text/plain": "2"}
        assert not manager.is_ready
        assert python.execute("spark.range(4).count()", CollectingSink()).result == {"text/plain": "4"}
        assert manager.is_ready and manager.ready_at is not None
        assert java_children() - before, "no JVM child while Spark runs?"
    finally:
        python.shutdown()
        manager.stop()
    deadline = time.monotonic() + 10
    while java_children() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not java_children() - before
    manager.stop()  # idempotent


@pytest.mark.spark
@pytest.mark.java
def test_stop_while_the_session_starts_kills_the_launch_and_a_later_session_starts() -> None:
    from pyspark import SparkContext

    if SparkContext._gateway is not None:
        pytest.skip("another test's Spark session is up in this process: there would be no launch to stop")
    before = java_children()
    manager = SparkSessionManager(SPARK_ARGS, init_mode="eager")
    manager.start()
    deadline = time.monotonic() + 60
    while not java_children() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert java_children() - before, "the launch started no JVM"
    started = time.monotonic()
    manager.stop()
    stopped_in = time.monotonic() - started
    assert not manager.is_ready
    with pytest.raises(SparkUnavailable, match="stopped while it started"):
        manager.get(timeout=5)
    deadline = time.monotonic() + 5
    while java_children() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not java_children() - before, "a JVM of the stopped launch survived"
    assert stopped_in < 5, f"stop waited {stopped_in:.1f} s for the session to come up"
    # pyspark forgot the killed JVM: a new session in this process launches a JVM of its own
    again = SparkSessionManager(SPARK_ARGS, init_mode="lazy")
    try:
        assert again.get(timeout=120).range(3).count() == 3
    finally:
        again.stop()


@pytest.mark.spark
@pytest.mark.java
def test_eager_start_returns_at_once() -> None:
    manager = SparkSessionManager(SPARK_ARGS, init_mode="eager")
    try:
        started = time.monotonic()
        manager.start()
        assert time.monotonic() - started < 1.0
        assert not manager.is_ready  # the JVM is still starting in the background
        assert manager.get(timeout=120).range(2).count() == 2
    finally:
        manager.stop()


def test_none_mode_gives_a_clear_error() -> None:
    manager = SparkSessionManager(SPARK_ARGS, init_mode="none")
    python = PySparkInterpreter(manager)
    outcome = python.execute("spark.range(1).count()", CollectingSink())
    assert outcome.error.ename == "SparkUnavailable"
    assert "--nosparkcontext" in outcome.error.evalue
    assert python.execute("'python still works'", CollectingSink()).status == "ok"
    with pytest.raises(SparkUnavailable):
        manager.get()


@pytest.mark.parametrize("mode", ["lazy", "none"])
def test_wait_ready_never_starts_a_session(mode: str) -> None:
    """Completion right after start-up waits for a session that is starting, never for one nobody started."""
    manager = SparkSessionManager(SPARK_ARGS, init_mode=mode)
    started = time.monotonic()
    assert manager.wait_ready(30) is False
    assert time.monotonic() - started < 1
    assert not manager.is_ready
    manager.stop()


def test_bad_init_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="init_mode"):
        SparkSessionManager(init_mode="sometimes")


def test_missing_java_is_explained(monkeypatch) -> None:
    monkeypatch.setenv("JAVA_HOME", "/nonexistent/jdk")
    manager = SparkSessionManager(SPARK_ARGS, init_mode="lazy")
    with pytest.raises(SparkUnavailable, match=f"Java {required_java()} or newer"):
        manager.get(timeout=30)


@pytest.mark.timeout(60)
def test_java_older_than_17_is_refused_at_start_with_what_to_install(tmp_path, monkeypatch) -> None:
    """A fake JAVA_HOME whose java reports 11: the eager start fails at once, before any JVM is launched,
    and says which Java was found, that 17 is needed, and how to get it; nothing was launched."""
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    before = java_children()
    manager = SparkSessionManager(SPARK_ARGS, init_mode="eager")
    manager.start()
    try:
        with pytest.raises(SparkUnavailable) as info:
            manager.get(timeout=30)
    finally:
        manager.stop()
    message = str(info.value)
    assert f"Java 11.0.22 at {java} is too old" in message, message
    assert "need Java 17 or newer" in message and "JAVA_HOME" in message and "restart the kernel" in message
    assert not java_children() - before


@pytest.mark.spark
def test_python_udfs_do_not_warn_about_missing_arrow(spark_manager) -> None:
    import importlib.util
    import warnings

    from pyspark.sql import functions as F

    if importlib.util.find_spec("pyarrow") and importlib.util.find_spec("pandas"):
        pytest.skip("pyarrow and pandas are installed: Arrow UDFs may be on")
    session = spark_manager.get()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plus_one = F.udf(lambda x: x + 1, "long")
        assert [r[0] for r in session.range(2).select(plus_one("id")).collect()] == [1, 2]
    assert not [w for w in caught if "Arrow" in str(w.message)]


def test_spark_connect_url_from_the_options_or_spark_remote(monkeypatch) -> None:
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    assert SparkSessionManager(["--master", "local[1]"], init_mode="none").remote is None
    monkeypatch.setenv("SPARK_REMOTE", "sc://env:1")
    assert SparkSessionManager(["--master", "local[1]"], init_mode="none").remote == "sc://env:1"
    assert SparkSessionManager(["--remote", "sc://a:1", "--remote=sc://b:2"], init_mode="none").remote == "sc://b:2"


def test_spark_connect_without_its_client_libraries_is_explained() -> None:
    import importlib.util

    if importlib.util.find_spec("grpc") and importlib.util.find_spec("pandas"):
        pytest.skip("the Spark Connect client's dependencies are installed here (tests/test_spark_connect.py runs it)")
    manager = SparkSessionManager(["--remote", "sc://127.0.0.1:1"], init_mode="lazy")
    outcome = PySparkInterpreter(manager).execute("spark.range(1).count()", CollectingSink())
    assert outcome.error.ename == "SparkUnavailable"
    assert "pyspark[connect]" in outcome.error.evalue


@pytest.mark.spark
def test_a_killed_jvm_is_reported_and_the_next_cell_gets_a_new_session() -> None:
    """SIGKILL the JVM mid-cell and between cells: a short SparkUnavailable, then a new session (announced)."""
    from toree_interpreters import ScalaInterpreter, SQLInterpreter

    manager = SparkSessionManager(SPARK_ARGS, init_mode="lazy")
    python, sql = PySparkInterpreter(manager), SQLInterpreter(manager)
    scala = ScalaInterpreter(manager)
    scala.warmup_compiles = 0
    python.start()
    try:
        assert python.execute("spark.range(3).count()", CollectingSink()).result == {"text/plain": "3"}
        assert scala.execute("val kept = 41 + 1", CollectingSink()).status == "ok"
        first = manager.get()
        jvm = psutil.Process(first.sparkContext._gateway.proc.pid)
        killer = __import__("threading").Timer(3.0, jvm.kill)
        killer.start()
        sink = CollectingSink()
        outcome = python.execute("spark.range(1).selectExpr('java_method(\"java.lang.Thread\", \"sleep\", 60000L)').collect()", sink)
        killer.join()
        assert outcome.status == "error" and outcome.error.ename == "SparkUnavailable", outcome
        assert "Spark JVM died" in outcome.error.evalue and len(outcome.error.traceback) == 1
        sink = CollectingSink()
        assert python.execute("spark.range(5).count()", sink).result == {"text/plain": "5"}
        assert "started a new one" in "".join(t for k, t in sink.events if k == "stderr")
        assert manager.get() is not first and manager.generation == 2
        # Between cells, the Scala and SQL interpreters notice too; Scala's old state is gone.
        psutil.Process(manager.get().sparkContext._gateway.proc.pid).kill()
        time.sleep(1)
        sink = CollectingSink()
        outcome = scala.execute("kept", sink)
        assert outcome.status == "error" and "not found" in outcome.error.evalue, outcome
        assert "started a new one" in "".join(t for k, t in sink.events if k == "stderr")
        assert scala.execute("spark.range(7).count()", CollectingSink()).result == {"text/plain": "7"}
        psutil.Process(manager.get().sparkContext._gateway.proc.pid).kill()
        time.sleep(1)
        assert "8" in str(sql.execute("SELECT 8 AS n", CollectingSink()).result)
        assert manager.generation == 4
    finally:
        python.shutdown()
        scala.shutdown()
        manager.stop()
