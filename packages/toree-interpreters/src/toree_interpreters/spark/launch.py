"""Cancelling a driver JVM launch in progress, so stopping never waits for a session that is still starting.

pyspark launches the JVM inside ``getOrCreate()``: ``bin/spark-submit`` (a shell script that runs Spark's
launcher, a short-lived JVM of its own, then replaces itself with the driver JVM), and it hands out the
process only once the py4j gateway answers, 1 to 3 s later, and the SparkContext some seconds after that.
A kernel asked to shut down meanwhile would wait for all of it and then stop the session properly.
Instead, ``kill_launch`` finds the launch among this process's children (``spark-submit`` before the
exec, ``org.apache.spark.deploy.SparkSubmit`` after) and kills it with all its descendants (the launcher
JVM included): pyspark's launch then fails at once and leaves no process behind.

Linux only (``/proc``); elsewhere nothing is found and the caller waits as before.
"""

from __future__ import annotations

import logging
import os
import signal

from .. import process_tree

log = logging.getLogger(__name__)

_MARKERS = (b"bin/spark-submit", b"org.apache.spark.deploy.SparkSubmit")


def launch_processes(parent: int | None = None) -> list[int]:
    """The Spark launches that ``parent`` (this process) started, each followed by its descendants."""
    parent = os.getpid() if parent is None else parent
    children = process_tree.children_by_parent()
    found: list[int] = []
    for pid in children.get(parent, []):
        if any(marker in process_tree.cmdline(pid) for marker in _MARKERS):
            found += process_tree.subtree(pid, children)
    return found


def kill_launch(rounds: int = 3) -> int:
    """SIGKILL every Spark launch of this process and its descendants; how many processes were signalled.

    Scanned again after each kill: a process forked between the scan and the kill is found the next time
    (its parent, killed first, forks no more)."""
    killed = 0
    for _ in range(rounds):
        pids = launch_processes()
        if not pids:
            break
        for pid in pids:  # parents first: they cannot start new children after this
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
    if killed:
        log.info("killed the Spark JVM launch in progress (%d processes)", killed)
    return killed
