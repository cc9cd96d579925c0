"""Input history kept in a small SQLite file, so history_request sees this and earlier sessions.

Session numbers grow by one per kernel start; ``history_request`` answers tail / range / search
with ``[session, line, source]`` triples as ipykernel does (no outputs stored).
"""

from __future__ import annotations

import fnmatch
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (session INTEGER PRIMARY KEY AUTOINCREMENT, started TEXT);
CREATE TABLE IF NOT EXISTS history (session INTEGER, line INTEGER, source TEXT, PRIMARY KEY (session, line));
"""


def default_history_path() -> Path:
    if path := os.environ.get("TOREE_HISTORY_FILE"):
        return Path(path)
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "toree" / "history.sqlite"


class HistoryStore:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else default_history_path()
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=5)
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error):
            # A read-only or corrupt home must not stop the kernel: keep history in memory.
            self._db = sqlite3.connect(":memory:", check_same_thread=False)
            self._db.executescript(_SCHEMA)
        with self._db:
            cur = self._db.execute("INSERT INTO sessions (started) VALUES (datetime('now'))")
        self.session = int(cur.lastrowid or 1)

    def store(self, line: int, source: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO history VALUES (?, ?, ?)", (self.session, line, source))

    def tail(self, n: int = 10) -> list[list[Any]]:
        rows = self._query(
            "SELECT session, line, source FROM history ORDER BY session DESC, line DESC LIMIT ?", n
        )
        return rows[::-1]

    def range(self, session: int = 0, start: int = 1, stop: int | None = None) -> list[list[Any]]:
        """``session`` 0 is this one, negative counts back from it (as in ipykernel)."""
        target = self.session + session if session <= 0 else session
        if stop is None:
            return self._query(
                "SELECT session, line, source FROM history WHERE session=? AND line>=? ORDER BY line",
                target,
                start,
            )
        return self._query(
            "SELECT session, line, source FROM history WHERE session=? AND line>=? AND line<? ORDER BY line",
            target,
            start,
            stop,
        )

    def search(self, pattern: str = "*", n: int | None = None, unique: bool = False) -> list[list[Any]]:
        rows = self._query("SELECT session, line, source FROM history ORDER BY session, line")
        hits = [row for row in rows if fnmatch.fnmatchcase(row[2], pattern)]
        if unique:
            seen: set[str] = set()
            kept = []
            for row in reversed(hits):  # keep the newest occurrence of each source
                if row[2] not in seen:
                    seen.add(row[2])
                    kept.append(row)
            hits = kept[::-1]
        return hits[-n:] if n else hits

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _query(self, sql: str, *params: Any) -> list[list[Any]]:
        with self._lock:
            return [list(row) for row in self._db.execute(sql, params)]
