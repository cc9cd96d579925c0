"""sys.stdout / sys.stderr replacements that forward to the current cell's sink.

The PySpark interpreter installs them while a cell runs, or for its whole lifetime in a kernel
(``python/host_hooks.py``): then output from threads a cell started keeps flowing to that cell's sink
after it returns. When no cell has run yet, text goes to the original stream (the kernel's terminal).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import TextIO

from .contract import OutputSink, StreamName


class SinkStream(io.TextIOBase):
    def __init__(self, name: StreamName, sink: Callable[[], OutputSink | None], fallback: TextIO) -> None:
        super().__init__()
        self.name = name
        self._sink = sink
        self._fallback = fallback
        self._writing: int | None = None  # thread inside sink.stream, to catch a sink that prints

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        sink = self._sink()
        me = threading.get_ident()
        if sink is None or self._writing == me:
            # No cell yet, or the sink itself prints (an embedding app's sink): the real stream.
            return self._fallback.write(text)
        self._writing = me  # a racing thread can only make this re-enter once more, never loop
        try:
            sink.stream(self.name, text)
        finally:
            self._writing = None
        return len(text)

    def flush(self) -> None:
        if self._sink() is None:
            self._fallback.flush()
