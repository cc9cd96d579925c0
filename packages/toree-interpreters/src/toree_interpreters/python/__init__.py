"""The Python room: PySpark cells in one persistent namespace with ``spark``, ``sc`` and ``kernel``.

Two interpreters share it: ``PySparkInterpreter`` runs plain Python; ``IPythonInterpreter`` runs the
cells in an embedded IPython shell (magics, ``!cmd``, ``obj?``, inline plots). IPython itself
is imported when an IPythonInterpreter builds its shell, so embedders of the plain one never load it.
"""

from .interpreter import PySparkInterpreter
from .ipython_shell import IPythonInterpreter

__all__ = ["IPythonInterpreter", "PySparkInterpreter"]

