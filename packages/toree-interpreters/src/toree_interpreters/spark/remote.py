"""Spark Connect servers: is the one a session is asked to use there at all?"""

from __future__ import annotations

import socket
import urllib.parse


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
