"""An interpreter OutputSink that publishes on IOPub with the cell's request as parent.

Stream text is batched: Jupyter Server and the Kernel Gateway drop IOPub traffic above ~1000
msgs/s, so writes are collected and sent at most every ``interval`` seconds (or when ``max_bytes``
pile up). Consecutive chunks of one stream merge into one message; stdout/stderr order is kept,
and pending text is flushed before any display so outputs never overtake each other.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Protocol

from toree_interpreters.contract import MimeBundle, StdinNotAllowed, StreamName
from toree_protocol.server import StdinNotAllowed as ClientHasNoStdin
from toree_protocol.threads import service_thread


class Publisher(Protocol):
    """What the sink needs of a request context (toree_protocol.server.RequestContext has it)."""

    def publish(self, msg_type: str, content: dict[str, Any], **kw: Any) -> None: ...

    def input(self, prompt: str, password: bool = False) -> str: ...


class IOPubSink:
    def __init__(
        self,
        ctx: Publisher,
        *,
        interval: float = 0.05,
        max_bytes: int = 256 * 1024,
        waits_when_busy: bool = True,
    ) -> None:
        self._ctx = ctx
        self.waits_when_busy = waits_when_busy  # False: a busy Scala room refuses the cell (a subshell's)
        self._interval = interval
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._chunks: deque[tuple[str, str]] = deque()
        self._size = 0
        self._wake = threading.Event()
        self._closed = False
        self._flusher = service_thread(
            threading.Thread(target=self._flush_periodically, name="iopub-stream-flush", daemon=True)
        )
        self._flusher.start()

    # OutputSink -----------------------------------------------------------------------------------
    def stream(self, name: StreamName, text: str) -> None:
        if not text:
            return
        self._chunks.append((name, text))  # deque.append is atomic: no lock on this hot path
        self._size += len(text)  # a racy sum is fine: it only decides when to flush early
        if self._size >= self._max_bytes or self._closed:  # retired: no flusher thread any more
            self.flush()
        elif not self._wake.is_set():  # Event.set() takes a lock: wake the flusher once per batch
            self._wake.set()

    def display(
        self,
        data: MimeBundle,
        metadata: dict[str, Any] | None = None,
        *,
        display_id: str | None = None,
        update: bool = False,
    ) -> None:
        self.flush()
        content: dict[str, Any] = {"data": data, "metadata": metadata or {}, "transient": {}}
        if display_id is not None:
            content["transient"] = {"display_id": display_id}
        self._ctx.publish("update_display_data" if update else "display_data", content)

    def clear_output(self, wait: bool = False) -> None:
        self.flush()
        self._ctx.publish("clear_output", {"wait": wait})

    def input(self, prompt: str, password: bool = False) -> str:
        self.flush()  # the prompt's context (e.g. a printed question) must show first
        try:
            return self._ctx.input(prompt, password)
        except ClientHasNoStdin as exc:
            raise StdinNotAllowed(str(exc)) from None

    # Kernel side ----------------------------------------------------------------------------------
    def publish(self, msg_type: str, content: dict[str, Any]) -> None:
        """Publish a non-stream message in order with the streams (execute_result, error)."""
        self.flush()
        self._ctx.publish(msg_type, content)

    def flush(self) -> None:
        with self._lock:  # one flusher at a time, so batches go out in order
            self._size = 0
            chunks = []
            while self._chunks:
                chunks.append(self._chunks.popleft())
            for name, text in _merge(chunks):
                self._ctx.publish("stream", {"name": name, "text": text})

    def close(self) -> None:
        """Flush what is pending; later writes (threads the cell left running) still go out, batched."""
        self.flush()

    def retire(self) -> None:
        """Stop the flush thread once a newer cell's sink has taken over (later writes go out at once)."""
        self._closed = True
        self._wake.set()
        self.flush()

    def _flush_periodically(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                break
            time.sleep(self._interval)  # let a burst of writes accumulate into one message
            self.flush()


def _merge(chunks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    merged: list[tuple[str, list[str]]] = []
    for name, text in chunks:
        if merged and merged[-1][0] == name:
            merged[-1][1].append(text)
        else:
            merged.append((name, [text]))
    return [(name, "".join(parts)) for name, parts in merged]
