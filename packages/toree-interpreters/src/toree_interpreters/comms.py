"""Jupyter comms (the protocol ipywidgets talks over), kept free of the wire.

One ``CommManager`` per kernel, built on the ``comm`` package (the one ipywidgets and friends
use). The kernel hands it client messages (``handle``) and tells it, with ``routing``, how to
send: a ``send(msg_type, content, metadata, buffers)`` bound to the request being served (the
running cell, or the client comm message being handled), so every comm message has the right
parent. Requests may be served on several threads at once (kernel subshells): each thread sends
through its own request's route. Sends from threads serving no request, or after the request
ended, use the home route: the main thread's last one (any thread's, until the main thread set one).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from comm.base_comm import BaseComm
from comm.base_comm import CommManager as BaseCommManager

log = logging.getLogger(__name__)

# send(msg_type, content, metadata, buffers): publish one IOPub message
Send = Callable[[str, dict[str, Any], dict[str, Any], Sequence[bytes]], None]


class ToreeComm(BaseComm):
    """A comm whose messages go out through its manager's current route."""

    def __init__(self, *args: Any, manager: CommManager | None = None, **kwargs: Any) -> None:
        self._manager = manager  # set before BaseComm.__init__, which may publish comm_open
        super().__init__(*args, **kwargs)

    @property
    def manager(self) -> CommManager:
        if self._manager is None:
            import comm

            current = comm.get_comm_manager()
            if not isinstance(current, CommManager):
                raise RuntimeError("no Toree comm manager is installed")
            self._manager = current
        return self._manager

    def publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[bytes] | None = None,
        **keys: Any,
    ) -> None:
        content: dict[str, Any] = {"comm_id": self.comm_id, "data": data or {}}
        if msg_type == "comm_open":
            content["target_name"] = keys.get("target_name", self.target_name)
            if keys.get("target_module") is not None:
                content["target_module"] = keys["target_module"]
        self.manager.send(msg_type, content, metadata or {}, buffers or [])

    # BaseComm.open/close register with comm.get_comm_manager(): ours is the one we belong to.
    def open(
        self,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[bytes] | None = None,
    ) -> None:
        manager = self.manager
        manager.register_comm(self)
        try:
            self.publish_msg(
                "comm_open",
                data=self._open_data if data is None else data,
                metadata=metadata,
                buffers=buffers,
                target_name=self.target_name,
                target_module=self.target_module,
            )
            self._closed = False
        except Exception:
            manager.unregister_comm(self)
            raise

    def close(
        self,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[bytes] | None = None,
        deleting: bool = False,
    ) -> None:
        if self._closed:
            return
        self._closed = True
        self.publish_msg(
            "comm_close", data=self._close_data if data is None else data, metadata=metadata, buffers=buffers
        )
        if not deleting:
            self.manager.unregister_comm(self)

    # BaseComm.handle_msg brings IPython in (pre/post_execute events): we have no IPython shell.
    def handle_msg(self, msg: dict[str, Any]) -> None:
        if self._msg_callback is not None:
            self._msg_callback(msg)

    def handle_close(self, msg: dict[str, Any]) -> None:
        if self._close_callback is not None:
            self._close_callback(msg)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<ToreeComm {self.comm_id} target={self.target_name!r} {state}>"


class CommManager(BaseCommManager):
    """The kernel's comms and comm targets (``kernel.comm`` in a PySpark cell)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.RLock()
        self._send: Send | None = None  # the home route
        self._home_is_main = False
        self._routes = threading.local()  # .send: the route of the request the thread serves

    # Routing ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def routing(self, send: Send) -> Iterator[None]:
        """The calling thread's comm messages go out through ``send`` for the block; it becomes the home
        route for other threads if this is the main thread (or the main thread has set none yet)."""
        on_main = threading.current_thread() is threading.main_thread()
        with self._lock:
            if on_main or not self._home_is_main:
                self._send, self._home_is_main = send, on_main
        outer = getattr(self._routes, "send", None)
        self._routes.send = send
        try:
            yield
        finally:
            self._routes.send = outer

    def send(
        self,
        msg_type: str,
        content: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        buffers: Sequence[bytes] = (),
    ) -> None:
        send = getattr(self._routes, "send", None) or self._send
        if send is None:
            log.warning(
                "dropping %s for comm %s: no request to send it with yet", msg_type, content.get("comm_id")
            )
            return
        send(msg_type, content, dict(metadata or {}), [bytes(b) for b in buffers])

    # The API cells use -----------------------------------------------------------------------------
    def create_comm(self, *args: Any, **kwargs: Any) -> ToreeComm:
        """What ``comm.create_comm`` is while the kernel runs (ipywidgets opens its comms with it)."""
        return ToreeComm(*args, manager=self, **kwargs)

    def open(
        self,
        target_name: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[bytes] | None = None,
    ) -> ToreeComm:
        """Open a comm to the client's ``target_name``; the comm has ``send``, ``close``, ``on_msg``."""
        return self.create_comm(target_name=target_name, data=data, metadata=metadata, buffers=buffers)

    def register_comm(self, comm: BaseComm) -> str:
        with self._lock:
            return super().register_comm(comm)

    def unregister_comm(self, comm: BaseComm) -> None:
        with self._lock:
            self.comms.pop(comm.comm_id, None)  # closing twice (client and kernel at once) is fine

    def info(self, target_name: str | None = None) -> dict[str, dict[str, str]]:
        """comm_info_reply's ``comms``: the open comms, of one target if given."""
        with self._lock:
            comms = list(self.comms.values())
        return {
            c.comm_id: {"target_name": c.target_name}
            for c in comms
            if not target_name or c.target_name == target_name
        }

    # Client messages -------------------------------------------------------------------------------
    def handle(self, msg_type: str, msg: Mapping[str, Any]) -> None:
        """A comm_open/comm_msg/comm_close from the client, as a message dict (header, content, buffers...)."""
        msg = dict(msg)
        content = msg.get("content") or {}
        comm_id = str(content.get("comm_id", ""))
        if msg_type == "comm_open":
            self._open_from_client(comm_id, str(content.get("target_name", "")), msg)
            return
        with self._lock:
            comm = self.comms.get(comm_id)
        if comm is None:
            log.info("%s for unknown comm %s", msg_type, comm_id)
            return
        if msg_type == "comm_msg":
            try:
                comm.handle_msg(msg)
            except Exception:
                log.exception("comm_msg handler of comm %s failed", comm_id)
        elif msg_type == "comm_close":
            comm._closed = True
            self.unregister_comm(comm)
            try:
                comm.handle_close(msg)
            except Exception:
                log.exception("comm_close handler of comm %s failed", comm_id)
        else:
            raise ValueError(f"not a comm message: {msg_type!r}")

    def _open_from_client(self, comm_id: str, target_name: str, msg: dict[str, Any]) -> None:
        target = self.targets.get(target_name) or self._widget_target(target_name)
        comm = self.create_comm(comm_id=comm_id or None, primary=False, target_name=target_name)
        self.register_comm(comm)
        if target is None:
            log.warning("comm_open for unknown target %r: closing comm %s", target_name, comm.comm_id)
        else:
            try:
                target(comm, msg)
                return
            except Exception:
                log.exception("comm target %r failed to open comm %s", target_name, comm.comm_id)
        comm.close()  # tells the client the comm is gone

    def _widget_target(self, target_name: str) -> Callable[[BaseComm, dict[str, Any]], None] | None:
        """ipywidgets registers its targets only under IPython; once a cell imported it, we do it."""
        if target_name.startswith("jupyter.widget") and "ipywidgets" in sys.modules:
            try:
                sys.modules["ipywidgets"].register_comm_target()
            except Exception:
                log.debug("registering the ipywidgets comm targets failed", exc_info=True)
        return self.targets.get(target_name)

    def __repr__(self) -> str:
        return (
            f"<Toree comms: {len(self.comms)} open; kernel.comm.open(target, data), register_target(name, f)>"
        )
