"""What the kernel's debugger (``debugger.py``) needs around debugpy: whether it is there, starting it,
DAP responses of the kernel's own, and which code and threads are the kernel's rather than the user's."""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from collections.abc import Mapping
from typing import Any

# Imported by the kernel already, yet code a Spark user steps into: never hidden from the debugger
_USER_LIBRARIES = frozenset({"pyspark", "py4j"})


def debugpy_available() -> bool:
    """debugpy can be imported (looked up without importing it: kernel start-up stays fast)."""
    try:
        return importlib.util.find_spec("debugpy") is not None
    except (ImportError, ValueError):  # a finder that refuses it, a half-imported module
        return False


def response(request: Mapping[str, Any], success: bool = True, body: Any = None, message: str = "") -> dict:
    """A DAP response to ``request`` made by the kernel itself."""
    reply: dict[str, Any] = {
        "type": "response",
        "seq": request.get("seq", 0),
        "request_seq": request.get("seq", 0),
        "success": success,
        "command": request.get("command", ""),
    }
    if body is not None:
        reply["body"] = body
    if message:
        reply["message"] = message
    return reply


def own_request(command: str, arguments: Mapping[str, Any], seq: int = 0) -> dict[str, Any]:
    """A DAP request of the kernel's own (the adapter client numbers it; its response carries ``seq`` back
    as ``request_seq``: the client's, when it answers a client's request)."""
    return {"type": "request", "seq": seq, "command": command, "arguments": dict(arguments)}


def listen() -> tuple[str, int]:
    """Start debugpy in this process (its adapter in a child process) on a free loopback port."""
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # no frozen-modules warning on stderr
    import debugpy

    debugpy.configure(subProcess=False)  # a cell's !python or %pip is not debugged along
    host, port = debugpy.listen(("127.0.0.1", 0))
    return str(host), int(port)


def imported_files() -> list[str]:
    """Where the modules imported so far live, Spark's Python API aside: a package's directory, a module's
    file. Before the first cell that is the kernel's own code (IPython, traitlets, the standard library
    parts they use): the frames between a cell's statements (IPython runs one at a time), which a step
    over the last line of one would otherwise stop in."""
    stdlib = {os.path.dirname(os.__file__)}  # the standard library's own directory (not a venv's)
    found: set[str] = set()
    for name, module in list(sys.modules.items()):
        top = name.partition(".")[0]
        where = getattr(module, "__file__", None)
        if top in _USER_LIBRARIES or not isinstance(where, str) or not where:
            continue
        if "." in name and top in sys.modules and getattr(sys.modules[top], "__path__", None):
            continue  # its package's directory covers it
        path = getattr(module, "__path__", None)
        where = os.path.dirname(where) if path else where
        found.add(next((lib for lib in stdlib if where.startswith(lib + os.sep)), where))  # fewer rules
    return sorted(found)


def literal_bundle(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (data, metadata) pair a stopped frame's evaluation printed (a Python literal, never run)."""
    try:
        value = ast.literal_eval(text)
        data, metadata = value
        if isinstance(data, dict) and isinstance(metadata, dict):
            return data, metadata
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    return {}, {}


def modules_response(request: Mapping[str, Any]) -> dict[str, Any]:
    """The loaded modules with a Python source (``modules``), as debugpy lists them."""
    arguments = request.get("arguments") or {}
    modules = list(sys.modules.values())
    start = int(arguments.get("startModule", 0))
    count = int(arguments.get("moduleCount", len(modules)))
    found = []
    for number, module in enumerate(modules[start : start + count], start):
        origin = getattr(getattr(module, "__spec__", None), "origin", None)
        if isinstance(origin, str) and origin.endswith(".py"):
            found.append({"id": number, "name": module.__name__, "path": origin})
    return response(request, body={"modules": found, "totalModules": len(modules)})
