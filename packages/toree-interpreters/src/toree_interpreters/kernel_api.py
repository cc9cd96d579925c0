"""The ``kernel`` object cells see: display, streams, the shared Spark session and ``kernel.data``.

Named like Apache Toree's (``kernel.display.html``, ``kernel.sparkSession`` ...) so notebooks port.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, MutableMapping
from typing import Any

from .comms import CommManager
from .contract import MimeBundle, OutputSink
from .display import mime_bundle
from .spark.session import SparkSessionManager


class DisplayHandle:
    """What ``display(..., display_id=True)`` returns: ``update`` replaces that output in place."""

    def __init__(self, display: Display, display_id: str) -> None:
        self.display_id = display_id
        self._display = display

    def update(self, obj: Any) -> None:
        self._display.display(obj, display_id=self.display_id, update=True)

    def __repr__(self) -> str:
        return f"<DisplayHandle {self.display_id}>"


class Display:
    """``kernel.display`` (Toree's API) and IPython's ``display()``, publishing through the cell's sink."""

    def __init__(
        self,
        sink: Callable[[], OutputSink | None],
        render: Callable[[Any], tuple[MimeBundle, dict[str, Any]]] = mime_bundle,
    ) -> None:
        self._sink = sink
        self._render = render  # value -> (bundle, metadata); the interpreter's, so DataFrames are tables

    def content(self, mime: str, data: Any, *, display_id: str | None = None, update: bool = False) -> None:
        """Publish one MIME type (``update=True`` replaces the output shown under ``display_id``)."""
        self.bundle({mime: data}, display_id=display_id, update=update)

    def bundle(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        *,
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        sink = self._sink()
        if sink is None:
            raise RuntimeError("display is only available while a cell runs")
        if "text/plain" not in data:
            data = {**data, "text/plain": f"<{next(iter(data), 'output')}>"}
        if update and not display_id:
            raise ValueError("update=True needs the display_id of the output to replace")
        sink.display(data, metadata, display_id=display_id, update=update)

    def display(
        self, *objs: Any, display_id: str | bool | None = None, update: bool = False
    ) -> DisplayHandle | None:
        """IPython's ``display()``: each object by its richest repr; ``display_id=True`` makes an id and
        returns a handle whose ``update(obj)`` replaces the output."""
        if display_id is True:
            display_id = uuid.uuid4().hex
        for obj in objs:
            data, metadata = self._render(obj)
            self.bundle(data, metadata, display_id=display_id or None, update=update)
        return DisplayHandle(self, display_id) if isinstance(display_id, str) else None

    def update(self, obj: Any, *, display_id: str) -> None:
        """IPython's ``update_display``."""
        self.display(obj, display_id=display_id, update=True)

    def html(self, html: str, **kw: Any) -> None:
        self.content("text/html", html, **kw)

    def javascript(self, js: str, **kw: Any) -> None:
        self.content("application/javascript", js, **kw)

    def markdown(self, md: str, **kw: Any) -> None:
        self.content("text/markdown", md, **kw)

    def image(self, png: bytes, **kw: Any) -> None:
        """A PNG image (bytes), as ``image/png``."""
        self.content("image/png", base64.b64encode(png).decode("ascii"), **kw)

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
        render: Callable[[Any], tuple[MimeBundle, dict[str, Any]]] = mime_bundle,
        comms: CommManager | None = None,
    ) -> None:
        self._spark = spark
        self.comm = comms if comms is not None else CommManager()  # Jupyter comms: open, register_target
        self.data = data  # shared by every language of this kernel
        self.display = Display(sink, render)
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
        return "<Toree kernel: kernel.display, kernel.data, kernel.sparkSession, kernel.comm, kernel.out/err>"
