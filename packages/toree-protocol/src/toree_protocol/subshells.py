"""The kernel's subshells (JEP 91): ids and what each one runs on, without threads or sockets.

A shell message whose header has a ``subshell_id`` runs on that subshell, in order with the other
messages of that subshell and concurrently with the main shell and the other subshells. The registry
only maps ids to the driver's worker (``server.py`` starts and stops the threads); it is shared by the
control thread (create, delete, list) and the shell channel thread (routing), hence the lock.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

from .messages import ProtocolError, new_id

_W = TypeVar("_W")


class UnknownSubshell(ProtocolError):
    """A ``subshell_id`` that names no subshell of this kernel (answered, never fatal)."""

    ename = "UnknownSubshellError"

    def __init__(self, subshell_id: str) -> None:
        super().__init__(f"unknown subshell_id {subshell_id[:100]!r}: no such subshell in this kernel")
        self.subshell_id = subshell_id


class SubshellRegistry(Generic[_W]):
    """Subshell id -> the worker that runs its messages, in creation order. Thread-safe."""

    def __init__(self) -> None:
        self._workers: dict[str, _W] = {}
        self._lock = threading.Lock()

    def add(self, worker: _W, subshell_id: str | None = None) -> str:
        subshell_id = subshell_id or new_id()
        with self._lock:
            if subshell_id in self._workers:
                raise ValueError(f"subshell {subshell_id!r} exists already")
            self._workers[subshell_id] = worker
        return subshell_id

    def get(self, subshell_id: str) -> _W:
        with self._lock:
            try:
                return self._workers[subshell_id]
            except KeyError:
                raise UnknownSubshell(subshell_id) from None

    def remove(self, subshell_id: str) -> _W:
        with self._lock:
            try:
                return self._workers.pop(subshell_id)
            except KeyError:
                raise UnknownSubshell(subshell_id) from None

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._workers)

    def clear(self) -> list[_W]:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        return workers
