"""jupyter_kernel_test against the real apache_toree_scala kernel (Scala REPL in the Spark driver JVM)."""

from __future__ import annotations

import threading
import time

import kernel_support  # not "from ... import": pytest would collect the base class itself
import pytest

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]


class TestScalaKernelConformance(kernel_support.WarmedKernelTests):
    warm_up_code = "spark.range(1).count()"
    kernel_name = "apache_toree_scala"
    language_name = "scala"
    file_extension = ".scala"

    code_hello_world = 'println("hello, world")'
    code_stderr = 'Console.err.println("oops")'
    completion_samples = [{"text": "List(1, 2).isEm", "matches": {"isEmpty"}}]
    complete_code_samples = ["1 + 1", "val x = 1", 'println("hi")']
    incomplete_code_samples = ["def f(x: Int) = {", "val y ="]
    invalid_code_samples = ["}", "val z = )"]
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
    """The first request of a fresh kernel, while Spark still starts: answered (bounded wait), not empty."""
    with kernel_support.Kernel("apache_toree_scala") as k:
        started = time.monotonic()
        if request_type == "complete":
            reply = k.kc.complete("val s = spar", 12, reply=True, timeout=60)["content"]
            assert "spark" in reply["matches"], reply
            assert (reply["cursor_start"], reply["cursor_end"]) == (8, 12)
        else:
            reply = k.kc.inspect("spark", 3, reply=True, timeout=60)["content"]
            assert reply["found"], reply
            assert reply["data"]["text/plain"].startswith("spark: org.apache.spark.sql.SparkSession"), reply
        assert time.monotonic() - started < 30
