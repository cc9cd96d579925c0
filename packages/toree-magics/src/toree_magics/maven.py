"""Maven dependency resolution for ``%AddDeps``, done by the Ivy that ships inside Spark.

Everything runs in the driver JVM through py4j (``spark._jvm``). Spark builds the Ivy settings as
``spark-submit --packages`` does (``~/.m2``, the Ivy cache's ``local`` repository, Maven Central,
spark-packages, ``DEFAULT_ARTIFACT_REPOSITORY``), Spark makes the exclusion rules, and Ivy resolves,
downloads and caches; nothing here reads a POM. Where this differs from ``--packages``, and why:

* ``--repository`` URLs come *first* and the chain stops at the first repository that has the module,
  so a dependency from a user repository never waits on Maven Central, which may be unreachable (Spark
  puts user repositories after Central).
* Network repositories whose server cannot be connected to (no DNS, firewall) are left out, after one
  quick probe per host (``PROBE_TIMEOUT_S``, remembered ``PROBE_TTL_S``), and the others get a connect
  timeout (``CONNECT_TIMEOUT_MS``). Ivy alone waits for the OS's TCP connect timeout (~135 s measured)
  on each file it looks for: a typo'd coordinate took 9 minutes against two firewalled repositories.
* As in Toree, a transitive dependency that fails is reported and the jars that did resolve are
  returned, unless ``abort_on_errors`` (``--abort-on-resolution-errors``).
* Scala's own jars (``org.scala-lang``) are never fetched (as in Toree), nor Spark's (as in Spark).

Credentials (``--credential FILE``) use Toree's (sbt's) properties format::

    realm=Sonatype Nexus Repository Manager
    host=repo.example.com          # also host.name, hostname, domain
    user=alice                     # also user.name, username
    password=secret                # also pwd, pass, passwd

They are added to Ivy's JVM-wide ``CredentialsStore``. Ivy answers a server's Basic-auth challenge only
when the challenge's realm equals ``realm`` (a file without ``realm`` only matches a challenge without
one), so give the realm the repository announces (``curl -I URL`` shows it in ``WWW-Authenticate``);
``host`` is the bare host name, without scheme or port.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs
from py4j.java_gateway import JavaClass
from py4j.protocol import Py4JJavaError

__all__ = [
    "Coordinate",
    "Credentials",
    "ResolutionError",
    "read_credentials",
    "resolve",
]

StrPath = str | os.PathLike[str]
Log = Callable[[str], None]
T = TypeVar("T")

# Network limits (module attributes so tests and kernels can tune them).
CONNECT_TIMEOUT_MS = 5_000  # per request Ivy makes
READ_TIMEOUT_MS = 30_000
PROBE_TIMEOUT_S = 3.0  # connect probe per repository host, before resolving
PROBE_TTL_S = 60.0  # how long a probe's verdict is reused

_CONF = "default"
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_VERSION = re.compile(r"[A-Za-z0-9_.\-+\[\](),]+")  # also Maven ranges: [1.0,2.0)
_ALWAYS_EXCLUDED = ("org.scala-lang:*",)
_POLL_S = 0.1
_probed: dict[str, tuple[float, str | None]] = {}  # host URL -> (when probed, why unreachable)
# Ivy writes to System.out, which is JVM-wide while it runs: one resolution at a time.
_lock = threading.Lock()


class ResolutionError(RuntimeError):
    """A dependency could not be resolved or downloaded; the message says what, and where Ivy looked."""


@attrs.frozen
class Coordinate:
    """A Maven module version, ``group:artifact:version``."""

    group: str
    artifact: str
    version: str

    @classmethod
    def parse(cls, text: str | Sequence[str]) -> Coordinate:
        """``"g:a:v"``, ``"g a v"`` or ``["g", "a", "v"]`` (the three arguments of ``%AddDeps``)."""
        parts = text.replace(":", " ").split() if isinstance(text, str) else list(text)
        if len(parts) != 3:
            raise ValueError(f"expected GROUP ARTIFACT VERSION (or group:artifact:version), got {text!r}")
        for label, value, pattern in zip(
            ("group", "artifact", "version"), parts, (_NAME, _NAME, _VERSION), strict=True
        ):
            if not pattern.fullmatch(value):
                raise ValueError(f"invalid Maven {label} {value!r} in {text!r}")
        return cls(*parts)

    def __str__(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"


@attrs.frozen
class Credentials:
    """The contents of one ``--credential`` file."""

    host: str
    user: str
    password: str = attrs.field(repr=False)
    realm: str | None = None


_CREDENTIAL_KEYS = {
    "host": ("host", "host.name", "hostname", "domain"),
    "user": ("user", "user.name", "username"),
    "password": ("password", "pwd", "pass", "passwd"),
    "realm": ("realm",),
}


def read_credentials(path: StrPath) -> Credentials:
    """Parse a credentials file: Java-properties style ``key=value`` or ``key: value``, ``#`` comments."""
    props: dict[str, str] = {}
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        match = re.match(r"\s*([^#!=:\s][^=:\s]*)\s*[=:\s]\s*(.*)", raw)
        if match:
            props[match[1]] = match[2]  # java.util.Properties keeps trailing blanks
    found = {
        field: next((props[k] for k in keys if props.get(k)), None)
        for field, keys in _CREDENTIAL_KEYS.items()
    }
    missing = [field for field in ("host", "user", "password") if found[field] is None]
    if missing:
        raise ValueError(
            f"credential file {path} has no {', '.join(missing)} (keys: realm, host, user, password)"
        )
    return Credentials(**found)  # type: ignore[arg-type]


def resolve(
    jvm: Any,
    coordinate: Coordinate | str,
    *,
    repositories: Iterable[str] = (),
    transitive: bool = False,
    exclusions: Iterable[str] = (),
    credentials: StrPath | Iterable[StrPath] | None = None,
    log: Log | None = None,
    verbose: bool = False,
    trace: bool = False,
    abort_on_errors: bool = False,
    cache_dir: StrPath | None = None,
) -> list[Path]:
    """Resolve and download ``coordinate`` (with its dependencies if ``transitive``); returns local jars.

    ``jvm`` is the driver's py4j view (``spark._jvm``). ``repositories`` are Maven repository URLs
    (``file:``, ``http:``, ``https:``) tried before the defaults; ``exclusions`` are ``group:artifact``
    or ``group`` (all its artifacts). Ivy's messages go to ``log`` line by line while it works (more with
    ``verbose``, everything with ``trace``), from the calling thread. ``cache_dir`` is Ivy's user dir
    (its ``cache`` holds the jars; default ``~/.ivy2``). Returns the jars in that cache, the coordinate's
    first. Raises ``ResolutionError``; ``ValueError`` for bad arguments, before any JVM call. A caller
    interrupted while waiting leaves the resolution to finish in the background.
    """
    if not isinstance(coordinate, Coordinate):
        coordinate = Coordinate.parse(coordinate)
    repos = [_repository_url(url) for url in repositories]
    excluded = [_exclusion(text) for text in (*_ALWAYS_EXCLUDED, *exclusions)]
    if credentials is None:
        credentials = ()
    elif isinstance(credentials, (str, os.PathLike)):
        credentials = (credentials,)
    creds = [read_credentials(path) for path in credentials]
    buffer = jvm.java.io.ByteArrayOutputStream()
    stream = jvm.java.io.PrintStream(buffer, True, "UTF-8")
    level = jvm.org.apache.ivy.util.Message
    level = level.MSG_DEBUG if trace else level.MSG_VERBOSE if verbose else level.MSG_INFO

    def work() -> list[Path]:
        with _lock, _printing_to(jvm, stream):
            _add_credentials(jvm, creds)
            settings, tried = _settings(jvm, repos, cache_dir, stream)
            return _resolve(
                jvm, settings, tried, coordinate, transitive, excluded, abort_on_errors, level, stream
            )

    return _forwarding(work, buffer, log)


@contextlib.contextmanager
def _printing_to(jvm: Any, stream: Any) -> Iterator[None]:
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


def _repository_url(url: str) -> str:
    scheme, netloc, *_ = urlsplit(url)
    if scheme not in ("file", "http", "https") or (scheme != "file" and not netloc):
        raise ValueError(f"a repository must be a file:, http: or https: URL, not {url!r}")
    return url if url.endswith("/") else url + "/"


def _exclusion(text: str) -> str:
    """``group:artifact`` or ``group`` as the ``group:artifact:*`` glob that Spark's createExclusion takes."""
    parts = text.split(":") if ":" in text else [text, "*"]
    if len(parts) != 2 or not all(re.fullmatch(r"[A-Za-z0-9_.\-*]+", part) for part in parts):
        raise ValueError(f"an exclusion is group:artifact or group, not {text!r}")
    return f"{parts[0]}:{parts[1]}:*"


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


def _add_credentials(jvm: Any, creds: Iterable[Credentials]) -> None:
    """Ivy's IvyAuthenticator (installed by Ivy on each HTTP request) answers challenges from this store."""
    store = jvm.org.apache.ivy.util.url.CredentialsStore.INSTANCE
    for cred in creds:
        store.addCredentials(cred.realm, cred.host, cred.user, cred.password)


def _settings(jvm: Any, repos: list[str], cache_dir: StrPath | None, stream: Any) -> tuple[Any, list[str]]:
    """Spark's Ivy settings, user repositories first, hosts that cannot be reached left out.

    Also returns where the chain looks, for error messages.
    """
    utils, takes_stream = _spark_maven(jvm)
    option = jvm.scala.Option.apply
    # No remote repositories here (Spark would append them); use ~/.m2 as Spark does by default.
    args = (option(None), option(None if cache_dir is None else os.fspath(cache_dir)), True)
    settings = utils.buildIvySettings(*args, stream) if takes_stream else utils.buildIvySettings(*args)
    timeout = jvm.org.apache.ivy.core.settings.NamedTimeoutConstraint("toree-network")
    timeout.setConnectionTimeout(CONNECT_TIMEOUT_MS)
    timeout.setReadTimeout(READ_TIMEOUT_MS)
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
    down = _unreachable(jvm, [url for url in where if url.startswith(("http:", "https:"))])
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
            resolver.setTimeoutConstraint("toree-network")
            resolver.validate()  # looks the constraint up: without this Ivy silently ignores it
    return settings, [*tried, *(f"{url} (unreachable)" for url in where if url in down)]


def _unreachable(jvm: Any, urls: list[str]) -> dict[str, str]:
    """The URLs whose server cannot be connected to, and why; remembered for ``PROBE_TTL_S``.

    One connect per host, in parallel, from the JVM (so its proxy and TLS settings apply): offline or
    behind a firewall, Ivy would otherwise wait for a timeout on every file it looks for.
    """
    now = time.monotonic()
    hosts = {url: f"{urlsplit(url).scheme}://{urlsplit(url).netloc}/" for url in urls}
    due = {host for host in hosts.values() if host not in _probed or now - _probed[host][0] >= PROBE_TTL_S}
    found: dict[str, str | None] = {}

    def probe(host: str) -> None:
        try:
            connection = jvm.java.net.URL(host).openConnection()
            connection.setConnectTimeout(int(PROBE_TIMEOUT_S * 1000))
            connection.connect()
            connection.disconnect()
            found[host] = None
        except Py4JJavaError as exc:
            found[host] = str(exc.java_exception.toString())
        except Exception:  # py4j trouble is no reason to skip a repository: let Ivy try it
            found[host] = None

    threads = [threading.Thread(target=probe, args=(host,), daemon=True) for host in due]
    for thread in threads:
        thread.start()
    for thread in threads:  # a DNS lookup that hangs is not bound by the connect timeout
        thread.join(max(0.0, now + PROBE_TIMEOUT_S + 1 - time.monotonic()))
    for host in due:
        _probed[host] = (now, found.get(host, f"no connection within {PROBE_TIMEOUT_S:g} s"))
    return {url: why for url, host in hosts.items() if (why := _probed[host][1])}


def _where(resolver: Any) -> str:
    """A resolver's root URL (Maven-style) or directory (Ivy-style, the local Ivy repository)."""
    if resolver.getClass().getSimpleName() == "IBiblioResolver":
        return str(resolver.getRoot())
    patterns = resolver.getIvyPatterns()
    return str(patterns.get(0)).split("[organisation]")[0] if patterns.size() else str(resolver.getName())


def _resolve(
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
        dependency.addDependencyConfiguration(_CONF, f"{_CONF}(runtime)")
        root.addDependency(dependency)
        spark_jars = utils.IVY_DEFAULT_EXCLUDES().mkString(",").split(",")
        for rule in (*excluded, *(f"org.apache.spark:spark-{name}*:*" for name in spark_jars)):
            root.addExcludeRule(utils.createExclusion(rule, settings, _CONF))
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


def _forwarding(work: Callable[[], T], buffer: Any, log: Log | None) -> T:
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
