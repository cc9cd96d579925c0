"""Threads that serve the kernel rather than run user code.

A Python debugger attached to the kernel process (debugpy, which JupyterLab's debugger drives through
``debug_request``) suspends every thread it traces when a breakpoint is hit. The threads that answer
control, publish IOPub and echo heartbeats must go on running then, or the client never hears that the
debugger stopped. The two attributes are how such threads are told apart (pydevd's convention, as
ipykernel marks its own); without a debugger they mean nothing.
"""

from __future__ import annotations

import threading
from typing import TypeVar

_T = TypeVar("_T", bound=threading.Thread)


def service_thread(thread: _T) -> _T:
    """Mark ``thread`` (before or after it starts) as never traced nor suspended by a debugger."""
    thread.pydev_do_not_trace = True  # type: ignore[attr-defined]
    thread.is_pydev_daemon_thread = True  # type: ignore[attr-defined]
    return thread
