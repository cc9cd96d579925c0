"""Spark job progress: the pure renderer and throttle, and the poller against a fake status tracker."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from toree_interpreters.contract import OutputOptions
from toree_interpreters.spark.progress import (
    JobProgress,
    JobProgressInfo,
    Snapshot,
    StageProgress,
    Throttle,
    render,
    render_text,
)


def snap(state: str = "running", elapsed: float = 4.2) -> Snapshot:
    return Snapshot(
        jobs=(JobProgressInfo(1, "SUCCEEDED", (1, 2)), JobProgressInfo(2, "RUNNING", (2, 3))),
        stages=(StageProgress(1, 8, 8), StageProgress(2, 8, 0), StageProgress(3, 32, 4, active=4)),
        elapsed=elapsed,
        state=state,  # type: ignore[arg-type]
    )


def test_running_text_bar_counts_tasks_and_names_stage_and_job() -> None:
    s = snap()
    # stage 2 was skipped by job 1 but job 2 still needs it: it counts
    assert (s.completed_tasks, s.total_tasks, s.current_stage, s.current_job, s.running_jobs) == (
        12,
        48,
        3,
        2,
        1,
    )
    text = render_text(s)
    assert text == "[=======>" + " " * 22 + "] 12/48 tasks, stage 3, job 2 (1 running) 4.2 s"


def test_skipped_stages_of_finished_jobs_do_not_count_and_final_states() -> None:
    done = Snapshot(
        jobs=(JobProgressInfo(0, "SUCCEEDED", (0, 1)),),
        stages=(StageProgress(0, 8, 0), StageProgress(1, 4, 4)),  # stage 0 skipped (shuffle reused)
        elapsed=5.06,
        state="done",
    )
    assert render_text(done) == "done: 4/4 tasks in 1 job, 5.1 s"
    assert render_text(snap("cancelled", 2.0)).startswith("cancelled: 12/48 tasks in 2 jobs, 2.0 s")
    assert "width:100.0%" in render(done)["text/html"]


def test_html_is_escaped_and_has_a_bar() -> None:
    bundle = render(snap())
    assert set(bundle) == {"text/plain", "text/html"}
    html = bundle["text/html"]
    assert "width:25.0%" in html and "12/48 tasks" in html and "<script" not in html
    evil = Snapshot(jobs=(), stages=(), elapsed=0.0, state="<b>x</b>")  # type: ignore[arg-type]
    assert "<b>" not in render(evil)["text/html"] and "&lt;b&gt;" in render(evil)["text/html"]


UI = "http://driver.example:4041"


def test_the_job_and_stage_link_to_their_spark_ui_pages() -> None:
    bundle = render(snap(), UI)
    page = bundle["text/html"]
    assert f'<a href="{UI}/jobs/job/?id=2" target="_blank" rel="noopener">job 2</a>' in page
    assert f'<a href="{UI}/stages/stage/?id=3&amp;attempt=0" target="_blank" rel="noopener">stage 3</a>' in page
    assert bundle["text/plain"] == render_text(snap()) + f"\nSpark UI: {UI}/jobs/job/?id=2"
    retried = Snapshot(jobs=(JobProgressInfo(4, "RUNNING", (7,)),), stages=(StageProgress(7, 2, 1, 1, 1, 1),), elapsed=1)
    assert f"{UI}/stages/stage/?id=7&amp;attempt=1" in render(retried, UI)["text/html"]
    finished = render(snap("done"), UI)  # the last job's page
    assert f'(<a href="{UI}/jobs/job/?id=2" target="_blank" rel="noopener">Spark UI</a>)' in finished["text/html"]
    assert finished["text/plain"].endswith(f"\nSpark UI: {UI}/jobs/job/?id=2")


def test_without_a_spark_ui_nothing_links() -> None:
    bundle = render(snap(), None)
    assert "<a " not in bundle["text/html"] and "Spark UI" not in bundle["text/plain"]
    assert bundle["text/plain"] == render_text(snap())


def fake_session(conf: dict[str, str], web_url: str | None = "http://10.1.2.3:4040/") -> Any:
    context = SimpleNamespace(
        getConf=lambda: SimpleNamespace(get=lambda key, default=None: conf.get(key, default)),
        uiWebUrl=web_url,
        applicationId="app-20260101-0007",
    )
    return SimpleNamespace(sparkContext=context)


def test_the_spark_ui_address_is_the_drivers_or_its_reverse_proxy_or_none() -> None:
    from toree_interpreters.spark.ui import spark_ui_url

    assert spark_ui_url(fake_session({})) == "http://10.1.2.3:4040"
    assert spark_ui_url(fake_session({"spark.ui.enabled": "false"})) is None
    assert spark_ui_url(fake_session({}, web_url=None)) is None
    proxied = {"spark.ui.reverseProxy": "true", "spark.ui.reverseProxyUrl": "https://spark.example/gw/"}
    assert spark_ui_url(fake_session(proxied)) == "https://spark.example/gw/proxy/app-20260101-0007"
    assert spark_ui_url(None) is None
    connect = type("SparkSession", (), {"__module__": "pyspark.sql.connect.session"})()
    assert spark_ui_url(connect) is None  # the driver is the Connect server's: no link rather than a wrong one


def test_throttle_waits_for_a_job_to_run_half_a_second_then_at_most_five_per_second() -> None:
    t = Throttle(delay=0.5, interval=0.2, heartbeat=1.0)
    assert not t.should_publish(0.0, None, "a")  # no job yet
    assert not t.should_publish(0.4, 0.0, "a")  # running 0.4 s: too early
    assert t.should_publish(0.5, 0.0, "a") and t.shown
    assert not t.should_publish(0.6, 0.0, "b")  # 0.1 s later: too soon
    assert t.should_publish(0.7, 0.0, "b")
    assert not t.should_publish(0.9, None, "b")  # nothing changed
    assert t.should_publish(1.7, None, "b")  # ... but the clock moves once a second
    published = sum(t.should_publish(2 + i / 100, 0.0, i) for i in range(100))  # a key change every 10 ms
    assert published <= 5


class FakeTracker:
    """Two stages of one job; every poll completes two more tasks."""

    def __init__(self) -> None:
        self.polls = 0
        self.finished = False

    def getJobIdsForGroup(self, group: str) -> list[int]:
        assert group == "g"
        self.polls += 1
        return [7]

    def getJobInfo(self, job_id: int) -> Any:
        return SimpleNamespace(status="SUCCEEDED" if self.finished else "RUNNING", stageIds=[10, 11])

    def getStageInfo(self, stage_id: int) -> Any:
        done = min(8, 2 * self.polls) if stage_id == 10 else max(0, min(8, 2 * self.polls - 8))
        if self.finished:
            done = 8
        return SimpleNamespace(
            numTasks=8, numCompletedTasks=done, numActiveTasks=0 if self.finished else 2, numFailedTasks=0
        )


class RecordingSink:
    def __init__(self) -> None:
        self.displays: list[tuple[dict, str | None, bool]] = []
        self.lock = threading.Lock()

    def display(
        self, data: dict, metadata: Any = None, *, display_id: str | None = None, update: bool = False
    ):
        with self.lock:
            self.displays.append((data, display_id, update))

    def stream(self, name: str, text: str) -> None: ...
    def clear_output(self, wait: bool = False) -> None: ...
    def input(self, prompt: str, password: bool = False) -> str:
        return ""


def session_with(tracker: FakeTracker) -> Any:
    return SimpleNamespace(sparkContext=SimpleNamespace(statusTracker=lambda: tracker))


def test_poller_shows_one_display_updates_it_and_finalizes() -> None:
    tracker, sink = FakeTracker(), RecordingSink()
    progress = JobProgress.for_cell(
        lambda: session_with(tracker), "g", sink, OutputOptions(), interval=0.05, delay=0.1
    )
    assert progress is not None
    progress.start()
    time.sleep(0.6)
    tracker.finished = True
    started = time.monotonic()
    progress.stop()
    assert time.monotonic() - started < 0.5
    first, *updates = sink.displays
    assert first[2] is False and first[1] and updates and all(u[2] and u[1] == first[1] for u in updates)
    assert updates[-1][0]["text/plain"].startswith("done: 16/16 tasks in 1 job")
    counts = [int(d[0]["text/plain"].split("] ")[1].split("/")[0]) for d in sink.displays[:-1]]
    assert counts == sorted(counts) and counts[-1] > counts[0]


def test_quick_cells_switched_off_or_broken_trackers_show_nothing_and_never_raise() -> None:
    tracker, sink = FakeTracker(), RecordingSink()
    quick = JobProgress.for_cell(lambda: session_with(tracker), "g", sink, OutputOptions())
    assert quick is not None
    quick.start()
    quick.stop()  # before the first poll: not even a py4j call
    assert tracker.polls == 0 and sink.displays == []
    assert (
        JobProgress.for_cell(lambda: session_with(tracker), "g", sink, OutputOptions(progress=False)) is None
    )
    assert JobProgress.for_cell(lambda: None, "g", sink, OutputOptions()) is None
    assert JobProgress.for_cell(lambda: session_with(tracker), None, sink, OutputOptions()) is None

    def broken() -> Any:
        raise RuntimeError("spark stopped")

    failing = JobProgress(broken, "g", sink, interval=0.01, delay=0.0)
    failing.start()
    time.sleep(0.1)
    failing.stop()
    assert sink.displays == []


def test_an_interrupted_cell_ends_as_cancelled() -> None:
    tracker, sink = FakeTracker(), RecordingSink()
    progress = JobProgress(
        lambda: session_with(tracker), "g", sink, interval=0.02, delay=0.0, interrupted=lambda: True
    )
    progress.start()
    time.sleep(0.15)
    progress.stop()
    assert sink.displays and sink.displays[-1][0]["text/plain"].startswith("cancelled: ")
