"""The Spark core every language room shares: the session manager, Java discovery, the class-data-sharing
archive, spark-submit arguments, live job progress, DataFrame tables and the cell lifecycle."""

from .session import SparkConnectUnsupported, SparkSessionManager, SparkUnavailable, is_connect

__all__ = ["SparkConnectUnsupported", "SparkSessionManager", "SparkUnavailable", "is_connect"]
