"""How the kernel process ends: one path, within a deadline, whatever the kernel is doing.

``shutdown_request``, SIGTERM and a vanished parent (the server was killed, even with SIGKILL) all call
``Lifecycle.shutdown``. At once it stops serving, interrupts every running cell (waking a main-shell cell
that sleeps), stops the rooms (each ``Interpreter.shutdown`` on a thread of its own, so a slow one cannot
hold up the others) and the Spark session (a launch in progress is killed; a running JVM is told to exit
and killed ``SPARK_S`` later), then ends every process still below the kernel (an R room's R, a
``!cmd``): nothing outlives the kernel. The main shell's loop returns meanwhile; a cell that ignores all
of this is not waited for: at ``DEADLINE_S`` the process exits anyway.

States this covers (README, "Shutdown"): idle, a running cell (Python, Scala, SQL, a magic), Spark still
starting, the Scala REPL being built, after an interrupt.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable

from toree_interpreters import SparkSessionManager, process_tree
from toree_interpreters.contract import Interpreter

log = logging.getLogger(__name__)

ROOMS_S = 0.4  # the rooms' shutdown() run this long at most (alongside Spark's stop)
SPARK_S = 0.8  # the driver JVM's time to exit by itself (SparkContext.stop in its shutdown hook)
DEADLINE_S = 1.5  # from the request to the process's exit, whatever a cell does
PARENT_POLL_S = 0.5


class Lifecycle:
    """Ends the kernel (see the module docstring). ``stop_serving`` and ``interrupt`` are the server's and
    the kernel's; ``cleanup`` runs last (sockets, history, scratch files)."""

    def __init__(
        self,
        *,
        stop_serving: Callable[[], None],
        interrupt: Callable[[], object],
        main_busy: Callable[[], bool],
        rooms: Iterable[Interpreter],
        spark: SparkSessionManager,
        cleanup: Callable[[], None],
    ) -> None:
        self._stop_serving, self._interrupt, self._main_busy = stop_serving, interrupt, main_busy
        self._rooms, self._spark, self._cleanup = list(rooms), spark, cleanup
        self._lock = threading.Lock()
        self._started: float | None = None
        self._main_back = threading.Event()  # the main shell's loop returned
        self._stopped = threading.Event()  # rooms, Spark and child processes are stopped
        self.reason = ""

    @property
    def shutting_down(self) -> bool:
        return self._started is not None

    def shutdown(self, reason: str) -> None:
        """Begin ending the kernel (from any thread, a signal handler included; idempotent); returns at once."""
        with self._lock:
            if self._started is not None:
                return
            self._started = time.monotonic()
            self.reason = reason
        log.info("shutting down: %s", reason)
        threading.Thread(target=self._run, name="toree-shutdown", daemon=True).start()

    def main_returned(self) -> None:
        """The main thread, once its serving loop returned: finish the shutdown and clean up (bounded)."""
        self.shutdown("the main shell stopped")
        self._main_back.set()
        assert self._started is not None
        self._stopped.wait(max(0.0, self._started + DEADLINE_S - time.monotonic()))
        self._cleanup_once()

    def _run(self) -> None:
        assert self._started is not None
        try:
            self._stop_serving()
            self._interrupt()  # cancels Spark jobs, KeyboardInterrupt into Python cells, stops Scala lines
            if self._main_busy():  # a main-shell cell in a sleep or a blocking call wakes up for it
                signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
            rooms = self._stop_rooms()
            self._spark.stop(SPARK_S, exiting=True)
            end = time.monotonic() + ROOMS_S
            for thread in rooms:
                thread.join(max(0.0, end - time.monotonic()))
            process_tree.end_descendants(grace=0.15)
        except Exception:  # whatever failed, the process must still end
            log.exception("stopping the kernel failed")
        finally:
            self._stopped.set()
        if not self._main_back.wait(max(0.0, self._started + DEADLINE_S - time.monotonic())):
            log.warning(
                "a cell did not stop within %.1f s of the shutdown (%s): exiting; it was at\n%s",
                DEADLINE_S,
                self.reason,
                _main_stack(),
            )
            exit_now(0)  # no cleanup: past the deadline, and the process's end closes the sockets

    def _stop_rooms(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=_shutdown_room, args=(room,), name=f"stop-{room.name}", daemon=True)
            for room in self._rooms
        ]
        for thread in threads:
            thread.start()
        return threads

    def _cleanup_once(self) -> None:
        with self._lock:
            cleanup, self._cleanup = self._cleanup, lambda: None
        try:
            cleanup()
        except Exception:
            log.exception("cleaning up after the shutdown failed")


def _shutdown_room(room: Interpreter) -> None:
    try:
        room.shutdown()
    except Exception:
        log.exception("shutting down %s failed", room.name)


def _main_stack() -> str:
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    return "".join(traceback.format_stack(frame, limit=8)) if frame is not None else "(unknown)"


def exit_now(code: int) -> None:
    """Leave the process at once: no waiting for threads a cell started and left running."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass
    logging.shutdown()
    os._exit(code)


def watch_parent(on_gone: Callable[[str], None], environ: dict[str, str] | None = None) -> threading.Thread | None:
    """Call ``on_gone`` when the process that launched the kernel is gone (the server was killed, even with
    SIGKILL, and the kernel was re-parented). jupyter_client names that process in ``JPY_PARENT_PID``;
    without it (a kernel started by hand), or when it is not our parent to begin with, nothing is watched."""
    env = os.environ if environ is None else environ
    try:
        parent = int(env.get("JPY_PARENT_PID") or 0)
    except ValueError:
        return None
    if parent <= 1 or parent != os.getppid():
        return None

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        on_gone(f"the process that started the kernel ({parent}) is gone")

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread
