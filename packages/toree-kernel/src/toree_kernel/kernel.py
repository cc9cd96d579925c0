"""The Toree request handler: translates Jupyter requests into interpreter calls.

toree_protocol parses and validates requests (typed, one class per message type) and does the
protocol bookkeeping (busy/idle, replies, channels, threads); this class only wires each request
to the interpreters, magics, history and comms.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from typing import Any

from toree_interpreters.comms import CommManager
from toree_interpreters.contract import ExecuteOutcome, Interpreter
from toree_magics import CellRunner
from toree_protocol import requests as req
from toree_protocol.handler import Context, HandlerDefaults, kernel_info

from . import __version__
from .debug_support import response
from .debugger import Debugger
from .history import HistoryStore
from .iopub_sink import IOPubSink

log = logging.getLogger(__name__)

HELP_LINKS = [
    {"text": "Apache Spark documentation", "url": "https://spark.apache.org/docs/latest/"},
    {"text": "PySpark API", "url": "https://spark.apache.org/docs/latest/api/python/"},
    {"text": "Apache Toree", "url": "https://toree.apache.org/"},
]


class ToreeKernel(HandlerDefaults):
    """``toree_protocol.handler.KernelHandler`` for ``KernelServer`` (one method per request type)."""

    def __init__(
        self,
        interpreters: dict[str, Interpreter],
        default: str,
        runner: CellRunner,
        *,
        history: HistoryStore | None = None,
        banner: str = "",
        comms: CommManager | None = None,
        debugger: Debugger | None = None,
    ) -> None:
        self.interpreters = {name.lower(): interp for name, interp in interpreters.items()}
        if default.lower() not in self.interpreters:
            raise ValueError(
                f"unknown interpreter {default!r}; available: {', '.join(i.name for i in interpreters.values())}"
            )
        self.default = self.interpreters[default.lower()]
        self.runner = runner  # magics and code, in cell order
        self.history = history
        self.banner = banner
        self.comms = comms if comms is not None else CommManager()  # kernel.comm in PySpark cells
        self.debugger = debugger  # debug_request (JupyterLab's debugger), when debugpy is there
        self.execution_count = 0
        self._count_lock = threading.Lock()  # cells of subshells (JEP 91) count from their own threads
        self._busy = False  # a cell is running on the main shell (where SIGINT lands)
        self._last_sink: IOPubSink | None = None  # the main shell's latest cell's (threads it left write there)
        self.shutdown_requested = threading.Event()
        self.on_shutdown: Callable[[str], None] | None = None  # the process's way of ending (app.py)

    def use_default(self, name: str) -> None:
        """Make ``name`` the kernel's language (a pooled kernel adopted by a notebook of another spec)."""
        interpreter = self.interpreters.get(name.lower())
        if interpreter is None:
            raise ValueError(f"unknown interpreter {name!r}; available: {', '.join(self.interpreters)}")
        self.default = interpreter

    @property
    def main_busy(self) -> bool:
        """A cell runs on the main shell."""
        return self._busy

    # Interrupts ------------------------------------------------------------------------------------
    def install_sigint_handler(self) -> None:
        """Both interrupt modes end here: jupyter_client's SIGINT, or the server's own for interrupt_request."""
        signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        # We are on the main shell's thread: an interpreter may raise KeyboardInterrupt into its code, and
        # a magic doing its own work (downloading, resolving) gets one raised here.
        if self.debugger is not None:
            self.debugger.untrace_this_thread()  # the interrupt's way out must not run through debugpy
        self.interrupt_running()
        if self._busy and self.runner.active is None:
            raise KeyboardInterrupt

    def interrupt_running(self) -> list[Interpreter]:
        """Stop every running cell, the main shell's and the subshells' (SIGINT, interrupt_request,
        shutdown, SIGTERM); returns the interpreters told to stop."""
        running = self.runner.running
        if not running:
            log.info("interrupt with no interpreter running")
            return []
        if self.debugger is not None:
            self.debugger.release()  # a cell stopped at a breakpoint goes on, to meet the interrupt
        mine = self.runner.active
        for interpreter in sorted(running, key=lambda i: i is mine):  # a SIGINT handler's own cell last:
            interpreter.interrupt()  # its interpreter may raise KeyboardInterrupt right here
        return running

    # Requests ---------------------------------------------------------------------------------------
    def kernel_info_request(self, request: req.KernelInfoRequest, ctx: Context) -> dict[str, Any]:
        # Answered from static data: never waits for Spark.
        return kernel_info(
            implementation="toree",
            implementation_version=__version__,
            language_info=self.default.language_info.to_dict(),
            banner=self.banner,
            help_links=HELP_LINKS,
            debugger=self.debugger is not None,
            # Python and SQL cells run concurrently on subshells; Scala and R answer InterpreterBusy there
            supported_features=["kernel subshells", *(["debugger"] if self.debugger is not None else [])],
        )

    def execute_request(self, request: req.ExecuteRequest, ctx: Context) -> dict[str, Any]:
        """Run a cell, on the main shell or on a subshell's thread (concurrently with the main shell)."""
        code, silent = request.code, request.silent
        on_subshell = ctx.message.header.subshell_id is not None
        with self._count_lock:
            if request.store_history:
                self.execution_count += 1
            count = self.execution_count
        if not silent:
            ctx.publish("execute_input", {"code": code, "execution_count": count})
        if request.store_history and self.history is not None:
            self.history.store(count, code)

        interpreter = self.default
        for one in self.interpreters.values():  # IPython's In/Out/_N follow the kernel's count
            one.begin_cell(count, store_history=request.store_history and not silent, silent=silent)
        # A subshell's cell must answer promptly: a busy one-cell-at-a-time room (Scala) refuses it at once.
        sink = IOPubSink(ctx, waits_when_busy=not on_subshell)
        if not on_subshell:
            if self.debugger is not None:
                self.debugger.cell_starting()  # the debugger follows the main shell's cells
            if self._last_sink is not None:
                self._last_sink.retire()
            self._last_sink = sink
        with self.comms.routing(_comm_route(ctx, sink)):
            outcome = self._run(interpreter, code, sink)
        sink.retire() if on_subshell else sink.close()  # threads write to the main shell's sink

        if outcome.status == "ok":
            if outcome.result and not silent:
                sink.publish(
                    "execute_result",
                    {"execution_count": count, "data": outcome.result, "metadata": outcome.result_metadata},
                )
            return {
                "status": "ok",
                "execution_count": count,
                "user_expressions": self._user_expressions(interpreter, request.user_expressions),
                "payload": list(outcome.payload),  # e.g. help for ``obj?``: {"source": "page", ...}
            }
        error = outcome.error
        assert error is not None
        # Never an empty evalue (clients show it as the error's one line): ``raise ValueError()`` says so.
        evalue = error.evalue or f"{error.ename} (raised without a message)"
        err = {"ename": error.ename, "evalue": evalue, "traceback": error.traceback}
        sink.publish("error", err)
        return {"status": "error", "execution_count": count, **err}

    def _run(self, interpreter: Interpreter, code: str, sink: IOPubSink) -> ExecuteOutcome:
        main = threading.current_thread() is threading.main_thread()
        if main:  # SIGINT's KeyboardInterrupt is for the main shell's cell only, never a subshell's
            self._busy = True
        try:
            return self.runner.run(code, interpreter, sink)
        except KeyboardInterrupt:  # an interrupt that landed outside the interpreter's own handling
            return ExecuteOutcome.failed("KeyboardInterrupt", "interrupted", ["KeyboardInterrupt"])
        except Exception as exc:  # a bug of ours must not take the kernel down
            log.exception("interpreter %s failed", interpreter.name)
            return ExecuteOutcome.failed(type(exc).__name__, f"internal error in {interpreter.name}: {exc}")
        finally:
            if main:
                self._busy = False

    def _user_expressions(self, interpreter: Interpreter, expressions: Mapping[str, Any]) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for name, expr in expressions.items():
            try:
                results[name] = {"status": "ok", "data": interpreter.evaluate(str(expr)), "metadata": {}}
            except Exception as exc:
                results[name] = {
                    "status": "error",
                    "ename": type(exc).__name__,
                    "evalue": str(exc),
                    "traceback": [],
                }
        return results

    def complete_request(self, request: req.CompleteRequest, ctx: Context) -> dict[str, Any]:
        completion = self.runner.complete(request.code, request.cursor_pos, self.default)
        return {
            "status": "ok",
            "matches": completion.matches,
            "cursor_start": completion.cursor_start,
            "cursor_end": completion.cursor_end,
            "metadata": completion.metadata,
        }

    def inspect_request(self, request: req.InspectRequest, ctx: Context) -> dict[str, Any]:
        bundle = self.runner.inspect(request.code, request.cursor_pos, request.detail_level, self.default)
        return {"status": "ok", "found": bool(bundle), "data": bundle or {}, "metadata": {}}

    def is_complete_request(self, request: req.IsCompleteRequest, ctx: Context) -> dict[str, Any]:
        verdict = self.runner.is_complete(request.code, self.default)
        reply: dict[str, Any] = {"status": verdict.status}
        if verdict.status == "incomplete":
            reply["indent"] = verdict.indent
        return reply

    def history_request(self, request: req.HistoryRequest, ctx: Context) -> dict[str, Any]:
        if self.history is None:
            return {"status": "ok", "history": []}
        kind = request.hist_access_type
        if kind == "range":
            rows = self.history.range(request.session or 0, request.start or 1, request.stop)
        elif kind == "search":
            rows = self.history.search(request.pattern, request.n, request.unique)
        else:
            rows = self.history.tail(request.n or 10)
        if request.output:
            rows = [[s, n, [src, None]] for s, n, src in rows]
        return {"status": "ok", "history": rows}

    def comm_info_request(self, request: req.CommInfoRequest, ctx: Context) -> dict[str, Any]:
        return {"status": "ok", "comms": self.comms.info(request.target_name)}

    # Comm messages from the client: no reply; what the comm sends back has this message as parent.
    def comm_open(self, request: req.CommMessage, ctx: Context) -> None:
        self._comm(ctx)

    def comm_msg(self, request: req.CommMessage, ctx: Context) -> None:
        self._comm(ctx)

    def comm_close(self, request: req.CommMessage, ctx: Context) -> None:
        self._comm(ctx)

    def _comm(self, ctx: Context) -> None:
        msg = ctx.message
        with self.comms.routing(_comm_route(ctx, None)):
            self.comms.handle(
                msg.msg_type,
                {
                    "header": msg.header.to_dict(),
                    "msg_id": msg.msg_id,
                    "msg_type": msg.msg_type,
                    "parent_header": dict(msg.parent_header),
                    "metadata": dict(msg.metadata),
                    "content": dict(msg.content),
                    "buffers": [memoryview(b) for b in msg.buffers],
                },
            )

    def debug_request(self, request: req.RawRequest, ctx: Context) -> dict[str, Any]:
        """A DAP request for the debugger (on control: answered while a cell is stopped at a breakpoint)."""
        if self.debugger is None:  # not advertised; a client that asks anyway is told why
            content = request.content
            if content.get("type") != "request":
                return {}
            why = "this kernel has no debugger: it needs debugpy (pip install debugpy) and the PySpark kernel"
            return response(content, False, message=why)
        return self.debugger.handle(request.content, lambda event: ctx.publish("debug_event", event))

    def shutdown_request(self, request: req.ShutdownRequest, ctx: Context) -> dict[str, Any]:
        self.shutdown_requested.set()
        if self.on_shutdown is not None:  # stops everything within its deadline, on a thread of its own
            self.on_shutdown("shutdown_request")
        else:
            self.interrupt_running()  # from the control thread: stops the cell so the shell loop can end
        return {"status": "ok", "restart": request.restart}

    def close(self, *, rooms: bool = True) -> None:
        """Flush the last output and close the history; ``rooms``: shut the interpreters down too (a kernel
        process's ``Lifecycle`` does that itself, within its deadline)."""
        if self.debugger is not None:
            self.debugger.close()
        if self._last_sink is not None:
            self._last_sink.retire()
        for interpreter in self.interpreters.values() if rooms else ():
            try:
                interpreter.shutdown()
            except Exception:
                log.exception("shutting down %s failed", interpreter.name)
        if self.history is not None:
            self.history.close()


def _comm_route(ctx: Context, sink: IOPubSink | None) -> Any:
    """Comm messages with ``ctx``'s request as parent; a cell's pending output goes out first."""

    def send(msg_type: str, content: dict[str, Any], metadata: dict[str, Any], buffers: Any) -> None:
        if sink is not None:
            sink.flush()
        ctx.publish(msg_type, content, metadata=metadata, buffers=buffers)

    return send
