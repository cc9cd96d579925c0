"""What Scala code sends to the notebook while a cell runs: its stdout and stderr, ``kernel.display``
items and ``kernel.comm`` traffic. The JVM queues them (see resources/*.scala); a ``Forwarder``
drains the queues into the cell's sink, every ``DRAIN_SECONDS`` while the cell runs and once at its
end, so ``println`` reaches the notebook live. Client comm messages go the other way, to Scala.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

from ..comms import CommManager, ToreeComm
from ..contract import OutputSink
from .bridge import ReplBridge

log = logging.getLogger(__name__)
DRAIN_SECONDS = 0.05


class Forwarder:
    """Drains one bridge's queues into sinks and routes comm messages between Scala and the client."""

    def __init__(self, bridge: ReplBridge, comms: CommManager) -> None:
        self.bridge = bridge
        self.comms = comms

    @contextlib.contextmanager
    def live(self, sink: OutputSink) -> Iterator[None]:
        """While the block runs, drain into ``sink`` every ``DRAIN_SECONDS``; drain once more at its end."""
        stop = threading.Event()
        drainer = threading.Thread(target=self._drain_until, args=(stop, sink), daemon=True)
        drainer.start()
        try:
            yield
        finally:
            stop.set()
            drainer.join()
            try:
                self.drain(sink)
            except Exception:  # the JVM died: the cell reports it
                log.debug("draining Scala output failed", exc_info=True)

    def _drain_until(self, stop: threading.Event, sink: OutputSink) -> None:
        while not stop.wait(DRAIN_SECONDS):
            try:
                self.drain(sink)
            except Exception:  # the JVM went away: the cell itself will report it
                log.debug("draining Scala output failed", exc_info=True)
                return

    def drain(self, sink: OutputSink) -> None:
        for name, stream in zip(("stdout", "stderr"), self.bridge.streams, strict=True):
            text = str(stream.drain())
            if text:
                sink.stream(name, text)  # type: ignore[arg-type]
        for kind, mime, data, display_id in self.bridge.display.drain():
            if kind.startswith("clear"):
                sink.clear_output(wait=kind == "clear-wait")
                continue
            bundle = {mime: data} if mime == "text/plain" else {mime: data, "text/plain": f"<{mime}>"}
            sink.display(bundle, display_id=display_id, update=kind == "update")
        self.drain_comms()

    def drain_comms(self) -> None:
        """kernel.comm traffic of Scala code: opens, sends, closes, target registrations."""
        jvm_comms = self.bridge.comms
        for kind, comm_id, target, data in jvm_comms.drain():
            try:
                if kind == "target":
                    self.comms.register_target(str(target), self._scala_target)
                elif kind == "open":
                    opened = ToreeComm(
                        target_name=str(target), comm_id=str(comm_id), data=payload(data), manager=self.comms
                    )
                    self._to_scala(opened)
                    continue
                comm = self.comms.comms.get(str(comm_id))
                if comm is None:
                    continue
                if kind == "msg":
                    comm.send(payload(data))
                elif kind == "close":
                    jvm_comms.forget(comm_id)
                    comm.close(payload(data))
            except Exception:
                log.warning("Scala comm %s %s failed", kind, comm_id, exc_info=True)

    def _scala_target(self, comm: Any, msg: dict[str, Any]) -> None:
        """A client's comm_open for a target Scala registered: hand the comm and its messages to Scala."""
        self._to_scala(comm)("open", msg)

    def _to_scala(self, comm: Any) -> Any:
        """Route the client's messages on ``comm`` to its Scala side; returns the deliver function."""
        jvm_comms = self.bridge.comms

        def deliver(kind: str, m: dict[str, Any]) -> None:
            jvm_comms.deliver(
                kind, comm.comm_id, comm.target_name, json.dumps(m.get("content", {}).get("data", {}))
            )
            self.drain_comms()  # what the handler sent goes out now, with this message as parent

        comm.on_msg(lambda m: deliver("msg", m))
        comm.on_close(lambda m: deliver("close", m))
        return deliver


def payload(data: Any) -> dict[str, Any]:
    """A Scala comm payload: a JSON object (anything else is wrapped as ``{"value": ...}``)."""
    if data is None:
        return {}
    try:
        value = json.loads(str(data))
    except ValueError:
        return {"value": str(data)}
    return value if isinstance(value, dict) else {"value": value}
