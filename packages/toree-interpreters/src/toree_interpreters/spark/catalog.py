"""Names from the live session's catalog for completion, shared by every language room: tables and
views, databases, a table's columns, SQL function names.

Completion must never stall: each lookup runs on a thread of its own, and a request waits for its
lookups at most ``LOOKUP_WAIT_S`` in all (``FIRST_LOOKUP_WAIT_S`` for a session's first; a session that
is still starting is waited for within the same bound, none is ever started). What is not there in time is answered from what is known (the last list, or nothing), and the
lookup goes on filling the cache for the next request. Names are reused for ``CACHE_S`` and forgotten
when a cell ends (cells create views and functions); a new session (the JVM died) starts afresh.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .session import SparkSessionManager

log = logging.getLogger(__name__)

LOOKUP_WAIT_S = 1.0  # longest a completion waits for the catalog
# ... the first time in a session: its first catalog commands take ~0.3 s, 1-3 s on a busy machine
FIRST_LOOKUP_WAIT_S = 3.0
CACHE_S = 10.0  # how long names are reused (a cell's end forgets them at once)
MAX_LOOKUPS = 8  # lookups running at once (a stuck JVM gets no more threads than this)
_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PART = r"(?:\w+|`(?:``|[^`])*`)"
_NAME = re.compile(rf"{_PART}(?:\.{_PART})*\Z")  # a dotted name, parts plain or backquoted


@attrs.frozen
class TableName:
    name: str
    kind: str  # "table" (or view) or "temp view"


@attrs.frozen
class _Entry:
    session: Any
    epoch: int
    at: float
    value: Any


class CatalogNames:
    """Catalog lookups for completion: bounded in time, cached briefly. Thread-safe."""

    def __init__(
        self,
        spark: SparkSessionManager,
        *,
        wait: float = LOOKUP_WAIT_S,
        first_wait: float = FIRST_LOOKUP_WAIT_S,
        ttl: float = CACHE_S,
    ) -> None:
        self.spark = spark
        self.wait = wait
        self.first_wait = first_wait
        self.ttl = ttl
        self._lock = threading.Lock()
        self._epoch = 0  # bumped by invalidate()
        self._cache: dict[_Key, _Entry] = {}
        self._running: dict[_Key, Future[Any]] = {}

    def deadline(self) -> float:
        """When a request's lookups stop being waited for: ``wait`` from now, ``first_wait`` while nothing
        was found in this session yet (its first lookups are the slow ones)."""
        session = self.spark.session_if_ready
        with self._lock:
            warm = any(entry.session is session for entry in self._cache.values())
        return time.monotonic() + (self.wait if warm else max(self.wait, self.first_wait))

    def invalidate(self) -> None:
        """A cell ended: what it may have created or dropped is looked up again."""
        with self._lock:
            self._epoch += 1

    # Lookups (``deadline``: a ``time.monotonic()`` shared by several; ``deadline()`` by default) -------
    def tables(self, database: str | None = None, *, deadline: float | None = None) -> list[TableName]:
        """Tables and views of ``database`` (the current one, with the temporary views, by default)."""
        return self._get(_tables(database), deadline) or []

    def databases(self, *, deadline: float | None = None) -> list[str]:
        return self._get(_databases(), deadline) or []

    def columns(self, *tables: str, deadline: float | None = None) -> list[str]:
        """Top-level columns of ``tables`` (names as SQL reads them: ``db.t``, ```my table```), in order."""
        self.start(columns=tables)
        found: dict[str, None] = {}
        for table in tables:
            found.update(dict.fromkeys(self._get(_columns(table), deadline) or []))
        return list(found)

    def functions(self, *, deadline: float | None = None) -> list[str]:
        """SQL function names (built-in, temporary and persistent), without operators like ``+``."""
        return self._get(_functions(), deadline) or []

    def start(
        self,
        *,
        tables: Sequence[str | None] = (),
        columns: Sequence[str] = (),
        functions: bool = False,
    ) -> None:
        """Begin the lookups that are not cached, without waiting: then several run at once."""
        session = self.spark.session_if_ready
        if session is None:
            return
        wanted = [_tables(d) for d in tables]
        wanted += [_columns(t) for t in columns] + [_functions()] * functions
        for request in wanted:
            self._lookup(request, session)

    # Machinery -------------------------------------------------------------------------------------
    def _get(self, request: _Request, deadline: float | None) -> Any:
        """The value of a lookup: cached, or fetched by ``deadline``; else the last known one (or None)."""
        deadline = self.deadline() if deadline is None else deadline
        session = self.spark.session_if_ready
        if session is None and self.spark.wait_ready(max(0.0, deadline - time.monotonic())):
            session = self.spark.session_if_ready  # it was starting: waited for within the same bound
        if session is None:
            return None
        if time.monotonic() >= deadline:  # no time left: what is known (lookups started now would only
            return self._known(request[0], session)  # slow down those still running)
        known, future = self._lookup(request, session)
        if future is not None:
            try:
                return future.result(max(0.0, deadline - time.monotonic()))
            except TimeoutError:  # not in time: it goes on, for the next request
                pass
        return known

    def _known(self, key: _Key, session: Any) -> Any:
        with self._lock:
            entry = self._cache.get(key)
            return entry.value if entry is not None and entry.session is session else None

    def _lookup(self, request: _Request, session: Any) -> tuple[Any, Future[Any] | None]:
        """What is known for ``request`` and, unless that is fresh, the running (or a new) lookup."""
        key, fetch = request
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and entry.session is not session:
                entry = None  # from a session whose JVM died
            known = None if entry is None else entry.value
            if entry is not None and entry.epoch == self._epoch and time.monotonic() - entry.at < self.ttl:
                return known, None
            future = self._running.get(key)
            if future is None and len(self._running) < MAX_LOOKUPS:
                future = self._running[key] = Future()
                args = (key, fetch, session, self._epoch, future)
                threading.Thread(target=self._fetch, args=args, name="toree-catalog", daemon=True).start()
            return known, future

    def _fetch(self, key: _Key, fetch: Callable[[Any], Any], session: Any, epoch: int, future: Future[Any]) -> None:
        try:
            value = fetch(session)
        except Exception as exc:  # an unknown table, a dead JVM: nothing to offer (and not asked again soon)
            log.debug("catalog lookup %s failed: %s", key, exc)
            value = None
        with self._lock:
            self._running.pop(key, None)
            if any(entry.session is not session for entry in self._cache.values()):  # a new session
                self._cache = {k: e for k, e in self._cache.items() if e.session is session}
            self._cache[key] = _Entry(session, epoch, time.monotonic(), value)
        future.set_result(value)


# What each lookup is: a cache key and how to fetch it. SQL commands, not ``catalog.listTables`` and
# ``listDatabases``: those run a Spark job (pyspark 4), 1-8 s on a busy machine against ~0.2 s.
_Key = tuple[str, ...]
_Request = tuple[_Key, Callable[[Any], Any]]


def _tables(database: str | None) -> _Request:
    def fetch(session: Any) -> list[TableName]:
        rows = session.sql("SHOW TABLES" + (f" IN {_identifier(database)}" if database else "")).collect()
        return [TableName(str(row["tableName"]), "temp view" if row["isTemporary"] else "table") for row in rows]

    return ("tables", database or ""), fetch


def _databases() -> _Request:
    return ("databases",), lambda session: [str(row[0]) for row in session.sql("SHOW DATABASES").collect()]


def _columns(table: str) -> _Request:
    return ("columns", table), lambda session: list(session.table(table).columns)


def _functions() -> _Request:
    def fetch(session: Any) -> list[str]:
        names = {str(row[0]).rsplit(".", 1)[-1] for row in session.sql("SHOW FUNCTIONS").collect()}
        return sorted(name for name in names if _FUNCTION_NAME.match(name))

    return ("functions",), fetch


def _identifier(name: str) -> str:
    """``name`` for SQL text: as written when it is a (dotted, maybe backquoted) name, else backquoted."""
    return name if _NAME.match(name) else "`" + name.replace("`", "``") + "`"
