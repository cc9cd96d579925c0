"""JupyterLab's depth on the real PySpark kernel (one kernel, its Spark UI on).

The debugger: a real DAP session with debugpy over ``debug_request`` on control, ``debug_event`` on
IOPub, as JupyterLab's debugger and variables panel drive it (ipykernel's message shapes); a cell stopped
at a breakpoint before a Spark job, interrupted; a kernel without debugpy (not advertised, clear replies).
Spark UI links: the live progress display links its job and stage to the driver's Spark UI pages (fetched
here), in the html and the text/plain form alike."""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kernel_support import TEST_SPARK_OPTS, Kernel

from toree_interpreters.python.cell_files import HASH_SEED, murmur2

pytestmark = [pytest.mark.timeout(300)]

LONG_SPARK_JOB = (
    "from pyspark.sql import functions as F\n"
    "slow = F.udf(lambda x: __import__('time').sleep(0.5) or x, 'long')\n"
    "spark.range(0, 240, 1, 2).select(slow('id').alias('x')).agg(F.sum('x')).collect()\n"
)  # 2 tasks x 120 x 0.5 s = ~60 s

SLOW_JOB = (
    "from pyspark.sql import functions as F\n"
    "slow = F.udf(lambda x: __import__('time').sleep(0.01) or x, 'long')\n"
    "spark.range(0, 400, 1, 4).repartition(2).select(slow('id').alias('v')).agg(F.sum('v')).collect()[0][0]"
)  # ~2 s on local[2]: long enough for the display (it waits 0.5 s before showing anything)
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# The cell the debugger stops in: a module-level breakpoint (line 3) and one inside a function (line 6).
CELL = (
    "a = 40\n"  # 1
    "items = {'k': [1, 2]}\n"  # 2
    "b = a + 2\n"  # 3  <- breakpoint
    "c = b * 2\n"  # 4
    "def triple(x):\n"  # 5
    "    inner = x * 3\n"  # 6  <- breakpoint
    "    return inner\n"  # 7
    "d = triple(c)\n"  # 8
)


class Dap:
    """A DAP client over the kernel's control channel (requests) and IOPub (events), as JupyterLab's."""

    def __init__(self, kernel: Kernel) -> None:
        self.kc = kernel.kc
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def request(self, command: str, timeout: float = 60, **arguments: Any) -> dict[str, Any]:
        self.seq += 1
        content = {"type": "request", "seq": self.seq, "command": command, "arguments": arguments}
        return self.raw(content, timeout)

    def raw(self, content: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        msg = self.kc.session.msg("debug_request", content)
        self.kc.control_channel.send(msg)
        deadline = time.monotonic() + timeout
        while True:
            reply = self.kc.get_control_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                assert reply["msg_type"] == "debug_reply"
                return reply["content"]

    def ok(self, command: str, **arguments: Any) -> dict[str, Any]:
        reply = self.request(command, **arguments)
        assert reply.get("success") is True, (command, reply)
        assert reply["command"] == command and reply["request_seq"] == self.seq and reply["type"] == "response"
        return reply

    def event(self, name: str, timeout: float = 60) -> dict[str, Any]:
        """The next ``debug_event`` called ``name`` (IOPub read until it comes; others are kept)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["msg_type"] == "debug_event":
                self.events.append(msg["content"])
                if msg["content"].get("event") == name:
                    return msg["content"]

    def start(self) -> None:
        init = self.ok(
            "initialize",
            clientID="toree-tests",
            adapterID="python",
            pathFormat="path",
            linesStartAt1=True,
            columnsStartAt1=True,
            supportsVariableType=True,
            supportsVariablePaging=True,
            supportsRunInTerminalRequest=False,
            locale="en",
        )
        assert init["body"]["supportsConfigurationDoneRequest"] is True
        self.ok("attach")

    def shell_reply(self, msg_id: str, timeout: float = 60) -> dict[str, Any]:
        reply = self.kc.get_shell_msg(timeout=timeout)
        assert reply["parent_header"]["msg_id"] == msg_id
        return reply["content"]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """The PySpark kernel with the Spark UI on (a free port), unlike the other tests' kernels."""
    root = tmp_path_factory.mktemp("ui-kernel")
    spec = root / "kernels" / "toree_with_ui"
    spec.mkdir(parents=True)
    opts = "--master local[2] --conf spark.ui.enabled=true --conf spark.ui.port=0 --conf spark.sql.shuffle.partitions=2"
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "toree_kernel", "--profile", "{connection_file}"],
                "display_name": "Toree with the Spark UI",
                "language": "python",
                "env": {"DEFAULT_INTERPRETER": "PySpark", "__TOREE_SPARK_OPTS__": opts},
            }
        )
    )
    with Kernel("toree_with_ui", jupyter_path=Path(root)) as k:
        k.run("spark.range(10).count()")  # the first job compiles code: not what is measured
        yield k


def test_a_dap_session_stops_in_a_cell_and_shows_its_variables(kernel: Kernel) -> None:
    info = kernel.kc.kernel_info(reply=True, timeout=30)["content"]
    assert info["debugger"] is True and "debugger" in info["supported_features"]
    dap = Dap(kernel)
    dap.start()
    debug_info = dap.ok("debugInfo")["body"]
    assert debug_info["isStarted"] is True and debug_info["hashMethod"] == "Murmur2"
    assert debug_info["hashSeed"] == HASH_SEED and debug_info["tmpFileSuffix"] == ".py"
    assert debug_info["stoppedThreads"] == [] and debug_info["richRendering"] is True

    # dumpCell: the path a client computes from debugInfo is where the cell is saved and compiled
    source = dap.ok("dumpCell", code=CELL)["body"]["sourcePath"]
    assert source == f"{debug_info['tmpFilePrefix']}{murmur2(CELL.encode(), HASH_SEED)}.py"
    assert Path(source).read_text() == CELL
    placed = dap.ok("setBreakpoints", source={"path": source}, breakpoints=[{"line": 3}, {"line": 6}])
    assert [bp["verified"] for bp in placed["body"]["breakpoints"]] == [True, True]
    dap.ok("configurationDone")
    assert dap.ok("debugInfo")["body"]["breakpoints"] == [
        {"source": source, "breakpoints": [{"line": 3}, {"line": 6}]}
    ]

    execute = kernel.kc.execute(CELL)
    stopped = dap.event("stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    thread = stopped["body"]["threadId"]
    assert dap.ok("debugInfo")["body"]["stoppedThreads"] == [thread]

    frames = dap.ok("stackTrace", threadId=thread)["body"]["stackFrames"]
    assert (frames[0]["source"]["path"], frames[0]["line"]) == (source, 3)
    assert [f["source"]["path"] for f in frames] == [source], frames  # the kernel's own frames are hidden
    frame = frames[0]["id"]
    scopes = dap.ok("scopes", frameId=frame)["body"]["scopes"]
    variables = dap.ok("variables", variablesReference=scopes[0]["variablesReference"])["body"]["variables"]
    by_name = {v["name"]: v for v in variables}
    assert by_name["a"]["value"] == "40" and by_name["a"]["type"] == "int"
    assert "b" not in by_name  # line 3 has not run yet
    assert not {"In", "Out", "get_ipython", "__builtins__", "_ih"} & set(by_name), sorted(by_name)
    children = dap.ok("variables", variablesReference=by_name["items"]["variablesReference"])["body"]["variables"]
    assert any(c["name"] == "'k'" and c["value"] == "[1, 2]" for c in children), children
    assert dap.ok("evaluate", expression="a * 10", frameId=frame, context="repl")["body"]["result"] == "400"
    rich = dap.ok("richInspectVariables", variableName="items", frameId=frame)["body"]
    assert rich["data"]["text/plain"] == "{'k': [1, 2]}", rich

    # next: one line on, still in the cell
    dap.ok("next", threadId=thread)
    assert dap.event("stopped")["body"]["reason"] == "step"
    frames = dap.ok("stackTrace", threadId=thread)["body"]["stackFrames"]
    assert (frames[0]["source"]["path"], frames[0]["line"]) == (source, 4), [(f["name"], f["source"].get("path"), f["line"]) for f in frames]

    # continue: on to the breakpoint inside triple(); copy its local into the namespace
    dap.ok("continue", threadId=thread)
    dap.event("continued")
    stopped = dap.event("stopped")
    frames = dap.ok("stackTrace", threadId=stopped["body"]["threadId"])["body"]["stackFrames"]
    assert (frames[0]["name"], frames[0]["line"]) == ("triple", 6)
    dap.ok("next", threadId=thread)
    dap.event("stopped")
    copied = dap.ok("copyToGlobals", srcVariableName="inner", dstVariableName="inner_copy", srcFrameId=frames[0]["id"])
    assert copied["body"]["value"] == "252", copied
    dap.ok("continue", threadId=thread)
    assert dap.shell_reply(execute)["status"] == "ok"
    assert dap.ok("debugInfo")["body"]["stoppedThreads"] == []

    # Nothing stopped: the variables panel reads the namespace through the kernel
    kernel.ok("df = spark.range(3).toDF('n')")
    found = {v["name"]: v for v in dap.ok("inspectVariables")["body"]["variables"]}
    assert found["d"]["value"] == "252" and found["inner_copy"]["value"] == "252"
    assert found["df"]["value"] == "DataFrame[n: bigint]" and "spark" in found
    assert not {"In", "Out", "get_ipython", "input", "_i1"} & set(found), sorted(found)
    children = dap.ok("variables", variablesReference=found["items"]["variablesReference"])["body"]["variables"]
    assert any(c["name"] == "'k'" for c in children), children
    rich = dap.ok("richInspectVariables", variableName="d")["body"]
    assert rich == {"data": {"text/plain": "252"}, "metadata": {}}
    table = dap.ok("richInspectVariables", variableName="df")["body"]["data"]
    assert "toree-dataframe" in table["text/html"] and "<td>2</td>" in table["text/html"].replace(" ", ""), table

    # Bad requests get clear failures, never a dead control channel
    assert dap.request("richInspectVariables", variableName="1 + 1")["success"] is False
    assert dap.request("copyToGlobals", srcVariableName="x", dstVariableName="y", srcFrameId=1)["success"] is False
    assert dap.request("variables", variablesReference=123456789)["success"] is False
    assert dap.request("dumpCell")["success"] is False
    assert dap.raw({"seq": 99, "command": 5})["success"] is False

    dap.ok("disconnect", restart=False, terminateDebuggee=False)
    assert dap.ok("debugInfo")["body"] == {**dap.ok("debugInfo")["body"], "isStarted": False, "breakpoints": []}
    assert kernel.value("c") == "84"  # the old breakpoints no longer stop anything: the cell runs through
    content, _ = kernel.run(CELL, timeout=60)
    assert content["status"] == "ok"


def test_the_progress_display_links_the_job_and_stage_to_the_drivers_spark_ui(kernel: Kernel) -> None:
    ui = kernel.value("spark.sparkContext.uiWebUrl").strip("'").rstrip("/")
    assert re.fullmatch(r"http://[^/]+:\d+", ui), ui
    content, outputs = kernel.run(SLOW_JOB)
    assert content["status"] == "ok", content
    shown = [
        m["content"]["data"]
        for m in outputs
        if m["msg_type"] in ("display_data", "update_display_data")
        and "toree-progress" in m["content"]["data"].get("text/html", "")
    ]
    assert shown, "no progress display for a ~2 s job"
    running = [d for d in shown if "tasks, " in d["text/plain"]]  # updates while it runs name job and stage
    assert running, shown
    jobs = re.findall(rf'<a href="{re.escape(ui)}/jobs/job/\?id=(\d+)"[^>]*>job (\d+)</a>', running[-1]["text/html"])
    assert jobs and jobs[0][0] == jobs[0][1], running[-1]["text/html"]
    stage = re.search(rf'<a href="{re.escape(ui)}/stages/stage/\?id=(\d+)&amp;attempt=0"[^>]*>stage (\d+)</a>', running[-1]["text/html"])
    assert stage and stage.group(1) == stage.group(2), running[-1]["text/html"]
    assert running[-1]["text/plain"].endswith(f"\nSpark UI: {ui}/jobs/job/?id={jobs[0][0]}")
    final = shown[-1]
    assert final["text/plain"].startswith("done: "), final
    last_job = re.search(r"Spark UI: (\S+)$", final["text/plain"])
    assert last_job and f'<a href="{last_job.group(1)}"' in final["text/html"]

    # the links are the driver's real pages
    for url in (f"{ui}/jobs/job/?id={jobs[0][0]}", f"{ui}/stages/stage/?id={stage.group(1)}&attempt=0"):
        with NO_PROXY.open(url, timeout=30) as page:
            body = page.read().decode("utf-8", "replace")
        assert page.status == 200 and ("Details for Job" in body or "Details for Stage" in body), url

    # `spark` itself shows the UI link (pyspark's own rendering of the session)
    _, outputs = kernel.run("spark")
    html = next(m["content"]["data"]["text/html"] for m in outputs if m["msg_type"] == "execute_result")
    assert ui in html and "Spark UI" in html


def test_a_cell_stopped_before_a_spark_job_is_interrupted_and_its_job_cancelled(kernel: Kernel) -> None:
    dap = Dap(kernel)
    dap.start()  # a second session in the same kernel (JupyterLab's debugger switched off and on)
    code = "before = 1\n" + LONG_SPARK_JOB  # the breakpoint (line 2) stops the cell before its ~60 s job
    source = dap.ok("dumpCell", code=code)["body"]["sourcePath"]
    dap.ok("setBreakpoints", source={"path": source}, breakpoints=[{"line": 4}])
    dap.ok("configurationDone")
    execute = kernel.kc.execute(code)
    assert dap.event("stopped")["body"]["reason"] == "breakpoint"
    started = time.monotonic()
    kernel.km.interrupt_kernel()  # the cell goes on into its Spark job, which is cancelled
    reply = dap.shell_reply(execute, timeout=45)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
    assert time.monotonic() - started < 30, "the interrupted job ran on"
    assert kernel.value("list(sc.statusTracker().getActiveJobsIds())") == "[]"
    assert kernel.value("before + spark.range(7).count()") == "8"
    # The kernel goes on; debugpy does not stop this thread again after an interrupt (see Debugger.
    # untrace_this_thread): the cell runs through instead of hanging the kernel.
    content, _ = kernel.run("before = 2\nafter = 3", timeout=60)
    assert content["status"] == "ok"
    assert dap.ok("debugInfo")["body"]["stoppedThreads"] == []
    dap.ok("disconnect", restart=False, terminateDebuggee=False)


# A kernel whose Python cannot import debugpy (a meta path finder refuses it), otherwise the real one.
NO_DEBUGPY = (
    "import sys, runpy\n"
    "class NoDebugpy:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] == 'debugpy':\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, NoDebugpy())\n"
    "runpy.run_module('toree_kernel', run_name='__main__')\n"
)


def test_without_debugpy_the_debugger_is_not_advertised(tmp_path: Path) -> None:
    spec = tmp_path / "kernels" / "toree_no_debugpy"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", NO_DEBUGPY, "--nosparkcontext", "--profile", "{connection_file}"]
    env = {"DEFAULT_INTERPRETER": "PySpark", "__TOREE_SPARK_OPTS__": TEST_SPARK_OPTS}
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "no debugpy", "language": "python", "env": env})
    )
    with Kernel("toree_no_debugpy", jupyter_path=tmp_path) as kernel:
        info = kernel.kc.kernel_info(reply=True, timeout=30)["content"]
        assert info["debugger"] is False and "debugger" not in info["supported_features"]
        dap = Dap(kernel)
        reply = dap.request("initialize", clientID="x", adapterID="python")
        assert reply["success"] is False and "debugpy" in reply["message"], reply
        assert dap.raw({"not": "dap"}) == {"status": "ok"}  # an empty reply (the protocol adds the status)
        assert kernel.value("import sys; 'debugpy' in sys.modules") == "False"
        assert kernel.value("6 * 7") == "42"
