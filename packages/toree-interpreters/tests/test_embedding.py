"""Embedding without a kernel: the example runs as a plain Spark application (no kernel, no zmq), and the
host process gets its sys.stdout, getpass, comm hooks and environment back after each cell and after stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from interp_support import CollectingSink

from toree_interpreters import PySparkInterpreter, SparkSessionManager

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "embed_pyspark.py"


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_embed_example_runs() -> None:
    done = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=170)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[result] [(0, 1683), (1, 1717), (2, 1650)]" in done.stdout
    assert "rows: 100" in done.stdout
    assert "[error] AnalysisException" in done.stdout


# Embedding leaves the host as it found it ----------------------------------------------------------------
HOST_SCRIPT = r'''
import getpass, json, os, sys, threading
import comm
from toree_interpreters import PySparkInterpreter, SparkSessionManager

class Sink:
    def __init__(self):
        self.events = []
    def stream(self, name, text):
        self.events.append((name, text))
    def display(self, data, metadata=None, *, display_id=None, update=False):
        self.events.append(("display", data))
    def clear_output(self, wait=False):
        pass
    def input(self, prompt, password=False):
        self.events.append(("input", prompt, password))
        return "s3cret"

def hooks():
    return (sys.stdout, sys.stderr, getpass.getpass, comm.create_comm, comm.get_comm_manager)

host, env = hooks(), dict(os.environ)
report = {}
spark = SparkSessionManager(["--master", "local[1]", "--conf", "spark.ui.enabled=false"], init_mode="lazy")
python = PySparkInterpreter(spark)
python.start()
report["started"] = hooks() == host
sink = Sink()
outcome = python.execute(
    "import sys, getpass\nprint('to the sink')\nprint('err', file=sys.stderr)\n"
    "(spark.range(3).count(), getpass.getpass('pw? '), sys.stdout is kernel.out)",
    sink,
)
report["cell"] = [outcome.status, outcome.result["text/plain"]]
report["sink"] = [event for event in sink.events if event[0] != "display"]  # not progress
report["after a cell"] = hooks() == host
report["spark args while running"] = os.environ.get("PYSPARK_SUBMIT_ARGS")
report["failed"] = python.execute("getpass.getpass = None\n1 / 0", Sink()).error.ename
report["after an error"] = hooks() == host
threading.Timer(1.0, python.interrupt).start()
report["interrupted"] = python.execute("sys.stdout = None\nwhile True:\n    pass", Sink()).error.ename
report["after an interrupt"] = hooks() == host
python.shutdown()
spark.stop()
report["after stop"] = hooks() == host
report["env changed"] = sorted(
    key for key in set(env) | set(os.environ) if env.get(key) != os.environ.get(key)
)
print(json.dumps(report), file=sys.__stdout__)
'''


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_an_embedding_host_gets_its_streams_getpass_comms_and_environment_back() -> None:
    """A plain Python process (no kernel) runs cells: between them and after stop, all is the host's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_"))}
    env["PYSPARK_SUBMIT_ARGS"] = "--driver-memory 1g pyspark-shell"  # the host's own: back after stop
    done = subprocess.run(
        [sys.executable, "-c", HOST_SCRIPT], capture_output=True, text=True, timeout=170, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report.pop("sink") == [
        ["stdout", "to the sink"], ["stdout", "\n"], ["stderr", "err"], ["stderr", "\n"],
        ["input", "pw? ", True],
    ]
    assert report.pop("spark args while running") == (
        "--master 'local[1]' --conf spark.ui.enabled=false pyspark-shell"
    )
    assert report == {
        "started": True,
        "cell": ["ok", "(3, 's3cret', True)"],
        "after a cell": True,
        "failed": "ZeroDivisionError",
        "after an error": True,
        "interrupted": "KeyboardInterrupt",
        "after an interrupt": True,
        "after stop": True,
        "env changed": [],
    }


def test_embedded_the_comm_hooks_are_ours_only_while_a_cell_runs() -> None:
    """The default (hooks="cell"): the host's comm hooks between cells, ours in them, also after an error."""
    import comm

    from toree_interpreters.comms import CommManager

    before = (comm.create_comm, comm.get_comm_manager)
    manager = CommManager()
    sent: list[str] = []
    interp = PySparkInterpreter(SparkSessionManager(init_mode="none"), comms=manager)
    interp.start()
    try:
        assert (comm.create_comm, comm.get_comm_manager) == before
        with manager.routing(lambda msg_type, *_: sent.append(msg_type)):
            outcome = interp.execute(
                "import comm\nc = comm.create_comm(target_name='jupyter.widget', data={})\n"
                "comm.get_comm_manager() is kernel.comm",
                CollectingSink(),
            )
        assert outcome.result == {"text/plain": "True"}, outcome
        assert sent == ["comm_open"]
        assert (comm.create_comm, comm.get_comm_manager) == before
        failed = interp.execute("raise ValueError(comm.get_comm_manager() is kernel.comm)", CollectingSink())
        assert failed.error is not None and (failed.error.ename, failed.error.evalue) == ("ValueError", "True")
        assert (comm.create_comm, comm.get_comm_manager) == before
    finally:
        interp.shutdown()
    assert (comm.create_comm, comm.get_comm_manager) == before


def test_hook_modes_are_checked() -> None:
    with pytest.raises(ValueError, match="hooks must be one of"):
        PySparkInterpreter(SparkSessionManager(init_mode="none"), hooks="always")  # type: ignore[arg-type]
