"""Spark Connect servers: is the one a session is asked to use there at all, and a session on it."""

from __future__ import annotations

import os
import socket
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from .submit_args import conf_pairs

RETRIES = 4  # the client's retries of a server that does not answer: ~3 s, not its default ~10 min


class ConnectUnreachable(RuntimeError):
    """The Spark Connect URL is malformed or its server cannot be reached (the message says which)."""


def check_reachable(url: str, timeout: float = 10.0) -> None:
    """Fail fast: the Connect client retries an unreachable server for minutes before it gives up."""
    parsed = urllib.parse.urlsplit(url)
    try:
        port = parsed.port or 15002
    except ValueError:
        port = 0
    if parsed.scheme != "sc" or not parsed.hostname or not port:
        raise ConnectUnreachable(f"{url!r} is not a Spark Connect URL (expected sc://HOST[:PORT])")
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise ConnectUnreachable(f"cannot reach the Spark Connect server at {parsed.hostname}:{port}: {exc}") from None


def connect(url: str, remote: str, spark_args: Sequence[str], conf: Mapping[str, str]) -> Any:
    """A Spark Connect session of ``url`` (``remote`` with the session id); of the spark-submit options only
    ``--conf k=v`` means anything here. ConnectUnreachable (the session manager reports it as the start
    failure) when it cannot be had."""
    confs = dict(conf_pairs(spark_args))
    confs.update(conf)
    return build(url, remote, confs)


def with_session(url: str, session_id: str, user_id: str) -> str:
    """``url`` naming one server-side session (``;session_id=``) and user: every client of the kernel (Python,
    the Scala JVM, R through Python) that connects with it shares temp views, configs and artifacts. A
    session id or user the URL already names is kept."""
    base, _, params = url.partition(";")
    keys = {part.partition("=")[0] for part in params.split(";") if part}
    extra = [f"{key}={value}" for key, value in (("session_id", session_id), ("user_id", user_id)) if key not in keys]
    if not extra:
        return url
    base = base if base.endswith("/") else base + "/"
    return ";".join([base, *([params] if params else []), *extra])


def jar_path(url: str) -> str:
    """The local file of a ``file:`` jar URL (the Connect client uploads local files only)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"{url}: over Spark Connect only local jars (file:// URLs or paths) can be added")
    return urllib.parse.unquote(parsed.path)


def build(url: str, remote: str, confs: Mapping[str, str]) -> Any:
    """A pyspark Connect session of ``url`` (``remote`` with the session id) after checking ``remote``'s server
    answers; SparkUnavailable-worthy errors are ``ConnectUnreachable``. Its client gives up on a server that
    went away after ``RETRIES`` tries."""
    try:  # grpcio, pandas, pyarrow ...
        from pyspark.sql.connect.client.core import DefaultChannelBuilder
        from pyspark.sql.connect.client.retries import DefaultPolicy
        from pyspark.sql.connect.session import SparkSession
    except ImportError as exc:
        raise ConnectUnreachable(f"the Spark Connect client needs pyspark[connect] installed: {exc}") from None

    check_reachable(remote)
    # A channel of its own: gRPC shares connections between channels to one address, and one that failed
    # (the server went away) keeps failing new channels for up to two minutes after the server is back.
    channel = DefaultChannelBuilder(url, channelOptions=[("grpc.use_local_subchannel_pool", 1)])
    builder = SparkSession.builder.channelBuilder(channel)
    # pyspark's functions (udf, col ...) take the Connect implementations only with this set, as
    # ``SparkSession.builder.remote`` does.
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    for key, value in confs.items():
        builder = builder.config(key, value)
    session = builder.create()  # not a cached one: after a server restart its server-side id is stale
    session.client.set_retry_policies([DefaultPolicy(max_retries=RETRIES, max_backoff=2000)])
    return session


def server_gone(exc: BaseException | None, remote: str) -> str | None:
    """Why ``exc`` means the Connect server cannot be reached any more (it stopped, restarted, the network
    went), or None for any other error."""
    seen = exc
    while seen is not None:
        text = f"{type(seen).__name__}: {seen}"
        if "RetriesExceeded" in text or "UNAVAILABLE" in text or "SESSION_CHANGED" in text:
            parsed = urllib.parse.urlsplit(remote)
            return f"the Spark Connect server at {parsed.hostname}:{parsed.port or 15002} went away"
        seen = seen.__cause__ or seen.__context__
    return None
