"""sys.stdout / sys.stderr replacements that forward to the current cell's sink.

Installed once for the interpreter's lifetime (not per cell), so output from threads a cell
started keeps flowing to that cell's sink after it returns; when no cell has run yet, text goes
to the original stream (the kernel's terminal).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TextIO

from .contract import OutputSink, StreamName


class SinkStream(io.TextIOBase):
    def __init__(self, name: StreamName, sink: Callable[[], OutputSink | None], fallback: TextIO) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]
        self._sink = sink
        self._fallback = fallback

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
        if sink is None:
            return self._fallback.write(text)
        sink.stream(self.name, text)
        return len(text)

    def flush(self) -> None:
        if self._sink() is None:
            self._fallback.flush()
