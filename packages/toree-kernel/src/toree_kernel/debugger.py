"""The kernel's debugger: ``debug_request`` (DAP) served by debugpy, as JupyterLab's debugger and
variables panel use it with ipykernel.

debugpy runs in the kernel process (``debugpy.listen`` on the first ``initialize``); the kernel is its
adapter's DAP client and passes most requests through. It answers itself what ipykernel's debugger does:
``dumpCell`` (the path the IPython room compiles a cell under, so breakpoints stop in it), ``debugInfo``,
the namespace's variables while nothing is stopped, ``copyToGlobals``. Events go out as ``debug_event``.
The control thread serves it all, so a stopped cell is inspected while it waits; an interrupt still ends
it and cancels its Spark jobs.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .dap_client import REQUEST_TIMEOUT_S, AdapterClient, AdapterGone, wait
from .debug_support import (
    imported_files,
    listen,
    literal_bundle,
    modules_response,
    own_request,
    response,
)

if TYPE_CHECKING:
    from toree_interpreters import IPythonInterpreter

log = logging.getLogger(__name__)

ATTACH_TIMEOUT_S = 30.0
Publish = Callable[[Mapping[str, Any]], None]


class Debugger:
    """One per kernel, for its IPython room. ``handle`` runs on the control thread, ``cell_starting`` on
    the thread about to run a cell."""

    def __init__(self, room: IPythonInterpreter) -> None:
        self.room = room
        self.started = False
        self.breakpoints: dict[str, list[dict[str, Any]]] = {}
        self.stopped_threads: set[int] = set()
        self._endpoint: tuple[str, int] | None = None  # debugpy listens here (once per process)
        self._client: AdapterClient | None = None
        self._publish: Publish | None = None
        self._initialized = threading.Event()
        self._variables: Any = None  # debug_variables.NamespaceVariables, made on first use
        self._lock = threading.Lock()  # stopped_threads: the reader thread writes, the control thread reads
        self._kernel_modules: list[str] | None = None  # what was imported before the first cell ran
        self._breakpoint_requests: dict[str, dict[str, Any]] = {}  # the client's, by source path
        self._exception_filters: dict[str, Any] | None = None
        self._muted = False  # an interrupt muted the breakpoints until the next cell
        self.untraced = False  # an interrupt took the cell thread's tracer away (see untrace_this_thread)

    # Requests -------------------------------------------------------------------------------------
    def handle(self, request: Mapping[str, Any], publish: Publish) -> dict[str, Any]:
        """The reply content for one ``debug_request``; ``publish`` sends a ``debug_event``."""
        command = request.get("command")
        if request.get("type") != "request" or not isinstance(command, str):
            return response(
                request, False, message="not a DAP request: expected type 'request' and a command"
            )
        self._publish = publish
        handler = getattr(self, f"_do_{command}", None)
        try:
            if handler is not None:
                return handler(request)
            if not self.started:
                return response(
                    request, False, message=f"{command}: the debugger is not started (initialize first)"
                )
            return self._forward(request)
        except AdapterGone as exc:
            return response(request, False, message=str(exc))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return response(request, False, message=f"{command}: bad arguments ({type(exc).__name__}: {exc})")

    def _forward(self, request: Mapping[str, Any], timeout: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
        client = self._client
        if client is None:
            raise AdapterGone("the debugger is not started")
        return client.request(request, timeout)

    def _do_initialize(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if not self.started:
            try:
                self._start()
            except Exception as exc:
                log.exception("starting debugpy failed")
                return response(request, False, message=f"debugpy could not start: {exc}")
        return self._forward(request)

    def _do_attach(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if not self.started or self._client is None:
            return response(request, False, message="attach: the debugger is not started (initialize first)")
        host, port = self._endpoint or ("127.0.0.1", 0)
        arguments = {
            **dict(request.get("arguments") or {}),
            "connect": {"host": host, "port": port},
            "debugOptions": ["DebugStdLib"],  # step into libraries too, as ipykernel does by default
            # the kernel's own code: never stopped in, never in a stack trace (attached before a cell ran?)
            "rules": [{"path": path, "include": False} for path in self._kernel_modules or imported_files()],
        }
        # debugpy answers attach only after the client's configurationDone, sent once it is initialized.
        attached = self._client.send({**request, "arguments": arguments})
        if not self._initialized.wait(ATTACH_TIMEOUT_S):
            raise AdapterGone(f"debugpy did not initialize within {ATTACH_TIMEOUT_S:.0f} s")
        self._client.request(own_request("configurationDone", {}))
        return wait(attached, ATTACH_TIMEOUT_S, "attach")

    def _do_continue(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return self._resume(request, every=True)

    def _do_next(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return self._resume(request)

    _do_stepIn = _do_stepOut = _do_next

    def _resume(self, request: Mapping[str, Any], every: bool = False) -> dict[str, Any]:
        """Forwarded; the thread runs once debugpy says so (its ``continued`` event may come later)."""
        if not self.started:
            return response(request, False, message=f"{request['command']}: the debugger is not started")
        reply = self._forward(request)
        if reply.get("success"):
            with self._lock:
                if every and reply.get("body", {}).get("allThreadsContinued", True):
                    self.stopped_threads.clear()
                else:
                    self.stopped_threads.discard(request.get("arguments", {}).get("threadId"))
        return reply

    def _do_configurationDone(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return response(request)  # sent to debugpy already, when it attached

    def _do_disconnect(self, request: Mapping[str, Any]) -> dict[str, Any]:
        reply = self._forward(request) if self.started else response(request)
        self._stop()
        return reply

    def _do_dumpCell(self, request: Mapping[str, Any]) -> dict[str, Any]:
        code = request["arguments"]["code"]
        if not isinstance(code, str):
            raise TypeError("code must be a string")
        return response(request, body={"sourcePath": self.room.cell_files.write(code)})

    def _do_setBreakpoints(self, request: Mapping[str, Any]) -> dict[str, Any]:
        source = request["arguments"]["source"]["path"]
        if not self.started:
            return response(request, False, message="setBreakpoints: the debugger is not started")
        self._breakpoint_requests[source] = dict(request["arguments"])  # to mute and restore them
        reply = self._forward(request)
        if reply.get("success"):  # debugpy may move a breakpoint to the next line with code
            lines = [
                {"line": bp["line"]} for bp in reply.get("body", {}).get("breakpoints", []) if "line" in bp
            ]
            if lines:
                self.breakpoints[source] = lines
            else:
                self.breakpoints.pop(source, None)
        return reply

    def _do_setExceptionBreakpoints(self, request: Mapping[str, Any]) -> dict[str, Any]:
        if not self.started:
            return response(request, False, message="setExceptionBreakpoints: the debugger is not started")
        self._exception_filters = dict(request.get("arguments") or {})
        return self._forward(request)

    def _do_source(self, request: Mapping[str, Any]) -> dict[str, Any]:
        path = Path(request["arguments"]["source"]["path"])
        if not path.is_file():
            return response(request, False, body={}, message="source unavailable")
        return response(request, body={"content": path.read_text(encoding="utf-8", errors="replace")})

    def _do_debugInfo(self, request: Mapping[str, Any]) -> dict[str, Any]:
        files = self.room.cell_files
        return response(
            request,
            body={
                "isStarted": self.started,
                "hashMethod": "Murmur2",
                "hashSeed": files.seed,
                "tmpFilePrefix": files.prefix,
                "tmpFileSuffix": files.suffix,
                "breakpoints": [{"source": s, "breakpoints": b} for s, b in self.breakpoints.items()],
                "stoppedThreads": sorted(self._stopped()),
                "richRendering": True,
                "exceptionPaths": ["Python Exceptions"],
                "copyToGlobals": True,
            },
        )

    def _do_inspectVariables(self, request: Mapping[str, Any]) -> dict[str, Any]:
        explorer = self._explorer()
        found = explorer.inspect(self.room.namespace, self.room.cell_files.path("sys._getframe()"))
        return response(request, body={"variables": found})

    def _do_variables(self, request: Mapping[str, Any]) -> dict[str, Any]:
        reference = request["arguments"]["variablesReference"]
        if self.started and self._stopped():
            reply = self._forward(request)
            if reply.get("success"):
                found = reply.get("body", {}).get("variables", [])
                reply.setdefault("body", {})["variables"] = [
                    v for v in found if self.room.is_user_variable(v["name"])
                ]
            return reply
        found = self._explorer().children(reference) if self._variables is not None else None
        if found is None:
            return response(request, False, message=f"variables: no variable with reference {reference}")
        return response(request, body={"variables": found})

    def _do_richInspectVariables(self, request: Mapping[str, Any]) -> dict[str, Any]:
        arguments = request["arguments"]
        name = arguments["variableName"]
        if not isinstance(name, str) or not name.isidentifier():
            # pydevd's groups ("special variables") have no value of their own
            grouped = name in ("special variables", "function variables")
            return response(request, grouped, body={"data": {}, "metadata": {}})
        data: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        if self.started and self._stopped() and "frameId" in arguments:
            reply = self._forward(
                own_request(
                    "evaluate",
                    {
                        "expression": self.room.rich_expression(name),
                        "frameId": arguments["frameId"],
                        "context": "clipboard",
                    },
                    request.get("seq", 0),
                )
            )
            if reply.get("success"):
                data, metadata = literal_bundle(reply.get("body", {}).get("result", ""))
        elif name in self.room.namespace:
            try:
                data, metadata = self.room.format_value(self.room.namespace[name])
            except Exception as exc:  # a broken repr, a DataFrame whose job fails: shown as nothing
                log.info("rich inspection of %s failed: %s", name, exc)
        body = {"data": data, "metadata": {k: v for k, v in metadata.items() if k in data}}
        return response(request, body=body)

    def _do_copyToGlobals(self, request: Mapping[str, Any]) -> dict[str, Any]:
        arguments = request["arguments"]
        source, target = arguments["srcVariableName"], arguments["dstVariableName"]
        if not (
            isinstance(source, str)
            and source.isidentifier()
            and isinstance(target, str)
            and target.isidentifier()
        ):
            return response(
                request, False, message="dstVariableName and srcVariableName must be valid identifiers"
            )
        if not (self.started and self._stopped()):
            return response(request, False, message="copyToGlobals: no cell is stopped in the debugger")
        reply = self._forward(
            own_request(
                "setExpression",
                {"expression": f"globals()[{target!r}]", "value": source, "frameId": arguments["srcFrameId"]},
                request.get("seq", 0),
            )
        )
        return {
            **reply,
            "command": request["command"],
        }  # debugpy's setExpression answer, as the asked request

    def _do_modules(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return modules_response(request)

    # Cells ----------------------------------------------------------------------------------------
    def cell_starting(self) -> None:
        """On the cell's thread, before the cell: the breakpoints an interrupt muted are back."""
        if self._kernel_modules is None:
            self._kernel_modules = imported_files()
        if not self.started:
            return
        try:
            if self._muted:
                self._mute(False)
        except AdapterGone as exc:
            log.warning("could not restore the breakpoints an interrupt muted: %s", exc)

    def untrace_this_thread(self) -> None:
        """On the cell's thread as an interrupt arrives (its SIGINT handler): the KeyboardInterrupt that
        ends the cell goes its way untraced. Through debugpy's tracer it can leave the kernel hung; the
        price is that this thread stops at no breakpoint for the rest of the kernel's life (debugpy's
        tracer, set again, hangs the thread: debugpy issue 706, ipykernel issue 821)."""
        if self.started and sys.gettrace() is not None:
            sys.settrace(None)
            if not self.untraced:
                log.warning(
                    "interrupted while debugging: breakpoints stop no more in this kernel (restart it)"
                )
            self.untraced = True

    def release(self) -> None:
        """An interrupt is on its way to the running cell (from any thread, a signal handler included;
        never blocks). A cell stopped at a breakpoint is resumed, its breakpoints muted until the next
        cell, so the interrupt can end it; the interpreter raises KeyboardInterrupt only once the cell's
        thread is back in its own code (raised inside debugpy's wait, it would leave debugpy counting the
        thread as stopped, and the kernel stuck)."""
        if self.started and self._stopped():
            threading.Thread(target=self._release, name="debug-release", daemon=True).start()

    def _release(self) -> None:
        try:
            self._mute(True)
            # debugpy resumes every thread (they stopped together)
            self._forward(own_request("continue", {"threadId": 0}), 10.0)
        except AdapterGone as exc:
            log.warning("could not resume the stopped cell for the interrupt: %s", exc)
        with self._lock:
            self.stopped_threads.clear()

    def _mute(self, muted: bool) -> None:
        """Breakpoints off (an interrupted cell must not stop again on its way out) or back as set."""
        self._muted = muted
        for arguments in list(self._breakpoint_requests.values()):
            muted_arguments = {"source": arguments["source"], "breakpoints": []}
            self._forward(own_request("setBreakpoints", muted_arguments if muted else arguments), 10.0)
        if self._exception_filters is not None:
            filters = {"filters": []} if muted else self._exception_filters
            self._forward(own_request("setExceptionBreakpoints", filters), 10.0)

    # Session ----------------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._endpoint is None:
            self._endpoint = listen()
        self._initialized.clear()
        client = AdapterClient(self._on_event)
        client.connect(*self._endpoint)
        self._client = client
        self.room.set_debugging(True)
        self.started = True

    def _stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
        self.room.set_debugging(False)
        self.started = False
        self._muted = False
        self.breakpoints.clear()
        self._breakpoint_requests.clear()
        self._exception_filters = None
        with self._lock:
            self.stopped_threads.clear()

    def close(self) -> None:
        if self.started:
            self._stop()

    def _stopped(self) -> set[int]:
        with self._lock:
            return set(self.stopped_threads)

    def _on_event(self, event: dict[str, Any]) -> None:
        """From the reader thread: note what stopped and went on, then tell the client."""
        name, body = event.get("event"), event.get("body") or {}
        if name == "initialized":
            self._initialized.set()
        with self._lock:
            if name == "stopped" and "threadId" in body:
                self.stopped_threads.add(body["threadId"])
            elif name == "continued":
                if body.get("allThreadsContinued", True):
                    self.stopped_threads.clear()
                else:
                    self.stopped_threads.discard(body.get("threadId"))
        publish = self._publish
        if publish is not None:
            publish(event)

    def _explorer(self) -> Any:
        if self._variables is None:
            from .debug_variables import NamespaceVariables

            self._variables = NamespaceVariables(self.room.is_user_variable)
        return self._variables
