"""What an interrupt does to a Scala cell's JVM thread, step by step.

The cell's Spark jobs are cancelled by its ``SparkCell``; its thread is interrupted, which ends sleeps
and waits and, through the compiler's interrupt checks (``interrupt_checks``), loops. A cell still busy
``STOP_AFTER_S`` later (a loop inside a library, a line that swallows the interrupt) gets
``Thread.stop`` where Java still has it (up to 19); on Java 20+, or if it survives that, its thread is
abandoned: the cell ends with a message saying so and the thread runs on until the kernel restarts.
Later cells run as usual while that line never ends; should it end after all, the rest of its cell
does not run, but it finished on the same (not thread-safe) REPL, so the message asks for a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .bridge import ReplBridge

log = logging.getLogger(__name__)
STOP_AFTER_S = 1.0  # an interrupted cell still busy this long after Thread.interrupt gets stopped


def thread_stopper(bridge: Callable[[], ReplBridge | None], interpreting: Callable[[], bool]) -> Callable[[], None]:
    """The interrupt's tick: ``Thread.interrupt`` until it is delivered (the cell's thread may not have
    started, or may be compiling); every ``STOP_AFTER_S`` after that, while the cell runs, the bridge's
    stop (Thread.stop, else abandon; not while compiling)."""
    delivered_at: float | None = None
    done = False

    def tick() -> None:
        nonlocal delivered_at, done
        repl = bridge()
        if done or repl is None or not interpreting():  # the REPL is still being built
            return
        if delivered_at is None:
            if repl.interrupt_cell():
                delivered_at = time.monotonic()
        elif time.monotonic() - delivered_at > STOP_AFTER_S:
            delivered_at = time.monotonic()
            state = repl.stop_cell()
            if state != "compiling":
                log.warning("Scala cell ignored the interrupt: its thread was %s", state)
            done = state in ("abandoned", "idle")

    return tick


def abandoned_message(bridge: ReplBridge) -> str:
    """Why the cell ended though its line still runs, and what to do."""
    try:
        java = bridge.java_version()
    except Exception:
        java = ""
    major = java.split(".")[0]
    if major.isdigit() and int(major) >= 20:
        why = f"cannot be stopped on Java {java} (Java 20 removed Thread.stop)"
    else:
        why = "survived Thread.stop, so it cannot be stopped"
    return (
        f"the Scala line ignored the interrupt and {why}. It keeps running in the background, using a "
        "CPU: restart the kernel to stop it. The rest of its cell does not run; other cells still run meanwhile."
    )
