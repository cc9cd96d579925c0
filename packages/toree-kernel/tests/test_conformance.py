"""jupyter_kernel_test, the Jupyter conformance suite, against the real apache_toree_pyspark kernel."""

from __future__ import annotations

import jupyter_kernel_test
import kernel_support  # not "from ... import": pytest would collect the base class itself
import pytest

from toree_interpreters.spark.session import REQUEST_WAIT_S

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]


class TestPySparkKernelConformance(kernel_support.WarmedKernelTests):
    warm_up_code = "spark.range(1).count()"
    kernel_name = "apache_toree_pyspark"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('oops', file=sys.stderr)"
    completion_samples = [{"text": "zi", "matches": {"zip"}}]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n    return x*2\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):", "for i in range(3):", "def f(x):\n  x*2"]
    invalid_code_samples = ["import = 7q", "1 2 3 )"]
    code_generate_error = "raise ValueError('expected failure')"
    code_execute_result = [
        {"code": "6*7", "result": "42"},
        {"code": "'spark'.upper()", "result": "'SPARK'"},
        {"code": "spark.range(5).count()", "result": "5"},
    ]
    code_display_data = [
        {"code": "kernel.display.html('<b>bold</b>')", "mime": "text/html"},
        {"code": "kernel.display.content('text/markdown', '# title')", "mime": "text/markdown"},
    ]
    code_history_pattern = "6[*]7"  # a glob over the whole cell: not "6 * 7" of the Scala tests (one history file)
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "zip"
    code_clear_output = "kernel.display.clear_output()"
    code_page_something = "zip?"  # IPython help: the execute_reply's page payload


def test_completion_of_spark_names_right_after_start() -> None:
    """``spar<Tab>`` before Spark is up: the kernel waits for the session (bounded) and binds the names."""
    with kernel_support.Kernel("apache_toree_pyspark") as k:
        kernel_support.answer_during_start_up(
            lambda: k.kc.complete("spar", 4, reply=True, timeout=60)["content"],
            lambda reply: "spark" in reply["matches"],
            REQUEST_WAIT_S,
        )
        reply = k.kc.complete("spark.ran", 9, reply=True, timeout=60)["content"]
        assert {"range", "spark.range"} & set(reply["matches"]), reply  # IPython's completer, with or without jedi
        reply = k.kc.inspect("sc", 2, reply=True, timeout=60)["content"]
        assert reply["found"] and "SparkContext" in reply["data"]["text/plain"], reply


class TestPySparkKernelIopubWelcome(jupyter_kernel_test.IopubWelcomeTests):
    kernel_name = "apache_toree_pyspark"
    support_iopub_welcome = True
