"""Live Spark job progress for a running cell: one display, updated in place, finalized at cell end.

A background thread polls Spark's status tracker (``sc.statusTracker()``) for the cell's job group
every ``interval`` seconds. Nothing is shown until a job has been running for ``delay`` seconds, so
quick cells stay silent; updates are throttled to one per ``interval`` (5 per second by default),
far below the IOPub rates Jupyter Server drops. The renderer and the throttle are pure, for tests.

The poller never takes an interpreter's lock and never raises into the cell: a failing status
tracker (e.g. ``spark.stop()`` in the cell) just ends the display. The job and stage it names link to
their pages in the Spark UI (``ui.py``), when the driver has one.
"""

from __future__ import annotations

import contextlib
import html
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs

from ..contract import MimeBundle, OutputOptions, OutputSink
from ..threads import service_thread
from .ui import job_url, spark_ui_url, stage_url

log = logging.getLogger(__name__)

State = Literal["running", "done", "failed", "cancelled"]
_BAR_WIDTH = 30


@attrs.frozen
class StageProgress:
    stage_id: int
    num_tasks: int
    completed: int = 0
    active: int = 0
    failed: int = 0
    attempt: int = 0  # the stage's current attempt (the Spark UI's page of a stage is per attempt)


@attrs.frozen
class JobProgressInfo:
    job_id: int
    status: str  # Spark's JobExecutionStatus: RUNNING, SUCCEEDED, FAILED, UNKNOWN
    stage_ids: tuple[int, ...] = ()


@attrs.frozen
class Snapshot:
    """What the status tracker said about one cell's jobs, at one moment."""

    jobs: tuple[JobProgressInfo, ...]
    stages: tuple[StageProgress, ...]  # each stage once, even when several jobs share it
    elapsed: float
    state: State = "running"

    def _counted(self) -> list[StageProgress]:
        """Stages whose tasks count: a stage a finished job never ran (skipped: its shuffle output
        existed already) would keep the bar from ever reaching the end."""
        finished = {s for j in self.jobs if j.status != "RUNNING" for s in j.stage_ids}
        running = {s for j in self.jobs if j.status == "RUNNING" for s in j.stage_ids}
        return [
            s
            for s in self.stages
            if not (
                s.stage_id in finished and s.stage_id not in running and s.completed == 0 and s.active == 0
            )
        ]

    @property
    def total_tasks(self) -> int:
        return sum(s.num_tasks for s in self._counted())

    @property
    def completed_tasks(self) -> int:
        return sum(min(s.completed, s.num_tasks) for s in self._counted())

    @property
    def running_jobs(self) -> int:
        return sum(1 for j in self.jobs if j.status == "RUNNING")

    @property
    def current_job(self) -> int | None:
        running = [j.job_id for j in self.jobs if j.status == "RUNNING"]
        return max(running or [j.job_id for j in self.jobs], default=None)

    @property
    def current_stage(self) -> int | None:
        active = [s.stage_id for s in self.stages if s.active > 0]
        if active:
            return max(active)
        running = {s for j in self.jobs if j.status == "RUNNING" for s in j.stage_ids}
        pending = [s.stage_id for s in self.stages if s.stage_id in running and s.completed < s.num_tasks]
        return min(pending) if pending else max((s.stage_id for s in self.stages), default=None)

    def key(self) -> tuple[Any, ...]:
        """What a new display would show differently (the clock aside)."""
        return (
            self.state,
            self.completed_tasks,
            self.total_tasks,
            self.current_stage,
            self.current_job,
            self.running_jobs,
            sum(s.active for s in self.stages),
        )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_text(snap: Snapshot, ui: str | None = None) -> str:
    """One line, and the Spark UI page of the job it names on a second one (``ui``: the UI's address)."""
    link = f"\nSpark UI: {job_url(ui, snap.current_job)}" if ui and snap.current_job is not None else ""
    return _line(snap) + link


def _line(snap: Snapshot) -> str:
    done, total = snap.completed_tasks, snap.total_tasks
    if snap.state != "running":
        return f"{snap.state}: {done}/{total} tasks in {_plural(len(snap.jobs), 'job')}, {snap.elapsed:.1f} s"
    filled = int(_BAR_WIDTH * done / total) if total else 0
    bar = ("=" * filled + ">").ljust(_BAR_WIDTH)[:_BAR_WIDTH] if filled < _BAR_WIDTH else "=" * _BAR_WIDTH
    parts = [f"[{bar}] {done}/{total} tasks"]
    if snap.current_stage is not None:
        parts.append(f"stage {snap.current_stage}")
    if snap.current_job is not None:
        parts.append(f"job {snap.current_job} ({snap.running_jobs} running)")
    return ", ".join(parts) + f" {snap.elapsed:.1f} s"


_COLORS = {"running": "#2f81f7", "done": "#2da44e", "failed": "#cf222e", "cancelled": "#9a6700"}


def render(snap: Snapshot, ui: str | None = None) -> MimeBundle:
    """The display bundle: a text bar for consoles, a small styled bar for notebooks; the job and stage
    it names link to their Spark UI pages when ``ui`` (the UI's address) is known."""
    line = _line(snap)
    total = snap.total_tasks
    percent = 100.0 if snap.state == "done" else (100.0 * snap.completed_tasks / total if total else 0.0)
    label = html.escape(line.split("] ", 1)[1] if snap.state == "running" else line)
    if ui:
        label = _linked(label, snap, ui)
    color = _COLORS.get(snap.state, "#2f81f7")
    markup = (
        '<div class="toree-progress" style="font-family:monospace;font-size:12px;line-height:18px">'
        '<span style="display:inline-block;width:200px;height:10px;border:1px solid #8c959f;'
        'border-radius:3px;background:#eaeef2;vertical-align:middle;overflow:hidden">'
        f'<span style="display:block;width:{percent:.1f}%;height:100%;background:{color}"></span></span>'
        f" <span>{label}</span></div>"
    )
    return {"text/plain": render_text(snap, ui), "text/html": markup}


def _linked(label: str, snap: Snapshot, ui: str) -> str:
    """``label`` (escaped) with "job N" and "stage M" as links to their Spark UI pages; a finished
    display links its last job."""

    def anchor(url: str, text: str) -> str:
        return f'<a href="{html.escape(url)}" target="_blank" rel="noopener">{text}</a>'

    job, stage = snap.current_job, snap.current_stage
    if snap.state == "running":
        if stage is not None:
            attempt = next((s.attempt for s in snap.stages if s.stage_id == stage), 0)
            label = label.replace(f"stage {stage}", anchor(stage_url(ui, stage, attempt), f"stage {stage}"), 1)
        if job is not None:
            label = label.replace(f"job {job}", anchor(job_url(ui, job), f"job {job}"), 1)
        return label
    return label + (f" ({anchor(job_url(ui, job), 'Spark UI')})" if job is not None else "")


@attrs.define
class Throttle:
    """When to publish. Nothing until some job has run ``delay`` seconds; then at most one update
    per ``interval``, only when something changed (or ``heartbeat`` passed, so the clock moves)."""

    delay: float = 0.5
    interval: float = 0.2
    heartbeat: float = 1.0
    shown: bool = False
    _last: float | None = None
    _last_key: Any = None

    def should_publish(self, now: float, running_since: float | None, key: Any) -> bool:
        if not self.shown and (running_since is None or now - running_since < self.delay):
            return False
        if self._last is not None:
            since = now - self._last
            if since < self.interval - 1e-9 or (key == self._last_key and since < self.heartbeat):
                return False
        self._last, self._last_key, self.shown = now, key, True
        return True


class JobProgress:
    """Polls one cell's job group and publishes its progress to ``sink`` as one updating display.

    ``with JobProgress(...)`` or ``start()`` / ``stop()``. ``interrupted`` tells at the end whether
    the cell was interrupted (the final state reads "cancelled" then).
    """

    def __init__(
        self,
        session: Callable[[], Any],
        group: str,
        sink: OutputSink,
        *,
        interrupted: Callable[[], bool] | None = None,
        interval: float = 0.2,
        delay: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        tracker: Any = None,
    ) -> None:
        """``tracker``: what to poll instead of the session's status tracker (Spark Connect has none)."""
        self._session = session
        self._tracker = tracker
        self._group = group
        self._sink = sink
        self._interrupted = interrupted
        self._interval = interval
        self._clock = clock
        self._throttle = Throttle(delay=delay, interval=interval)
        self._display_id = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = clock()
        self._first_seen: dict[int, float] = {}  # job id -> when the poller first saw it
        self._final_jobs: dict[int, JobProgressInfo] = {}  # finished jobs, not asked again
        self._final_stages: dict[int, StageProgress] = {}
        self._failed = False  # the tracker failed: stop quietly
        self._published = False  # the first display went out: later ones are updates
        self._ui: str | None = None  # the Spark UI's address, asked for with the first display

    @classmethod
    def for_cell(
        cls,
        session: Callable[[], Any],
        group: str | None,
        sink: OutputSink,
        options: OutputOptions | None,
        **kw: Any,
    ) -> JobProgress | None:
        """Progress for a cell (not started yet), or None when it's switched off or there's no job group.
        Keep the object before calling ``start()``, so an interrupt in between can't orphan the poller."""
        try:
            if group is None or (options is not None and not options.progress) or session() is None:
                return None
            return cls(session, group, sink, **kw)
        except Exception:
            log.debug("could not set up job progress", exc_info=True)
            return None

    def start(self) -> None:
        if self._thread is not None or self._stop.is_set():
            return
        self._started = self._clock()
        self._thread = service_thread(threading.Thread(target=self._run, name="toree-job-progress", daemon=True))
        try:
            self._thread.start()
        except Exception:  # no threads left: the cell runs without progress
            log.debug("could not start job progress", exc_info=True)

    def stop(self, timeout: float = 1.5) -> None:
        """End polling and publish the final state (if anything was shown). Never raises."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> JobProgress:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # The poller -----------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.wait(self._interval):
                self._tick()
                if self._failed:
                    return
            self._finish()
        except Exception:
            log.debug("job progress failed", exc_info=True)

    def _tick(self) -> None:
        snap = self._poll()
        if snap is None:
            return
        now = self._clock()
        running = [self._first_seen[j.job_id] for j in snap.jobs if j.status == "RUNNING"]
        if self._throttle.should_publish(now, min(running, default=None), snap.key()):
            self._publish(snap, update=self._published)
            self._published = True

    def _finish(self) -> None:
        if not self._published or self._failed:
            return
        snap = self._poll()
        deadline = self._clock() + 0.5  # the tracker hears of job ends a moment after the action returns
        while snap is not None and snap.running_jobs and self._clock() < deadline:
            time.sleep(0.05)
            snap = self._poll()
        if snap is None:
            return
        interrupted = False
        with contextlib.suppress(Exception):
            interrupted = bool(self._interrupted and self._interrupted())
        if interrupted:
            state: State = "cancelled"
        elif any(j.status == "FAILED" for j in snap.jobs):
            state = "failed"
        else:
            state = "done"
        self._publish(attrs.evolve(snap, state=state), update=True)

    def _publish(self, snap: Snapshot, update: bool) -> None:
        if not self._published:
            with contextlib.suppress(Exception):
                self._ui = spark_ui_url(self._session())
        try:
            self._sink.display(render(snap, self._ui), display_id=self._display_id, update=update)
        except Exception:
            log.debug("could not publish job progress", exc_info=True)
            self._failed = True

    def _poll(self) -> Snapshot | None:
        try:
            session = self._session()
            if session is None:
                return None
            tracker = self._tracker or session.sparkContext.statusTracker()
            jobs, stages = self._collect(tracker, tracker.getJobIdsForGroup(self._group))
        except Exception:
            log.debug("status tracker failed", exc_info=True)
            self._failed = True
            return None
        return Snapshot(tuple(jobs), tuple(stages), self._clock() - self._started)

    def _collect(
        self, tracker: Any, job_ids: Iterable[int]
    ) -> tuple[list[JobProgressInfo], list[StageProgress]]:
        now = self._clock()
        jobs: list[JobProgressInfo] = []
        stages: dict[int, StageProgress] = {}
        for job_id in sorted(job_ids):
            job = self._final_jobs.get(job_id)
            if job is None:
                info = tracker.getJobInfo(job_id)
                if info is None:
                    continue
                job = JobProgressInfo(job_id, str(info.status), tuple(info.stageIds))
                self._first_seen.setdefault(job_id, now)
            jobs.append(job)
            for stage_id in job.stage_ids:
                if stage_id in stages:
                    continue
                stage = self._final_stages.get(stage_id)
                if stage is None:
                    info = tracker.getStageInfo(stage_id)
                    if info is None:
                        continue
                    stage = StageProgress(
                        stage_id,
                        info.numTasks,
                        info.numCompletedTasks,
                        info.numActiveTasks,
                        info.numFailedTasks,
                        int(getattr(info, "currentAttemptId", 0) or 0),
                    )
                stages[stage_id] = stage
            if job.status != "RUNNING" and job_id not in self._final_jobs:
                self._final_jobs[job_id] = job
                for stage_id in job.stage_ids:
                    if stage_id in stages:
                        self._final_stages[stage_id] = stages[stage_id]
        return jobs, sorted(stages.values(), key=lambda s: s.stage_id)
