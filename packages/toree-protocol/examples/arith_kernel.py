"""A complete, tiny kernel built only on toree_protocol: proof that other kernels can reuse it.

The "arith" language: one statement per line.
    x = 2 * (3 + 4)      assign          x + 1       an expression (the last one is the cell's result)
    print <text>         stdout          eprint <text>   stderr
    input <prompt>       ask the user    sleep <seconds> (to try interrupts)
    html <markup>        display HTML    clear           clear the output

    python arith_kernel.py -f CONNECTION_FILE
"""

from __future__ import annotations

import ast
import fnmatch
import operator
import signal
import sys
import time
from typing import Any

from toree_protocol import read_connection_file
from toree_protocol import requests as req
from toree_protocol.handler import Context, HandlerDefaults, kernel_info
from toree_protocol.server import KernelServer

OPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}  # fmt: skip
KEYWORDS = ["print", "eprint", "input", "sleep", "html", "clear"]


class ArithError(Exception):
    pass


def evaluate(node: ast.AST, names: dict[str, float]) -> float:
    """Arithmetic only: numbers, names, + - * / // % ** and parentheses. Nothing else is evaluated."""
    if isinstance(node, ast.Expression):
        return evaluate(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in names:
            raise ArithError(f"name {node.id!r} is not defined")
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        return OPS[type(node.op)](evaluate(node.left, names), evaluate(node.right, names))
    if isinstance(node, ast.UnaryOp) and type(node.op) in OPS:
        return OPS[type(node.op)](evaluate(node.operand, names))
    raise ArithError(f"not arithmetic: {ast.unparse(node)}")


class ArithKernel(HandlerDefaults):
    def __init__(self) -> None:
        self.names: dict[str, float] = {}
        self.count = 0
        self.history: list[tuple[int, str]] = []
        self.running = False

    def on_sigint(self, signum: int, frame: Any) -> None:
        if self.running:  # an interrupt while idle is harmless
            raise KeyboardInterrupt

    def kernel_info_request(self, request: req.KernelInfoRequest, ctx: Context) -> dict[str, Any]:
        return kernel_info(
            implementation="arith",
            implementation_version="0.1",
            language_info={"name": "arith", "version": "1.0", "mimetype": "text/plain", "file_extension": ".arith"},
            banner="arith: a toree_protocol example kernel",
        )

    def execute_request(self, request: req.ExecuteRequest, ctx: Context) -> dict[str, Any]:
        code, silent = request.code, request.silent
        if not silent:
            self.count += 1
            self.history.append((self.count, code))
            ctx.publish("execute_input", {"code": code, "execution_count": self.count})
        self.running = True
        try:
            result = self.run(code, ctx)
        except (ArithError, ArithmeticError, SyntaxError, KeyboardInterrupt, ValueError) as exc:
            error = {
                "ename": type(exc).__name__,
                "evalue": str(exc),
                "traceback": [f"{type(exc).__name__}: {exc}"],
            }
            ctx.publish("error", error)
            return {"status": "error", "execution_count": self.count, **error}
        finally:
            self.running = False
        if result is not None and not silent:
            data = {"text/plain": repr(result)}
            ctx.publish("execute_result", {"execution_count": self.count, "data": data, "metadata": {}})
        return {"status": "ok", "execution_count": self.count, "user_expressions": {}, "payload": []}

    def run(self, code: str, ctx: Context) -> float | None:
        result = None
        for line in filter(None, (raw.strip() for raw in code.splitlines())):
            word, _, rest = line.partition(" ")
            result = None
            if word in ("print", "eprint"):
                ctx.publish(
                    "stream", {"name": "stdout" if word == "print" else "stderr", "text": rest + "\n"}
                )
            elif word == "input":
                answer = ctx.input(rest)
                ctx.publish("stream", {"name": "stdout", "text": answer + "\n"})
            elif word == "sleep":
                time.sleep(float(rest))
            elif word == "html":
                ctx.publish("display_data", {"data": {"text/html": rest, "text/plain": rest}, "metadata": {}})
            elif word == "clear":
                ctx.publish("clear_output", {"wait": False})
            elif "=" in line and line.split("=", 1)[0].strip().isidentifier():
                name, expr = (part.strip() for part in line.split("=", 1))
                self.names[name] = evaluate(ast.parse(expr, mode="eval"), self.names)
            else:
                result = evaluate(ast.parse(line, mode="eval"), self.names)
        return result

    def complete_request(self, request: req.CompleteRequest, ctx: Context) -> dict[str, Any]:
        code, pos = request.code, request.cursor_pos
        start = pos
        while start > 0 and (code[start - 1].isalnum() or code[start - 1] == "_"):
            start -= 1
        prefix = code[start:pos]
        matches = sorted(w for w in [*KEYWORDS, *self.names] if w.startswith(prefix))
        return {"status": "ok", "matches": matches, "cursor_start": start, "cursor_end": pos, "metadata": {}}

    def inspect_request(self, request: req.InspectRequest, ctx: Context) -> dict[str, Any]:
        name = request.code.strip()
        if name in self.names:
            return {
                "status": "ok",
                "found": True,
                "data": {"text/plain": f"{name} = {self.names[name]!r}"},
                "metadata": {},
            }
        return {"status": "ok", "found": False, "data": {}, "metadata": {}}

    def is_complete_request(self, request: req.IsCompleteRequest, ctx: Context) -> dict[str, Any]:
        code = request.code
        if code.count("(") > code.count(")"):
            return {"status": "incomplete", "indent": ""}
        for line in filter(None, (raw.strip() for raw in code.splitlines())):
            if line.partition(" ")[0] in KEYWORDS:
                continue
            expr = line.split("=", 1)[1] if "=" in line else line
            try:
                ast.parse(expr.strip(), mode="eval")
            except SyntaxError:
                return {"status": "invalid"}
        return {"status": "complete"}

    def history_request(self, request: req.HistoryRequest, ctx: Context) -> dict[str, Any]:
        rows: list[list[Any]] = [[1, n, src] for n, src in self.history]
        kind = request.hist_access_type
        if kind == "tail":
            rows = rows[-(10 if request.n is None else request.n) :]
        elif kind == "range":
            rows = [r for r in rows if request.start <= r[1] < (request.stop or 1 << 30)]
        elif kind == "search":
            rows = [r for r in rows if fnmatch.fnmatchcase(r[2], request.pattern)]
            if request.unique:
                rows = list({r[2]: r for r in rows}.values())
            if request.n:
                rows = rows[-request.n :]
        if request.output:
            rows = [[s, n, [src, None]] for s, n, src in rows]
        return {"status": "ok", "history": rows}

    def comm_info_request(self, request: req.CommInfoRequest, ctx: Context) -> dict[str, Any]:
        return {"status": "ok", "comms": {}}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("-f", "--profile"):
        print("usage: arith_kernel.py -f CONNECTION_FILE", file=sys.stderr)
        return 2
    kernel = ArithKernel()
    server = KernelServer(read_connection_file(argv[1]), kernel, connection_file=argv[1])
    server.bind()
    signal.signal(signal.SIGINT, kernel.on_sigint)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.serve_forever()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
