"""Why a cell cannot have Spark: the errors every layer raises (the session manager re-exports them)."""

from __future__ import annotations


class SparkUnavailable(RuntimeError):
    """No SparkSession can be had: started with --nosparkcontext, or the start failed (message says why)."""


class SparkConnectUnsupported(SparkUnavailable):
    """A feature that needs the classic session (the driver JVM in this process), asked of a Spark Connect one."""
