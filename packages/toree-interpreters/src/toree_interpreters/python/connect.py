"""PySpark cells on a Spark Connect session: what is not there (``sc``, RDDs, ``_jvm``) says so clearly."""

from __future__ import annotations

from typing import Any

from ..spark.session import SparkConnectUnsupported, SparkSessionManager, is_connect


def explained(exc: BaseException, url: str | None) -> SparkConnectUnsupported:
    """pyspark's own error for a classic-only API, as the user's problem: what is missing and what to use."""
    return SparkConnectUnsupported(
        f"{str(exc).strip().splitlines()[0]}: not available with Spark Connect (the kernel uses "
        f"{url}); use the DataFrame API or SQL"
    )


class NoSparkContext:
    """``sc`` on Spark Connect: there is no SparkContext; using it says so."""

    def __init__(self, spark: SparkSessionManager) -> None:
        self._spark = spark

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise SparkConnectUnsupported(
            f"sc.{name}: the SparkContext (sc, RDDs) is not available with Spark Connect (the kernel uses "
            f"{self._spark.remote}); use the DataFrame API or SQL"
        )

    def __repr__(self) -> str:
        return f"<no SparkContext: Spark Connect session on {self._spark.remote}>"


def unsupported(exc: BaseException, session: Any) -> bool:
    """pyspark's own errors for classic-only APIs on Connect (``spark.sparkContext``, ``_jvm`` ...)."""
    if session is None or not is_connect(session):
        return False
    text = str(exc)
    return (
        "NOT_IMPLEMENTED" in text
        or "JVM_ATTRIBUTE_NOT_SUPPORTED" in text
        or "NOT_SUPPORTED_WITH_SPARK_CONNECT" in text
    )
