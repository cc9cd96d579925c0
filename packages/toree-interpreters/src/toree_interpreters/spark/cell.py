"""One cell's time on the Spark session, the same for every language.

A ``SparkCell`` puts the cell's Spark jobs in a job group of their own (a tag on Spark Connect), shows
their live progress, cancels exactly them on interrupt — also the ones the cell starts after the
interrupt arrived — and turns what Spark throws at the end of a cell (a dead JVM, a driver out of
memory, a cancelled job) into an outcome a user can read. Interpreters create one per cell and never
touch job groups themselves, so every language interrupts, reports and cleans up alike.

Job groups belong to a thread: ``attach`` and ``end`` run on the thread that makes the cell's Spark
calls; ``interrupt`` may come from any thread, a signal handler included, and never blocks.
"""

from __future__ import annotations

import itertools
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from ..contract import ExecuteOutcome, OutputOptions, OutputSink
from ..threads import service_thread
from .connect_progress import ConnectTracker
from .errors import cancelled, driver_out_of_memory, lost
from .progress import JobProgress
from .session import SparkSessionManager, is_connect

log = logging.getLogger(__name__)

CANCEL_POLL_S = 0.05  # how often an interrupted cell's new jobs are looked for (and cancelled)
_numbers = itertools.count(1)


class SparkCell:
    """A cell's job group, progress display and interrupt; a context manager that ends them."""

    def __init__(
        self,
        spark: SparkSessionManager,
        sink: OutputSink,
        options: OutputOptions | None = None,
        *,
        language: str = "",
    ) -> None:
        self.spark = spark
        self.sink = sink
        self.options = options
        number = next(_numbers)
        self.group = f"toree-{language.lower() or 'cell'}-{number}-{uuid.uuid4().hex[:8]}"
        self.description = f"Toree {language + ' ' if language else ''}cell {number}"
        self.interrupts = 0  # interrupts received so far
        self._session: Any = None  # the session the group is set on, once attached
        self._progress: JobProgress | None = None
        self._tracker: ConnectTracker | None = None  # Spark Connect: the progress handler of the cell
        self._ended = threading.Event()
        self._watcher: threading.Thread | None = None
        self._on_tick: Callable[[], None] | None = None
        self._watch_lock = threading.Lock()  # one cancelling thread per cell

    @property
    def interrupted(self) -> bool:
        return self.interrupts > 0

    # Start and end ---------------------------------------------------------------------------------
    def session(self) -> Any:
        """The session (started or waited for as needed; SparkUnavailable says why not), with a new
        session announced on the cell's stderr and the calling thread's jobs in this cell's group."""
        session = self.spark.get()
        self.attach(session)
        return session

    def attach(self, session: Any, reports: Callable[[], str] | None = None) -> None:
        """Run the calling thread's next Spark jobs in this cell's group and show their progress.
        Once per cell; a failure to set the group only costs the cell its interruptibility.
        ``reports``: on Spark Connect, where a client other than ``session`` reports its progress
        (``ConnectTracker``'s poll; the Scala client JVM)."""
        self.spark.announce(self.sink)  # the JVM died since the last cell: say so before anything else
        if self._session is not None or self._ended.is_set():
            return
        try:
            if is_connect(session):
                session.addTag(self.group)
            else:
                session.sparkContext.setJobGroup(self.group, self.description, interruptOnCancel=True)
        except Exception:
            log.warning("could not set the Spark job group", exc_info=True)
            return
        self._session = session  # from here on the cancelling thread cancels this group
        tracker = None
        if is_connect(session) and reports is not None:
            tracker = ConnectTracker(poll=reports)
        elif is_connect(session):  # no status tracker: the client's progress handler feeds one
            tracker = self._tracker = ConnectTracker(thread=threading.get_ident())  # attach: the cell's thread
            try:
                session.registerProgressHandler(tracker)
            except Exception:  # an older client: no progress
                log.debug("no Spark Connect progress handler", exc_info=True)
                return
        progress = self._progress = JobProgress.for_cell(
            lambda: self.spark.session_if_ready,
            self.group,
            self.sink,
            self.options,
            interrupted=lambda: self.interrupted,
            tracker=tracker,
        )
        if progress is not None:
            progress.start()

    def end(self) -> None:
        """Stop the progress display (its final state goes out before the cell's result), stop
        cancelling, and take the thread out of the job group. Idempotent; never raises."""
        if self._ended.is_set():
            return
        self._ended.set()
        self.spark.catalog_names.invalidate()  # the cell may have created or dropped views and functions
        progress, self._progress = self._progress, None
        if progress is not None:
            progress.stop()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(1.0)
        session = self._session
        if session is None:
            return
        try:
            if is_connect(session):
                if self.interrupted:  # the server may still run what the cell left behind
                    session.interruptTag(self.group)
                session.removeTag(self.group)
                if self._tracker is not None:
                    session.removeProgressHandler(self._tracker)
            else:
                session.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        except Exception:
            log.debug("could not clear the job group", exc_info=True)

    def __enter__(self) -> SparkCell:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()

    # Interrupt -------------------------------------------------------------------------------------
    def interrupt(self, on_tick: Callable[[], None] | None = None) -> None:
        """Cancel the cell's Spark jobs, now and as they start, until the cell ends. ``on_tick`` (the
        first interrupt's) runs on the cancelling thread every ``CANCEL_POLL_S``: a language's own way to
        stop its code (KeyboardInterrupt in Python, the REPL thread in Scala). Harmless after the end."""
        if self._ended.is_set():
            return
        self.interrupts += 1
        # Never waits: a SIGINT handler may land here while its own thread is inside this method.
        if not self._watch_lock.acquire(blocking=False):
            return  # another interrupt is starting the cancelling thread
        try:
            if self._watcher is not None:
                return
            self._on_tick = on_tick
            self._watcher = service_thread(
                threading.Thread(target=self._cancel_until_end, name="toree-cancel", daemon=True)
            )
        finally:
            self._watch_lock.release()
        self._watcher.start()

    def _cancel_until_end(self) -> None:
        first, failed = True, False
        while not self._ended.is_set() and not self.spark.stopping:  # no JVM to ask once the kernel stops
            session = self._session
            if session is not None:
                try:
                    self._cancel(session, everything=first)
                    first = False
                except Exception:
                    if not failed:  # once per cell: it polls every CANCEL_POLL_S
                        log.warning("cancelling Spark job group %s failed", self.group, exc_info=True)
                    failed = True
            if self._on_tick is not None:
                try:
                    self._on_tick()
                except Exception:
                    log.warning("stopping the interrupted cell failed", exc_info=True)
            self._ended.wait(CANCEL_POLL_S)

    def _cancel(self, session: Any, *, everything: bool) -> None:
        if is_connect(session):
            session.interruptTag(self.group)
            return
        context = session.sparkContext
        if not everything:  # after the first cancel: only when the cell started new jobs
            tracker = context.statusTracker()
            if not set(tracker.getActiveJobsIds()) & set(tracker.getJobIdsForGroup(self.group)):
                return
        context.cancelJobGroup(self.group)

    # Outcomes --------------------------------------------------------------------------------------
    def failure(self, exc: BaseException) -> ExecuteOutcome | None:
        """What the cell ended with when Spark is why ``exc`` was raised: the JVM died (SparkUnavailable),
        the cell was interrupted (its jobs were cancelled), the driver ran out of memory. None otherwise:
        the language reports ``exc`` its own way."""
        dead = self.spark.died(exc)
        if dead is not None:
            return lost(dead)
        if self.interrupted:
            return cancelled()
        oom = driver_out_of_memory(exc)
        if oom is not None:
            return ExecuteOutcome.failed("OutOfMemoryError", oom, [f"OutOfMemoryError: {oom}"])
        return None
