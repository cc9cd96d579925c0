"""The Python room: PySpark cells in one persistent namespace with ``spark``, ``sc`` and ``kernel``.

Two interpreters share it: ``PySparkInterpreter`` runs plain Python; ``IPythonInterpreter`` runs the
cells in an embedded IPython shell (magics, ``!cmd``, ``obj?``, inline plots). The latter is imported
on first use, so embedders of the plain one never load IPython.
"""

from typing import TYPE_CHECKING, Any

from .interpreter import PySparkInterpreter

if TYPE_CHECKING:
    from .ipython_shell import IPythonInterpreter

__all__ = ["IPythonInterpreter", "PySparkInterpreter"]


def __getattr__(name: str) -> Any:
    if name == "IPythonInterpreter":
        from .ipython_shell import IPythonInterpreter

        return IPythonInterpreter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
