"""The Toree request handler: translates Jupyter requests into interpreter calls.

toree_protocol parses and validates requests (typed, one class per message type) and does the
protocol bookkeeping (busy/idle, replies, channels, threads); this class only wires each request
to the interpreters, magics, history and comms.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Mapping
from typing import Any

from toree_interpreters.comms import CommManager
from toree_interpreters.contract import ExecuteOutcome, Interpreter
from toree_magics import CellRunner
from toree_protocol import requests as req
from toree_protocol.handler import Context, HandlerDefaults, kernel_info

from . import __version__
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
        self.execution_count = 0
        self._busy = False  # a cell is running
        self._last_sink: IOPubSink | None = None
        self.shutdown_requested = threading.Event()

    # Interrupts ------------------------------------------------------------------------------------
    def install_sigint_handler(self) -> None:
        """Both interrupt modes end here: jupyter_client's SIGINT, or the server's own for interrupt_request."""
        signal.signal(signal.SIGINT, self._on_sigint)

    def _on_sigint(self, signum: int, frame: Any) -> None:
        # We are on the cell's thread: an interpreter may raise KeyboardInterrupt into its code, and a
        # magic doing its own work (downloading, resolving) gets one raised here.
        if self.interrupt_running() is None and self._busy:
            raise KeyboardInterrupt

    def interrupt_running(self) -> Interpreter | None:
        """Stop the cell that is running, if any (SIGINT, interrupt_request, shutdown, SIGTERM); returns
        the interpreter told to stop."""
        running = self.runner.active
        if running is None:
            log.info("interrupt with no interpreter running")
            return None
        running.interrupt()
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
            debugger=False,
        )

    def execute_request(self, request: req.ExecuteRequest, ctx: Context) -> dict[str, Any]:
        code, silent = request.code, request.silent
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
        sink = IOPubSink(ctx)
        if self._last_sink is not None:
            self._last_sink.retire()
        self._last_sink = sink
        with self.comms.routing(_comm_route(ctx, sink)):
            outcome = self._run(interpreter, code, sink)
        sink.close()

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
        self._busy = True
        try:
            return self.runner.run(code, interpreter, sink)
        except KeyboardInterrupt:  # an interrupt that landed outside the interpreter's own handling
            return ExecuteOutcome.failed("KeyboardInterrupt", "interrupted", ["KeyboardInterrupt"])
        except Exception as exc:  # a bug of ours must not take the kernel down
            log.exception("interpreter %s failed", interpreter.name)
            return ExecuteOutcome.failed(type(exc).__name__, f"internal error in {interpreter.name}: {exc}")
        finally:
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

    def shutdown_request(self, request: req.ShutdownRequest, ctx: Context) -> dict[str, Any]:
        self.shutdown_requested.set()
        self.interrupt_running()  # from the control thread: stops the cell so the shell loop can end
        return {"status": "ok", "restart": request.restart}

    def close(self) -> None:
        if self._last_sink is not None:
            self._last_sink.retire()
        for interpreter in self.interpreters.values():
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
