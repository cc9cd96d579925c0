"""Test helpers for toree-interpreters (imported by the tests; conftest puts this folder on sys.path)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from toree_interpreters import Completion, StdinNotAllowed

SPARK_ARGS = [
    "--master",
    "local[2]",
    "--conf",
    "spark.ui.enabled=false",
    "--conf",
    "spark.sql.shuffle.partitions=2",
]


class CollectingSink:
    """An OutputSink that records everything (thread-safe)."""

    def __init__(self, answer: str | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self.answer = answer
        self._lock = threading.Lock()

    def stream(self, name: str, text: str) -> None:
        with self._lock:
            self.events.append((name, text))

    def display(self, data, metadata=None, *, display_id=None, update=False) -> None:
        with self._lock:
            self.events.append(("display", data))

    def clear_output(self, wait: bool = False) -> None:
        with self._lock:
            self.events.append(("clear", wait))

    def input(self, prompt: str, password: bool = False) -> str:
        if self.answer is None:
            raise StdinNotAllowed("this test client has no stdin")
        self.events.append(("input", prompt))
        return self.answer

    def text(self, name: str = "stdout") -> str:
        return "".join(t for n, t in self.events if n == name)


def tab_until(complete: Callable[[], Completion], wanted: str, within: float = 30, each: float = 10) -> Completion:
    """Completion as a user gets it: Tab again until ``wanted`` is offered (a session's first catalog
    lookups may miss completion's short wait on a busy machine; they go on for the next Tab). Every
    answer must come back within ``each`` seconds."""
    deadline = time.monotonic() + within
    while True:
        started = time.monotonic()
        found = complete()
        assert time.monotonic() - started < each, f"completion took {time.monotonic() - started:.1f} s"
        if wanted in found.matches or time.monotonic() > deadline:
            assert wanted in found.matches, found
            return found
        time.sleep(0.2)
