"""jupyter_kernel_test against the real apache_toree_sparkr kernel (R in a process of its own), with
IRkernel's own conformance samples where they apply."""

from __future__ import annotations

import kernel_support  # not "from ... import": pytest would collect the base class itself
import pytest

from toree_interpreters.r.process import INSTALL_HINT, r_binary

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(r_binary() is None, reason=INSTALL_HINT),
]


class TestSparkRKernelConformance(kernel_support.WarmedKernelTests):
    warm_up_code = "invisible(sparkR.session())"  # Spark up first: a JVM starting starves the timed requests
    kernel_name = "apache_toree_sparkr"
    language_name = "R"
    file_extension = ".r"

    code_hello_world = "print('hello, world')"
    code_stderr = "message('error')"
    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "version$plat", "matches": {"version$platform"}},
        {"text": "seq_len(", "matches": {"length.out="}},
    ]
    complete_code_samples = ["1", "print('hello, world')", "f <- function(x) {\n  x*2\n}"]
    incomplete_code_samples = ["print('hello", "f <- function(x) {\n  x*2", "1 +"]
    invalid_code_samples = ["x y", "1 + )"]
    code_page_something = "?cat"
    code_generate_error = "stop('oops')"
    code_execute_result = [
        {"code": "6 * 7", "result": "[1] 42"},
        {"code": "'a'", "mime": "text/html"},
        {"code": "data.frame(a = 1:2)", "mime": "text/latex"},
        {"code": "data.frame(a = 1:2)", "mime": "text/markdown"},
    ]
    code_display_data = [
        {"code": "plot(1:10)", "mime": "image/png"},
        {"code": "IRdisplay::display_html('<b>x</b>')", "mime": "text/html"},
    ]
    code_clear_output = "IRdisplay::clear_output()"
    code_history_pattern = "6 * 7*"  # a glob over the whole cell
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "seq_len"
