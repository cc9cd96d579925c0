"""This process's descendants, read from ``/proc``, and ending them: what the kernel leaves behind must go.

Rooms start processes (pyspark the Spark driver JVM, an R room its R, a cell ``!cmd``); whatever is still
running when the kernel stops is killed, so no JVM or R outlives a kernel (``end_descendants``). Linux only
(``/proc``); elsewhere nothing is found and the rooms' own stops are all there is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

_PROC = Path("/proc")


def parents() -> dict[int, int]:
    """pid -> parent pid of every process this user can see (empty without /proc)."""
    found: dict[int, int] = {}
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return found
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
            found[int(entry.name)] = int(stat.rpartition(b")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return found


def children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, ppid in parents().items():
        children.setdefault(ppid, []).append(pid)
    return children


def subtree(root: int, children: dict[int, list[int]]) -> list[int]:
    """``root`` and its descendants, each parent before its children."""
    tree, stack = [], [root]
    while stack:
        current = stack.pop()
        tree.append(current)
        stack.extend(children.get(current, []))
    return tree


def descendants(root: int | None = None) -> list[int]:
    """Every process below ``root`` (this process), parents first."""
    root = os.getpid() if root is None else root
    return subtree(root, children_by_parent())[1:]


def cmdline(pid: int) -> bytes:
    try:
        return (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def state(pid: int) -> bytes | None:
    """The process's state letter (``b"R"``, ``b"S"``, ``b"Z"`` ...); None: gone, or no ``/proc``."""
    try:
        return (_PROC / str(pid) / "stat").read_bytes().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Running (a zombie, or a process gone, is not)."""
    return state(pid) not in (None, b"Z", b"X")


def end_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """End a child that exits when its stdin closes (py4j's JVMs; R, told by its socket closing): close
    it, wait ``timeout``, then kill."""
    with contextlib.suppress(OSError):
        if proc.stdin is not None:
            proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def end_descendants(grace: float = 0.3, root: int | None = None) -> list[int]:
    """SIGTERM every descendant of ``root`` (this process), SIGKILL those still running ``grace`` s later;
    the pids signalled. Looked up again before the SIGKILL: a process forked meanwhile goes too."""
    found = descendants(root)
    for pid in found:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(pid) for pid in found):
        time.sleep(0.02)
    stubborn = [pid for pid in dict.fromkeys(found + descendants(root)) if alive(pid)]
    for pid in stubborn:
        _signal(pid, signal.SIGKILL)
    if found:
        log.info("ended %d child processes (%d killed)", len(found), len(stubborn))
    return found


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)
