"""Faults against the real kernel process (jupyter_client's KernelManager, no mocks): the Spark JVM
killed mid-cell and between cells, driver out of memory, a client vanishing mid-cell, restarts and
SIGTERM. Every kernel goes into ``processes``, whose finalizer kills its whole tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.blocking import BlockingKernelClient
from kernel_support import Kernel, stderr_of

pytestmark = [pytest.mark.spark, pytest.mark.timeout(900)]

# A task that sleeps in the JVM for a minute: "a Spark job is running" for as long as the test needs.
SLOW_JOB = "spark.range(1, numPartitions=1).selectExpr('java_method(\"java.lang.Thread\", \"sleep\", 60000L)').collect()"
NEW_SESSION = "started a new one"


def start(processes: Any, env: dict[str, str], **extra: str) -> Kernel:
    """A PySpark kernel from ``env``'s JUPYTER_PATH (progress off unless ``extra`` says) whose tree
    ``processes`` kills at the end."""
    env = {**env, "TOREE_PROGRESS": "off", **extra}
    return Kernel(env=env, jupyter_path=Path(env["JUPYTER_PATH"]), processes=processes, timeout=300, ready_timeout=120)


def kill_when_running(jvm: psutil.Process, kernel: Kernel, after: float = 3.0) -> threading.Thread:
    """SIGKILL the JVM ``after`` seconds from now (the cell's job is running by then)."""

    def kill() -> None:
        time.sleep(after)
        jvm.kill()

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def assert_jvm_death_reported(content: dict) -> None:
    assert content["status"] == "error", content
    assert content["ename"] == "SparkUnavailable", content
    assert "Spark JVM died" in content["evalue"] and "next cell starts a new Spark session" in content["evalue"]
    assert len(content["traceback"]) <= 3 and "py4j" not in "\n".join(content["traceback"]), content["traceback"]


def alive_after(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """The processes of ``procs`` still alive (zombies count as gone) after waiting up to ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


@pytest.fixture(scope="module")
def kernel(processes, toree_jupyter_path, tmp_path_factory) -> Iterator[Kernel]:
    history = str(tmp_path_factory.mktemp("faults") / "history.sqlite")
    env = {**os.environ, "JUPYTER_PATH": str(toree_jupyter_path), "TOREE_HISTORY_FILE": history}
    with start(processes, env, TOREE_PROGRESS="on") as k:  # the progress poller, too, meets the dead JVM
        yield k


@pytest.fixture
def env(client_env: dict[str, str]) -> dict[str, str]:
    return client_env


# 1. The Spark JVM dies ------------------------------------------------------------------------------
def test_pyspark_cell_whose_jvm_is_killed_fails_clearly_and_the_next_cell_gets_a_new_session(kernel) -> None:
    kernel.ok("x = 21\nsc.parallelize(range(4), 2).map(lambda v: v + 1).sum()")  # Python workers under the JVM
    jvm = kernel.jvm()
    workers = jvm.children(recursive=True)
    assert workers, "no Python workers under the JVM"
    killer = kill_when_running(jvm, kernel)
    started = time.monotonic()
    content, _ = kernel.run(SLOW_JOB)
    killer.join()
    print(f"\nPySpark cell ended {time.monotonic() - started:.1f} s after it started (JVM killed at 3 s)")
    assert_jvm_death_reported(content)
    assert kernel.km.is_alive()
    started = time.monotonic()
    value, stderr = kernel.ok("x * 2, spark.range(5).count()")
    print(f"next cell (new Spark session) took {time.monotonic() - started:.1f} s")
    assert value == "(42, 5)"  # Python state survives; Spark is new
    assert NEW_SESSION in stderr
    assert kernel.jvm().pid != jvm.pid
    assert kernel.ok("spark.range(2).count()")[1] == ""  # announced once
    left = alive_after(workers, timeout=15)  # the dead JVM's Python workers do not linger
    assert not left, [(p.pid, p.cmdline()[:4]) for p in left]


def test_scala_cell_whose_jvm_is_killed_fails_clearly_and_the_repl_is_rebuilt(kernel) -> None:
    assert kernel.ok("%%Scala\nval kept = 42")[1] == ""
    jvm = kernel.jvm()
    killer = kill_when_running(jvm, kernel)
    content, _ = kernel.run("%%Scala\nsc.parallelize(1 to 1, 1).map { x => Thread.sleep(60000); x }.count()")
    killer.join()
    assert_jvm_death_reported(content)
    content, outputs = kernel.run("%%Scala\nkept")  # a new REPL: the old definitions are gone, and it says so
    assert content["ename"] == "CompileError" and "not found" in "\n".join(content["traceback"]), content
    assert NEW_SESSION in stderr_of(outputs) and "Scala definitions" in stderr_of(outputs)
    assert kernel.ok("%%Scala\nval again = spark.range(4).count()\nagain + 1")[0].endswith("5")
    assert kernel.ok("spark.range(6).count()")[0] == "6"  # Python is on the same new session


def test_sql_cell_whose_jvm_is_killed_fails_clearly_and_the_next_cell_works(kernel) -> None:
    kernel.ok("spark.range(3).createOrReplaceTempView('before')")
    jvm = kernel.jvm()
    killer = kill_when_running(jvm, kernel)
    content, _ = kernel.run("%%SQL\nSELECT java_method('java.lang.Thread', 'sleep', 60000L) FROM range(1)")
    killer.join()
    assert_jvm_death_reported(content)
    content, outputs = kernel.run("%%SQL\nSELECT 40 + 2 AS answer")
    assert content["status"] == "ok", content
    assert NEW_SESSION in stderr_of(outputs)
    assert "42" in str([m["content"]["data"] for m in outputs if m["msg_type"] == "execute_result"])


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("spark.range(7).count()", "7"),
        ("%%Scala\nspark.range(8).count()", "8"),
        ("%%SQL\nSELECT 9 AS n", "9"),
    ],
    ids=["pyspark", "scala", "sql"],
)
def test_jvm_killed_between_cells_the_next_cell_starts_a_new_session(kernel, cell: str, expected: str) -> None:
    kernel.ok("spark.range(1).count()")
    jvm = kernel.jvm()
    jvm.kill()
    assert not alive_after([jvm], timeout=10)  # dead (a zombie until the kernel reaps it)
    content, outputs = kernel.run(cell)
    assert content["status"] == "ok", content
    assert NEW_SESSION in stderr_of(outputs)
    assert expected in str([m["content"]["data"] for m in outputs if m["msg_type"] == "execute_result"])
    assert kernel.jvm().pid != jvm.pid


# 2. Driver out of memory ----------------------------------------------------------------------------
def test_driver_out_of_memory_is_a_clear_error_and_the_kernel_goes_on(processes, env) -> None:
    k = start(processes, env, SPARK_OPTS="--driver-memory 512m")
    try:
        assert k.ok("%%Scala\nval small = 1")[1] == ""
        jvm = k.jvm()
        # Scala: a 16 GB array in a 512 MB heap fails at once, and the JVM survives it.
        started = time.monotonic()
        content, _ = k.run("%%Scala\nval big = Array.ofDim[Long](2000000000)")
        print(f"\nScala OOM cell: {time.monotonic() - started:.1f} s")
        assert content["status"] == "error" and "OutOfMemoryError" in content["evalue"], content
        assert k.ok("%%Scala\nsmall + 1")[0].endswith("2")
        assert k.jvm().pid == jvm.pid
        # PySpark: a 1 GB string in a task. Spark ends a local-mode JVM whose task ran out of memory; the
        # cell says so and the next one gets a new session (or, if the JVM survived, the same one).
        started = time.monotonic()
        content, _ = k.run("spark.range(1, numPartitions=1).selectExpr(\"repeat('x', 1000000000) AS s\").collect()")
        print(f"PySpark OOM cell: {time.monotonic() - started:.1f} s; {content['ename']}: {content['evalue'][:200]}")
        assert content["status"] == "error", content
        assert "OutOfMemoryError" in content["evalue"] or "Spark JVM died" in content["evalue"], content
        assert len("\n".join(content["traceback"])) < 5000
        print("PySpark OOM traceback:\n" + "\n".join(content["traceback"]))
        value, stderr = k.ok("spark.range(3).count()")
        assert value == "3"
        print(f"after the PySpark OOM: {'a new' if NEW_SESSION in stderr else 'the same'} Spark session")
        assert (NEW_SESSION in stderr) == (k.jvm().pid != jvm.pid)
        assert k.km.is_alive()
    finally:
        k.close()


# 3. A client that disappears mid-cell ---------------------------------------------------------------
CLIENT = """
import sys
from jupyter_client.blocking import BlockingKernelClient
kc = BlockingKernelClient(connection_file=sys.argv[1])
kc.load_connection_file()
kc.start_channels()
kc.wait_for_ready(timeout=60)
kc.execute("import time\\nearly = 'set'\\nfor i in range(30):\\n    print('line', i)\\n    time.sleep(0.2)\\nlate = spark.range(3).count()")
while True:  # the cell runs: it has printed
    msg = kc.get_iopub_msg(timeout=120)
    if msg["msg_type"] == "stream":
        break
print("sent", flush=True)
time.sleep(600)
"""


def test_a_client_that_vanishes_mid_cell_leaves_the_kernel_running_with_its_state(processes, env) -> None:
    k = start(processes, env)
    try:
        client = processes.spawn(
            [sys.executable, "-c", "import time\n" + textwrap.dedent(CLIENT), k.km.connection_file],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert client.stdout is not None and client.stdout.readline().strip() == "sent"
        time.sleep(1.5)  # the cell is printing
        client.kill()  # SIGKILL: no goodbye on any channel
        client.wait(10)
        k.kc.stop_channels()  # this test's client, too, goes away mid-cell
        fresh = BlockingKernelClient(connection_file=k.km.connection_file)
        fresh.load_connection_file()
        fresh.start_channels()
        try:
            fresh.wait_for_ready(timeout=60)
            outputs: list[dict] = []
            reply = fresh.execute_interactive("early, late", output_hook=outputs.append, timeout=120)
            assert reply["content"]["status"] == "ok", reply["content"]
            results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
            assert results == ["('set', 3)"]
        finally:
            fresh.stop_channels()
        assert k.km.is_alive()
    finally:
        k.close()


# 4. Restart -----------------------------------------------------------------------------------------
def test_restart_while_a_spark_job_runs_leaves_no_process_of_the_old_kernel(processes, env) -> None:
    k = start(processes, env)
    try:
        k.ok("sc.parallelize(range(4), 2).map(lambda v: v + 1).sum()")  # Python workers exist too
        k.ok("spark.range(1).count()")
        old = k.tree()
        assert any("java" in p.name() for p in old)
        k.kc.execute(SLOW_JOB)
        time.sleep(3)  # the job runs
        started = time.monotonic()
        k.km.restart_kernel()
        processes.started.append(k.process)
        k.kc.wait_for_ready(timeout=120)
        print(f"\nrestart_kernel() while a job ran: {time.monotonic() - started:.1f} s")
        assert k.pid != old[0].pid
        left = alive_after(old, timeout=15)
        assert not left, [(p.pid, p.name()) for p in left]
        assert k.ok("spark.range(4).count()")[0] == "4"
        # and a forced restart (SIGKILL to the kernel) on top: still no orphans from the second tree
        k.ok("spark.range(1).count()")
        old = k.tree()
        k.km.restart_kernel(now=True)
        processes.started.append(k.process)
        k.kc.wait_for_ready(timeout=120)
        left = alive_after(old, timeout=15)
        assert not left, [(p.pid, p.name(), p.cmdline()[:3]) for p in left]
        assert k.ok("1 + 1")[0] == "2"
    finally:
        k.close()


# 5. SIGTERM -----------------------------------------------------------------------------------------
def test_sigterm_ends_the_kernel_promptly_with_its_jvm_and_workers(processes, env) -> None:
    k = start(processes, env)
    try:
        k.ok("sc.parallelize(range(4), 2).map(lambda v: v * 2).sum()")  # Python workers
        k.kc.execute(SLOW_JOB)  # and a job running when the signal comes
        time.sleep(3)
        tree = k.tree()
        names = [p.name() for p in tree]
        assert any("java" in n for n in names), names
        started = time.monotonic()
        os.kill(k.pid, signal.SIGTERM)
        left = alive_after(tree, timeout=30)
        took = time.monotonic() - started
        print(f"\nSIGTERM: {len(tree)} processes gone in {took:.1f} s")
        assert not left, [(p.pid, p.name()) for p in left]
        assert took < 10
    finally:
        k.close()
