"""The SQL room: Spark SQL cells (Toree's SQL kernel and ``%%sql``) on the shared session."""

from .interpreter import SQLInterpreter

__all__ = ["SQLInterpreter"]
