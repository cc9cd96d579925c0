"""The pure parts of Spark Connect support: session URLs, the progress tracker, Scala's error, the client classpath."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from toree_interpreters.scala import connect_repl, repl_output
from toree_interpreters.scala.connect_repl import ReplJvm
from toree_interpreters.spark import SparkConnectUnsupported, SparkSessionManager, connect_jvm, remote
from toree_interpreters.spark.connect_progress import ConnectTracker
from toree_interpreters.spark.progress import JobProgress


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sc://h:1", "sc://h:1/;session_id=S;user_id=u"),
        ("sc://h:1/", "sc://h:1/;session_id=S;user_id=u"),
        ("sc://h:1/;token=t", "sc://h:1/;token=t;session_id=S;user_id=u"),
        ("sc://h:1/;user_id=me", "sc://h:1/;user_id=me;session_id=S"),
        ("sc://h:1/;session_id=X;user_id=me", "sc://h:1/;session_id=X;user_id=me"),  # the user's own is kept
    ],
)
def test_every_client_gets_the_same_session(url: str, expected: str) -> None:
    assert remote.with_session(url, "S", "u") == expected


def test_jar_urls_over_connect_are_local_files() -> None:
    assert remote.jar_path("file:///tmp/a%20b.jar") == "/tmp/a b.jar"
    assert remote.jar_path("/tmp/x.jar") == "/tmp/x.jar"
    with pytest.raises(ValueError, match="only local jars"):
        remote.jar_path("https://example.org/x.jar")


def stage(stage_id: int, tasks: int, completed: int, done: bool = False) -> SimpleNamespace:
    return SimpleNamespace(stage_id=stage_id, num_tasks=tasks, num_completed_tasks=completed, done=done)


def test_the_tracker_answers_what_job_progress_asks() -> None:
    tracker = ConnectTracker()
    tracker([stage(3, 4, 1)], 2, "op-a", False)
    tracker([stage(3, 4, 4, done=True), stage(4, 2, 0)], 2, "op-a", False)
    tracker([stage(7, 1, 1, done=True)], 0, "op-b", True)
    assert tracker.getJobIdsForGroup("any") == [0, 1]
    job = tracker.getJobInfo(0)
    assert job is not None and job.status == "RUNNING" and job.stageIds == [3, 4]
    assert tracker.getJobInfo(1).status == "SUCCEEDED"
    assert tracker.getJobInfo(9) is None
    first, second = tracker.getStageInfo(3), tracker.getStageInfo(4)
    assert (first.numCompletedTasks, first.numActiveTasks) == (4, 0)
    assert (second.numTasks, second.numActiveTasks) == (2, 2)


def test_job_progress_renders_a_connect_cell() -> None:
    shown: list[dict] = []
    sink = SimpleNamespace(display=lambda bundle, **kw: shown.append(bundle))
    tracker = ConnectTracker()
    progress = JobProgress(lambda: object(), "g", sink, tracker=tracker, delay=0.0, interval=0.01)
    tracker([stage(1, 4, 2)], 2, "op", False)
    progress._tick()
    assert "2/4 tasks" in shown[-1]["text/plain"]


def test_the_tracker_of_a_cell_takes_only_its_threads_operations() -> None:
    tracker = ConnectTracker(thread=threading.get_ident())
    other = threading.Thread(target=tracker, args=([stage(9, 2, 1)], 1, "op-other", False))  # a subshell's cell
    other.start()
    other.join()
    tracker([stage(3, 4, 1)], 2, "op-mine", False)
    assert tracker.getJobIdsForGroup("any") == [0] and tracker.getJobInfo(0).stageIds == [3]


def test_the_tracker_polls_the_scala_clients_reports() -> None:
    # What ToreeProgress.snapshot (scala/resources/connect_support.scala) answers, polled on each question round.
    snapshots = iter([
        '[["op-s", false, 2, [[5, 4, 1, false]]]]',
        '[["op-s", true, 0, [[5, 4, 4, true]]], ["op-t", false, 1, [[6, 2, 0, false]]]]',
    ])
    tracker = ConnectTracker(poll=lambda: next(snapshots))
    assert tracker.getJobIdsForGroup("toree-scala-1") == [0]
    assert tracker.getJobInfo(0).status == "RUNNING" and tracker.getStageInfo(5).numActiveTasks == 2
    assert tracker.getJobIdsForGroup("toree-scala-1") == [0, 1]
    assert tracker.getJobInfo(0).status == "SUCCEEDED" and tracker.getStageInfo(5).numCompletedTasks == 4
    assert tracker.getJobInfo(1).stageIds == [6]


def test_sc_in_scala_fails_like_in_python() -> None:
    report = "org.apache.spark.sql.toree.SparkConnectUnsupported: sc: the SparkContext is not available\n  ... 40 elided\n"
    failure = repl_output.failure("Error", report)
    assert failure.ename == "SparkConnectUnsupported"
    assert failure.evalue == "sc: the SparkContext is not available"


def test_the_client_classpath_puts_the_client_first_and_leaves_the_server_out(tmp_path: Path) -> None:
    with pytest.raises(SparkConnectUnsupported, match="connect-repl"):
        connect_jvm.classpath(tmp_path)
    (tmp_path / "jars" / "connect-repl").mkdir(parents=True)
    for name in ("connect-repl/spark-connect-client-jvm_2.13-4.0.0.jar", "spark-sql_2.13-4.0.0.jar",
                 "spark-connect_2.13-4.0.0.jar", "scala-library-2.13.16.jar", "spark-sql-api_2.13-4.0.0.jar"):
        (tmp_path / "jars" / name).touch()
    names = [Path(jar).name for jar in connect_jvm.classpath(tmp_path)]
    assert names == ["spark-connect-client-jvm_2.13-4.0.0.jar", "scala-library-2.13.16.jar", "spark-sql-api_2.13-4.0.0.jar"]


class FakeProcess:
    """A py4j-launched JVM as ConnectJvm sees it: it exits once its stdin is closed (die-on-broken-pipe),
    not when its gateway shuts down."""

    def __init__(self) -> None:
        self.returncode: int | None = None
        self.stdin = SimpleNamespace(close=self._exit)

    def _exit(self) -> None:
        self.returncode = 0

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            raise subprocess.TimeoutExpired("java", timeout or 0)
        return self.returncode

    def kill(self) -> None:
        self.returncode = -9


def test_the_kernel_has_one_client_jvm_launched_on_first_use(monkeypatch) -> None:
    """%AddDeps and the Scala REPL share it; a dead or stopped one is replaced by the next user."""
    launched: list[connect_jvm.ConnectJvm] = []

    def launch(cls) -> connect_jvm.ConnectJvm:
        launched.append(cls(SimpleNamespace(jvm=object(), shutdown=lambda: None), FakeProcess()))
        return launched[-1]

    monkeypatch.setattr(connect_jvm.ConnectJvm, "launch", classmethod(launch))
    manager = SparkSessionManager(["--remote", "sc://127.0.0.1:1"], init_mode="none")  # no session is needed
    holder = manager.client_jvm
    assert not holder.running and holder.launched is None and not launched
    assert manager.maven._jvm() is holder.get().jvm is launched[0].jvm  # what %AddDeps resolves in ...
    repl = ReplJvm(manager)
    gateway, build = repl.factory(None, 'var REQUEST: String = ""')
    assert gateway is launched[0].gateway  # ... and the REPL is built in, with the kernel's predef
    built: list[tuple] = []
    monkeypatch.setattr(connect_repl, "ReplBridge", lambda *args, **options: built.append((args, options)))
    build("-Xplugin:checks")
    (args, options), = built
    assert args[2:] == ("-Xplugin:checks", 'var REQUEST: String = ""') and options["jvm"] is launched[0].jvm
    assert len(launched) == 1 and repl.usable()
    launched[0].process.kill()  # it died: the REPL's is unusable, the next user launches another
    assert not repl.usable() and not holder.running
    assert holder.get() is launched[1]
    repl.stop()  # the REPL's server went away: its JVM is stopped (not killed), whoever launched it
    assert not holder.running and launched[1].process.poll() == 0
    manager.stop()
