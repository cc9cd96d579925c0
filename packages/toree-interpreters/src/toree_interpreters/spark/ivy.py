"""Maven resolution done by the Ivy that ships inside Spark, in the session's driver JVM, through py4j.

Spark builds the Ivy settings as ``spark-submit --packages`` does (``~/.m2``, the Ivy cache's ``local``
repository, Maven Central, spark-packages, ``DEFAULT_ARTIFACT_REPOSITORY``), Spark makes the exclusion
rules, and Ivy resolves, downloads and caches; nothing here reads a POM. How this differs from
``--packages`` and why is in ``resolver.py``; these are the JVM-side steps it takes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from py4j.java_gateway import JavaClass
from py4j.protocol import Py4JJavaError

from .maven import Coordinate, Credentials, ResolutionError, StrPath

Log = Callable[[str], None]
T = TypeVar("T")

CONF = "default"
NETWORK_TIMEOUT = "toree-network"  # the name of the timeout constraint network repositories get
_POLL_S = 0.1
# Ivy writes to System.out, which is JVM-wide while it runs: one resolution at a time in this process
# (every session of a process shares pyspark's one JVM gateway).
LOCK = threading.Lock()


@contextlib.contextmanager
def printing_to(jvm: Any, stream: Any) -> Iterator[None]:
    """Point the JVM's System.out/err at ``stream``: Ivy's DefaultMessageLogger prints there."""
    system = jvm.java.lang.System
    out, err = system.out, system.err
    system.setOut(stream)
    system.setErr(stream)
    try:
        yield
    finally:
        system.setOut(out)
        system.setErr(err)


def _spark_maven(jvm: Any) -> tuple[Any, bool]:
    """Spark's Ivy helpers, the Scala object itself (``MODULE$``: not every method has a static forwarder).

    ``MavenUtils`` in Spark 4 (its methods take the implicit PrintStream), ``SparkSubmitUtils`` in 3.x.
    """
    for package, name, takes_stream in (
        (jvm.org.apache.spark.util, "MavenUtils", True),
        (jvm.org.apache.spark.deploy, "SparkSubmitUtils", False),
    ):
        if isinstance(getattr(package, name), JavaClass):
            return getattr(getattr(package, name + "$"), "MODULE$"), takes_stream
    raise ResolutionError(
        "this Spark has neither MavenUtils nor SparkSubmitUtils: cannot resolve dependencies"
    )


def add_credentials(jvm: Any, creds: Iterable[Credentials]) -> None:
    """Ivy's IvyAuthenticator (installed by Ivy on each HTTP request) answers challenges from this store."""
    store = jvm.org.apache.ivy.util.url.CredentialsStore.INSTANCE
    for cred in creds:
        store.addCredentials(cred.realm, cred.host, cred.user, cred.password)


def build_settings(
    jvm: Any,
    repos: list[str],
    cache_dir: StrPath | None,
    stream: Any,
    *,
    unreachable: Callable[[list[str]], dict[str, str]],
    connect_timeout_ms: int,
    read_timeout_ms: int,
) -> tuple[Any, list[str]]:
    """Spark's Ivy settings, user repositories first, the URLs ``unreachable`` names left out, the others
    with those network timeouts.

    Also returns where the chain looks, for error messages.
    """
    utils, takes_stream = _spark_maven(jvm)
    option = jvm.scala.Option.apply
    # No remote repositories here (Spark would append them); use ~/.m2 as Spark does by default.
    args = (option(None), option(None if cache_dir is None else os.fspath(cache_dir)), True)
    settings = utils.buildIvySettings(*args, stream) if takes_stream else utils.buildIvySettings(*args)
    timeout = jvm.org.apache.ivy.core.settings.NamedTimeoutConstraint(NETWORK_TIMEOUT)
    timeout.setConnectionTimeout(connect_timeout_ms)
    timeout.setReadTimeout(read_timeout_ms)
    settings.addConfigured(timeout)
    resolvers = jvm.org.apache.ivy.plugins.resolver
    candidates = []
    for url in repos:
        user_repo = resolvers.IBiblioResolver()
        user_repo.setM2compatible(True)
        user_repo.setUsepoms(True)
        user_repo.setRoot(url)
        user_repo.setName(url)
        candidates.append(user_repo)
    candidates.extend(settings.getDefaultResolver().getResolvers())
    chain = resolvers.ChainResolver()
    chain.setName("toree-adddeps")
    chain.setReturnFirst(True)  # stop at the first repository that has the module
    where = [_where(resolver) for resolver in candidates]
    down = unreachable([url for url in where if url.startswith(("http:", "https:"))])
    tried = []
    for resolver, url in zip(candidates, where, strict=True):
        if url in down:
            stream.println(f"skipping {url}: {down[url]}")
        else:
            chain.add(resolver)
            tried.append(url)
    settings.addResolver(chain)  # also gives the user repositories their settings
    settings.setDefaultResolver(chain.getName())
    for resolver, url in zip(candidates, where, strict=True):
        if url.startswith(("http:", "https:")) and url not in down:
            resolver.setTimeoutConstraint(NETWORK_TIMEOUT)
            resolver.validate()  # looks the constraint up: without this Ivy silently ignores it
    return settings, [*tried, *(f"{url} (unreachable)" for url in where if url in down)]


def connect_failure(jvm: Any, host: str, timeout_s: float) -> str | None:
    """Why the server at URL ``host`` cannot be connected to within ``timeout_s``, or None if it can.

    From the JVM, so its proxy and TLS settings apply. py4j trouble is no reason to skip a repository:
    that counts as reachable, and Ivy tries it.
    """
    try:
        connection = jvm.java.net.URL(host).openConnection()
        connection.setConnectTimeout(int(timeout_s * 1000))
        connection.connect()
        connection.disconnect()
    except Py4JJavaError as exc:
        return str(exc.java_exception.toString())
    except Exception:
        return None
    return None


def _where(resolver: Any) -> str:
    """A resolver's root URL (Maven-style) or directory (Ivy-style, the local Ivy repository)."""
    if resolver.getClass().getSimpleName() == "IBiblioResolver":
        return str(resolver.getRoot())
    patterns = resolver.getIvyPatterns()
    return str(patterns.get(0)).split("[organisation]")[0] if patterns.size() else str(resolver.getName())


def resolve(
    jvm: Any,
    settings: Any,
    tried: list[str],
    coordinate: Coordinate,
    transitive: bool,
    excluded: list[str],
    abort_on_errors: bool,
    level: int,
    stream: Any,
) -> list[Path]:
    """Resolve (and download) ``coordinate`` with Ivy; the jars, the coordinate's first (see ``_jars``)."""
    ivy_pkg = jvm.org.apache.ivy
    descriptor = ivy_pkg.core.module.descriptor
    mrid = ivy_pkg.core.module.id.ModuleRevisionId.newInstance
    utils, _ = _spark_maven(jvm)
    ivy = ivy_pkg.Ivy.newInstance(settings)
    logger = ivy_pkg.util.DefaultMessageLogger(level)
    logger.setShowProgress(level >= ivy_pkg.util.Message.MSG_DEBUG)  # the dots of --trace
    ivy.getLoggerEngine().pushLogger(logger)
    ivy.pushContext()  # else Ivy builds a default instance for this thread (and says so on stdout)
    try:
        # A throw-away root module depending on the coordinate, as in Spark (unique name: caches are shared).
        root = descriptor.DefaultModuleDescriptor.newDefaultInstance(
            mrid("toree", f"adddeps-{uuid.uuid4().hex}", "working")
        )
        dependency = descriptor.DefaultDependencyDescriptor(
            root, mrid(coordinate.group, coordinate.artifact, coordinate.version), False, False, True
        )
        dependency.addDependencyConfiguration(CONF, f"{CONF}(runtime)")
        root.addDependency(dependency)
        spark_jars = utils.IVY_DEFAULT_EXCLUDES().mkString(",").split(",")
        for rule in (*excluded, *(f"org.apache.spark:spark-{name}*:*" for name in spark_jars)):
            root.addExcludeRule(utils.createExclusion(rule, settings, CONF))
        options = ivy_pkg.core.resolve.ResolveOptions()
        options.setTransitive(transitive)
        options.setDownload(True)
        options.setOutputReport(False)
        try:
            report = ivy.resolve(root, options)
        finally:
            _forget(settings, root)
    except Py4JJavaError as exc:
        raise ResolutionError(f"resolving {coordinate} failed: {exc.java_exception.toString()}") from None
    finally:
        ivy.popContext()
    return _jars(report, coordinate, tried, abort_on_errors, stream)


def _forget(settings: Any, root: Any) -> None:
    """Delete the throw-away root module's files from Ivy's resolution cache (Spark does the same)."""
    cache = Path(str(settings.getResolutionCacheManager().getResolutionCacheRoot().getAbsolutePath()))
    for leftover in cache.glob(f"*{root.getModuleRevisionId().getName()}*"):
        leftover.unlink(missing_ok=True)


def _name(mrid: Any) -> str:
    return f"{mrid.getOrganisation()}:{mrid.getName()}:{mrid.getRevision()}"


def _jars(
    report: Any, coordinate: Coordinate, tried: list[str], abort_on_errors: bool, stream: Any
) -> list[Path]:
    """The downloaded jars, the coordinate's first; ResolutionError when it, or (if asked) anything, failed."""
    target = str(coordinate)
    problems = {
        _name(node.getId()): f"{node.getProblemMessage() or 'not found'}"
        for node in report.getUnresolvedDependencies()
    }
    for failed in report.getFailedArtifactsReports():
        name = _name(failed.getArtifact().getModuleRevisionId())
        problems.setdefault(name, f"download failed: {failed.getDownloadDetails()}")
    where = ", ".join(tried)
    if target in problems:
        detail = problems[target]
        reason = "not found" if "not found" in detail else detail
        raise ResolutionError(f"{target}: {reason} (tried {where})")
    if problems:
        listed = "; ".join(f"{name}: {detail}" for name, detail in problems.items())
        if abort_on_errors:
            raise ResolutionError(f"{target}: dependencies failed, nothing added: {listed} (tried {where})")
        stream.println(f"warning: {target}: skipped dependencies that failed: {listed}")
    jars: dict[Path, bool] = {}
    for download in report.getAllArtifactsReports():
        local = download.getLocalFile()
        if local is not None and download.getArtifact().getExt() == "jar":
            path = Path(str(local.getAbsolutePath()))
            jars[path] = _name(download.getArtifact().getModuleRevisionId()) == target
    if not any(jars.values()):
        raise ResolutionError(f"{target}: no jar in {where}")
    return sorted(jars, key=lambda path: not jars[path])


def forwarding(work: Callable[[], T], buffer: Any, log: Log | None) -> T:
    """Run ``work`` on a helper thread, passing each line it prints into ``buffer`` to ``log`` on this one."""
    if log is None:
        return work()
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # re-raised on the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=target, name="toree-maven", daemon=True)
    thread.start()
    seen, pending = 0, b""
    while True:
        thread.join(_POLL_S)
        done = not thread.is_alive()
        if buffer.size() > seen:
            data = bytes(buffer.toByteArray())
            pending, seen = pending + data[seen:], len(data)
            *lines, pending = pending.split(b"\n")
            for line in lines:
                _emit(line, log)
        if done:
            break
    _emit(pending, log)
    ok, value = outcome.pop()  # pop: an exception kept in ``outcome`` would be a reference cycle
    if not ok:
        raise value
    return value


def _emit(line: bytes, log: Log) -> None:
    text = line.decode("utf-8", "replace").rstrip()
    if text.strip():  # Ivy's summaries are double-spaced
        log(text)
