"""``%AddDeps``'s Maven resolution, one resolver per Spark session (``SparkSessionManager.maven``).

Everything runs in the driver JVM through py4j (``ivy.py``). Where this differs from ``spark-submit
--packages``, and why:

* ``--repository`` URLs come *first* and the chain stops at the first repository that has the module,
  so a dependency from a user repository never waits on Maven Central, which may be unreachable (Spark
  puts user repositories after Central).
* Network repositories whose server cannot be connected to (no DNS, firewall) are left out, after one
  quick probe per host (``probe_timeout_s``, remembered ``probe_ttl_s`` by the resolver), and the others
  get a connect timeout (``connect_timeout_ms``). Ivy alone waits for the OS's TCP connect timeout
  (~135 s measured) on each file it looks for: a typo'd coordinate took 9 minutes against two firewalled
  repositories.
* As in Toree, a transitive dependency that fails is reported and the jars that did resolve are
  returned, unless ``abort_on_errors`` (``--abort-on-resolution-errors``).
* Scala's own jars (``org.scala-lang``) are never fetched (as in Toree), nor Spark's (as in Spark).

Credentials (``--credential FILE``) are described in ``maven.py``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import ivy
from .maven import Coordinate, StrPath, exclusion_rule, read_credentials, repository_url

__all__ = ["MavenResolver"]

# Network limits: the defaults of every resolver (its attributes of the same names, lower-case, tune one).
CONNECT_TIMEOUT_MS = 5_000  # per request Ivy makes
READ_TIMEOUT_MS = 30_000
PROBE_TIMEOUT_S = 3.0  # connect probe per repository host, before resolving
PROBE_TTL_S = 60.0  # how long a probe's verdict is reused

_ALWAYS_EXCLUDED = ("org.scala-lang:*",)


class MavenResolver:
    """Resolves Maven coordinates with the Ivy of the Spark session that ``jvm()`` gives the py4j view of
    (``spark._jvm``); remembers which repository hosts could not be reached, for ``probe_ttl_s``."""

    def __init__(self, jvm: Callable[[], Any]) -> None:
        self._jvm = jvm
        self.connect_timeout_ms = CONNECT_TIMEOUT_MS
        self.read_timeout_ms = READ_TIMEOUT_MS
        self.probe_timeout_s = PROBE_TIMEOUT_S
        self.probe_ttl_s = PROBE_TTL_S
        self._probed: dict[str, tuple[float, str | None]] = {}  # host URL -> (when probed, why unreachable)

    def resolve(
        self,
        coordinate: Coordinate | str,
        *,
        repositories: Iterable[str] = (),
        transitive: bool = False,
        exclusions: Iterable[str] = (),
        credentials: StrPath | Iterable[StrPath] | None = None,
        log: ivy.Log | None = None,
        verbose: bool = False,
        trace: bool = False,
        abort_on_errors: bool = False,
        cache_dir: StrPath | None = None,
    ) -> list[Path]:
        """Resolve and download ``coordinate`` (with its dependencies if ``transitive``); returns local jars.

        ``repositories`` are Maven repository URLs (``file:``, ``http:``, ``https:``) tried before the
        defaults; ``exclusions`` are ``group:artifact`` or ``group`` (all its artifacts). Ivy's messages
        go to ``log`` line by line while it works (more with ``verbose``, everything with ``trace``), from
        the calling thread. ``cache_dir`` is Ivy's user dir (its ``cache`` holds the jars; default
        ``~/.ivy2``). Returns the jars in that cache, the coordinate's first. Raises ``ResolutionError``;
        ``ValueError`` for bad arguments, before any JVM call (and before the session is asked for). A
        caller interrupted while waiting leaves the resolution to finish in the background.
        """
        if not isinstance(coordinate, Coordinate):
            coordinate = Coordinate.parse(coordinate)
        repos = [repository_url(url) for url in repositories]
        excluded = [exclusion_rule(text) for text in (*_ALWAYS_EXCLUDED, *exclusions)]
        if credentials is None:
            credentials = ()
        elif isinstance(credentials, (str, os.PathLike)):
            credentials = (credentials,)
        creds = [read_credentials(path) for path in credentials]
        jvm = self._jvm()
        buffer = jvm.java.io.ByteArrayOutputStream()
        stream = jvm.java.io.PrintStream(buffer, True, "UTF-8")
        level = jvm.org.apache.ivy.util.Message
        level = level.MSG_DEBUG if trace else level.MSG_VERBOSE if verbose else level.MSG_INFO

        def work() -> list[Path]:
            with ivy.LOCK, ivy.printing_to(jvm, stream):
                ivy.add_credentials(jvm, creds)
                settings, tried = ivy.build_settings(
                    jvm,
                    repos,
                    cache_dir,
                    stream,
                    unreachable=lambda urls: self._unreachable(jvm, urls),
                    connect_timeout_ms=self.connect_timeout_ms,
                    read_timeout_ms=self.read_timeout_ms,
                )
                return ivy.resolve(
                    jvm, settings, tried, coordinate, transitive, excluded, abort_on_errors, level, stream
                )

        return ivy.forwarding(work, buffer, log)

    def _unreachable(self, jvm: Any, urls: list[str]) -> dict[str, str]:
        """The URLs whose server cannot be connected to, and why; remembered for ``probe_ttl_s``.

        One connect per host, in parallel: offline or behind a firewall, Ivy would otherwise wait for a
        timeout on every file it looks for. Runs under ``ivy.LOCK`` (so the memory needs no lock of its own).
        """
        now, timeout = time.monotonic(), self.probe_timeout_s
        hosts = {url: f"{urlsplit(url).scheme}://{urlsplit(url).netloc}/" for url in urls}
        probed = self._probed
        due = {host for host in hosts.values() if host not in probed or now - probed[host][0] >= self.probe_ttl_s}
        found: dict[str, str | None] = {}

        def probe(host: str) -> None:
            found[host] = ivy.connect_failure(jvm, host, timeout)

        threads = [threading.Thread(target=probe, args=(host,), daemon=True) for host in due]
        for thread in threads:
            thread.start()
        for thread in threads:  # a DNS lookup that hangs is not bound by the connect timeout
            thread.join(max(0.0, now + timeout + 1 - time.monotonic()))
        for host in due:
            probed[host] = (now, found.get(host, f"no connection within {timeout:g} s"))
        return {url: why for url, host in hosts.items() if (why := probed[host][1])}
