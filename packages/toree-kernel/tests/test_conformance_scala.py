"""jupyter_kernel_test against the real apache_toree_scala kernel (Scala REPL in the Spark driver JVM)."""

from __future__ import annotations

import threading
import time

import kernel_support  # not "from ... import": pytest would collect the base class itself
import pytest

from toree_interpreters.spark.session import REQUEST_WAIT_S

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]


@pytest.mark.java
class TestScalaKernelConformance(kernel_support.WarmedKernelTests):
    warm_up_code = "spark.range(1).count()"
    kernel_name = "apache_toree_scala"
    language_name = "scala"
    file_extension = ".scala"

    code_hello_world = 'println("hello, world")'
    code_stderr = 'Console.err.println("oops")'
    completion_samples = [{"text": "List(1, 2).isEm", "matches": {"isEmpty"}}]
    complete_code_samples = ["1 + 1", "val x = 1", 'println("hi")']
    incomplete_code_samples = ["def f(x: Int) = {", "val y =", "6 * ", "case class Foo(bar: "]
    invalid_code_samples = ["}", "val z = )", "case class Foo(bar)", "* 6"]
    code_generate_error = 'throw new RuntimeException("expected failure")'
    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"spark".toUpperCase', "result": "SPARK"},
        {"code": "spark.range(5).count()", "result": "5"},
    ]
    code_display_data = [{"code": 'kernel.display.html("<b>bold</b>")', "mime": "text/html"}]
    code_history_pattern = "6 * 7"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "spark"
    code_clear_output = "kernel.display.clear_output()"


@pytest.mark.java
def test_scala_kernel_streams_println_and_interrupts() -> None:
    with kernel_support.Kernel("apache_toree_scala") as k:
        km, kc = k.km, k.kc
        arrivals: list[tuple[float, str]] = []

        def hook(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                arrivals.append((time.monotonic(), msg["content"]["text"]))

        reply = kc.execute_interactive(
            'println("first"); Thread.sleep(2000); println("second")', output_hook=hook, timeout=120
        )
        ended = time.monotonic()
        assert reply["content"]["status"] == "ok"
        assert "".join(text for _, text in arrivals) == "first\nsecond\n"
        assert ended - arrivals[0][0] > 1.5, "println arrived only when the cell ended"

        threading.Timer(2, km.interrupt_kernel).start()
        started = time.monotonic()
        reply = kc.execute_interactive(
            "sc.parallelize(1 to 4, 2).map { x => Thread.sleep(60000); x }.count()", timeout=60
        )
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - started < 20
        outputs: list[dict] = []
        kc.execute_interactive("sc.parallelize(1 to 10).count()", output_hook=outputs.append, timeout=60)
        assert [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"] == [
            "10"
        ]


@pytest.mark.java
@pytest.mark.parametrize("request_type", ["complete", "inspect"])
def test_completion_and_inspect_right_after_start_wait_for_spark_and_the_repl(request_type: str) -> None:
    """The first request of a fresh kernel, while Spark still starts: it waits (bounded) for Spark and the
    REPL and answers (see kernel_support.answer_during_start_up for a machine too slow for the bound)."""
    with kernel_support.Kernel("apache_toree_scala") as k:
        if request_type == "complete":
            reply = kernel_support.answer_during_start_up(
                lambda: k.kc.complete("val s = spar", 12, reply=True, timeout=60)["content"],
                lambda reply: "spark" in reply["matches"],
                REQUEST_WAIT_S,
            )
            assert (reply["cursor_start"], reply["cursor_end"]) == (8, 12)
        else:
            reply = kernel_support.answer_during_start_up(
                lambda: k.kc.inspect("spark", 3, reply=True, timeout=60)["content"],
                lambda reply: reply["found"],
                REQUEST_WAIT_S,
            )
            assert reply["data"]["text/plain"].startswith("spark: org.apache.spark.sql.SparkSession"), reply


@pytest.mark.java
def test_interrupt_ends_a_busy_loop_and_the_kernel_goes_on() -> None:
    """``while (true) {}``: the compiler's interrupt checks end it on any Java (Thread.stop is gone from
    Java 20), promptly (the aim is 2 s; the bound here leaves room for a loaded machine)."""
    with kernel_support.Kernel("apache_toree_scala", TOREE_PROGRESS="off") as k:
        assert k.value("21 * 2") == "42"
        java = k.value('System.getProperty("java.version")')
        interrupted_at: list[float] = []

        def interrupt() -> None:
            interrupted_at.append(time.monotonic())
            k.km.interrupt_kernel()

        threading.Timer(1.5, interrupt).start()
        reply = k.kc.execute_interactive("while (true) {}", timeout=60)["content"]
        ended_in = time.monotonic() - interrupted_at[0]
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
        assert "cannot be stopped" not in reply["evalue"], f"abandoned, not stopped, on Java {java}: {reply}"
        assert ended_in < 5, f"the loop ended {ended_in:.1f} s after the interrupt on Java {java}"
        print(f"Java {java}: the busy loop ended {ended_in:.2f} s after the interrupt")
        assert k.value("6 * 7") == "42"
