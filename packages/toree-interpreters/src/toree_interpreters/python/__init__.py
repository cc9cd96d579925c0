"""The Python room: PySpark cells in one persistent namespace with ``spark``, ``sc`` and ``kernel``."""

from .interpreter import PySparkInterpreter

__all__ = ["PySparkInterpreter"]
