"""The R room: R cells with SparkR's API on the shared session (an R process of its own)."""

from .interpreter import RInterpreter

__all__ = ["RInterpreter"]
