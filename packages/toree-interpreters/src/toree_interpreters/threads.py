"""Threads that serve a cell rather than run its code (job progress, cancelling an interrupted cell).

A debugger attached to the process (debugpy, behind JupyterLab's debugger) suspends every thread it
traces when a breakpoint is hit; these must go on running (a stopped cell is still interruptible, its
output still flows). The two attributes are how such threads are told apart (pydevd's convention);
without a debugger they mean nothing.
"""

from __future__ import annotations

import threading
from typing import TypeVar

_T = TypeVar("_T", bound=threading.Thread)


def service_thread(thread: _T) -> _T:
    """Mark ``thread`` as never traced nor suspended by a debugger."""
    thread.pydev_do_not_trace = True  # type: ignore[attr-defined]
    thread.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
    return thread
