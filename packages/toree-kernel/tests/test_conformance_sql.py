"""jupyter_kernel_test against the real apache_toree_sql kernel (Spark SQL on the kernel's session)."""

from __future__ import annotations

import threading
import time

import kernel_support  # not "from ... import": pytest would collect the base class itself
import pytest

pytestmark = [pytest.mark.spark, pytest.mark.timeout(600)]
KERNEL = "apache_toree_sql"


class TestSQLKernelConformance(kernel_support.WarmedKernelTests):
    warm_up_code = "SELECT 1"
    kernel_name = KERNEL
    language_name = "sql"
    file_extension = ".sql"

    completion_samples = [
        {"text": "SELEC", "matches": {"SELECT"}},
        {"text": "select * fr", "matches": {"from"}},
    ]
    complete_code_samples = ["SELECT 1", "SELECT 1;", "SELECT ')' -- (", "SHOW TABLES"]
    incomplete_code_samples = ["SELECT 'abc", "SELECT (1 +", "SELECT 1 /* open"]
    invalid_code_samples = ["SELECT 1)"]
    code_generate_error = "SELECT * FROM no_such_table"
    code_execute_result = [
        {"code": "SELECT 6 * 7 AS answer", "result": "+------+\n|answer|\n+------+\n|    42|\n+------+"},
        {"code": "SELECT upper('spark') AS s", "mime": "text/html"},
    ]
    code_display_data = [{"code": "SELECT 1 AS a; SELECT 2 AS b", "mime": "text/html"}]
    code_history_pattern = "SELECT 6 * 7*"  # a glob over the whole cell
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "upper"


def test_sql_kernel_shares_the_session_and_interrupts() -> None:
    with kernel_support.Kernel(KERNEL) as k:
        km, kc = k.km, k.kc
        outputs: list[dict] = []
        reply = kc.execute_interactive(
            "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT id FROM range(10);\nSELECT count(*) AS n FROM v",
            output_hook=outputs.append,
            timeout=120,
        )
        assert reply["content"]["status"] == "ok"
        [result] = [m["content"]["data"] for m in outputs if m["msg_type"] == "execute_result"]
        assert "| 10|" in result["text/plain"] and "<td>10</td>" in result["text/html"]

        threading.Timer(2, km.interrupt_kernel).start()
        started = time.monotonic()
        reply = kc.execute_interactive(
            "SELECT java_method('java.lang.Thread', 'sleep', 60000L) FROM range(0, 2, 1, 2)", timeout=60
        )
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - started < 20
        outputs.clear()
        kc.execute_interactive("SELECT count(*) AS n FROM v", output_hook=outputs.append, timeout=60)
        assert [m["msg_type"] for m in outputs if m["msg_type"] in ("execute_result", "error")] == [
            "execute_result"
        ]
        # Catalog-aware completion: the view's column, named before the FROM that names the view.
        deadline = time.monotonic() + 60
        while True:  # a session's first catalog lookups may miss completion's wait on a busy machine
            started = time.monotonic()
            reply = kc.complete("select i from v", 8, reply=True, timeout=30)["content"]
            assert time.monotonic() - started < 15
            if reply["matches"][:1] == ["id"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert (reply["matches"][0], reply["cursor_start"], reply["cursor_end"]) == ("id", 7, 8)
