"""The example kernel, built only on toree_protocol, passes Jupyter's conformance suite."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import jupyter_kernel_test
import pytest
from jupyter_client.manager import KernelManager

pytestmark = pytest.mark.timeout(300)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "arith_kernel.py"
SPECS = Path(tempfile.mkdtemp(prefix="arith-kernelspecs-"))
for name, mode in (("arith", "signal"), ("arith_message", "message")):
    (SPECS / "kernels" / name).mkdir(parents=True)
    (SPECS / "kernels" / name / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, str(EXAMPLE), "-f", "{connection_file}"],
                "display_name": f"Arith ({mode})",
                "language": "arith",
                "interrupt_mode": mode,
            }
        )
    )


@pytest.fixture(scope="module", autouse=True)
def arith_kernelspecs():
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(SPECS)
    yield
    if saved is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = saved


class TestArithKernel(jupyter_kernel_test.KernelTests):
    kernel_name = "arith"
    language_name = "arith"
    file_extension = ".arith"
    code_hello_world = "print hello, world"
    code_stderr = "eprint oops"
    completion_samples = [{"text": "pri", "matches": {"print"}}]
    complete_code_samples = ["1 + 2", "x = 3", "print hi"]
    incomplete_code_samples = ["(1 + 2", "x = (3 *"]
    invalid_code_samples = ["1 +* 2", "x = 3 3"]
    code_generate_error = "undefined_name + 1"
    code_execute_result = [{"code": "6 * 7", "result": "42"}, {"code": "2 ** 10", "result": "1024"}]
    code_display_data = [{"code": "html <b>bold</b>", "mime": "text/html"}]
    code_history_pattern = "6 * 7"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "answer"
    code_clear_output = "clear"

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.kc.execute_interactive("answer = 42", timeout=30)  # something for the inspect test to find


class TestArithIopubWelcome(jupyter_kernel_test.IopubWelcomeTests):
    kernel_name = "arith"
    support_iopub_welcome = True


@pytest.mark.parametrize("kernel_name", ["arith", "arith_message"])
def test_interrupt_in_both_modes(kernel_name: str) -> None:
    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=30)
        msg_id = kc.execute("sleep 30")
        time.sleep(1.0)
        started = time.monotonic()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=10)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - started < 5
        assert kc.execute_interactive("1 + 1", timeout=10)["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
