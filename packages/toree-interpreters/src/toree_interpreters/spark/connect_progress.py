"""Spark Connect progress: what the server streams with each operation's results, as a status tracker.

There is no status tracker on a Connect client; instead pyspark calls a progress handler
(``registerProgressHandler``) with each operation's stages as they run. ``ConnectTracker`` is that
handler and answers the three questions ``JobProgress`` asks of Spark's tracker, one "job" per
operation, so a cell's progress display looks the same as on the classic session. Scala cells run in a
client JVM of their own, which has no handler: a gRPC interceptor there keeps the server's reports
(``ToreeProgress`` in scala/resources/connect_support.scala) and the tracker polls them as JSON.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any


class ConnectTracker:
    """The progress of one cell's Connect operations (handler and tracker in one; thread-safe)."""

    def __init__(self, poll: Callable[[], str] | None = None, thread: int | None = None) -> None:
        """``poll``: where the reports come from when nothing calls the tracker as a handler (the Scala
        client's ``ToreeProgress.snapshot`` of the cell's tag). ``thread``: the cell's; a handler is the
        client's, called for every thread's operations (cells on subshells run at the same time)."""
        self._poll = poll
        self._thread = thread
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[int, bool, list[int]]] = {}  # operation id -> (job number, done, stages)
        self._stages: dict[int, SimpleNamespace] = {}

    def __call__(self, stages: Iterable[Any] | None, inflight_tasks: int, operation_id: str | None, done: bool) -> None:
        """pyspark's progress handler signature; called on the thread that runs the operation."""
        if self._thread is not None and threading.get_ident() != self._thread:
            return  # another cell's operation
        key = operation_id or "?"
        with self._lock:
            number, _, stage_ids = self._jobs.get(key, (len(self._jobs), False, []))
            inflight = inflight_tasks
            for stage in stages or ():
                if stage.stage_id not in stage_ids:
                    stage_ids.append(stage.stage_id)
                active = 0 if stage.done else min(inflight, stage.num_tasks - stage.num_completed_tasks)
                inflight -= active
                self._stages[stage.stage_id] = SimpleNamespace(
                    numTasks=stage.num_tasks, numCompletedTasks=stage.num_completed_tasks,
                    numActiveTasks=active, numFailedTasks=0,
                )
            self._jobs[key] = (number, done, stage_ids)

    def feed(self, snapshot: str) -> None:
        """Reports polled from the Scala client: ``[[operation id, done, in flight, [[stage, tasks,
        completed, done], ...]], ...]``."""
        for operation_id, done, inflight, stages in json.loads(snapshot):
            infos = [SimpleNamespace(stage_id=s, num_tasks=n, num_completed_tasks=c, done=d) for s, n, c, d in stages]
            self(infos, inflight, operation_id, done)

    # What JobProgress asks of Spark's status tracker ----------------------------------------------
    def getJobIdsForGroup(self, group: str) -> list[int]:
        if self._poll is not None:  # asked first on each of JobProgress's polls
            self.feed(self._poll())
        with self._lock:
            return [number for number, _, _ in self._jobs.values()]

    def getJobInfo(self, job_id: int) -> SimpleNamespace | None:
        with self._lock:
            for number, done, stage_ids in self._jobs.values():
                if number == job_id:
                    return SimpleNamespace(status="SUCCEEDED" if done else "RUNNING", stageIds=list(stage_ids))
        return None

    def getStageInfo(self, stage_id: int) -> SimpleNamespace | None:
        with self._lock:
            return self._stages.get(stage_id)
