"""The ``kernel`` object cells see: display, streams, the shared Spark session and ``kernel.data``.

Named like Apache Toree's (``kernel.display.html``, ``kernel.sparkSession`` ...) so notebooks port.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any

from .contract import OutputSink
from .spark_session import SparkSessionManager


class Display:
    def __init__(self, sink: Callable[[], OutputSink | None]) -> None:
        self._sink = sink

    def content(self, mime: str, data: Any, *, display_id: str | None = None, update: bool = False) -> None:
        """Publish one MIME type (``update=True`` replaces the output shown under ``display_id``)."""
        self.bundle({mime: data}, display_id=display_id, update=update)

    def bundle(self, data: dict[str, Any], *, display_id: str | None = None, update: bool = False) -> None:
        sink = self._sink()
        if sink is None:
            raise RuntimeError("display is only available while a cell runs")
        if "text/plain" not in data:
            data = {**data, "text/plain": f"<{next(iter(data), 'output')}>"}
        sink.display(data, display_id=display_id, update=update)

    def html(self, html: str, **kw: Any) -> None:
        self.content("text/html", html, **kw)

    def javascript(self, js: str, **kw: Any) -> None:
        self.content("application/javascript", js, **kw)

    def markdown(self, md: str, **kw: Any) -> None:
        self.content("text/markdown", md, **kw)

    def clear_output(self, wait: bool = False) -> None:
        sink = self._sink()
        if sink is not None:
            sink.clear_output(wait)


class KernelAPI:
    def __init__(
        self,
        spark: SparkSessionManager,
        data: MutableMapping[str, Any],
        sink: Callable[[], OutputSink | None],
        streams: tuple[Any, Any],
    ) -> None:
        self._spark = spark
        self.data = data  # shared by every language of this kernel
        self.display = Display(sink)
        self.out, self.err = streams

    @property
    def sparkSession(self) -> Any:
        return self._spark.get()

    @property
    def sparkContext(self) -> Any:
        return self._spark.get().sparkContext

    @property
    def spark_ready_at(self) -> float | None:
        """Wall-clock time the Spark session became usable (None: not yet)."""
        return self._spark.ready_at

    def __repr__(self) -> str:
        return "<Toree kernel: kernel.display, kernel.data, kernel.sparkSession, kernel.out/err>"
