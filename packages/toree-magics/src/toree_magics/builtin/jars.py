"""%AddJar and %AddDeps: put jars on the Spark session (driver for py4j, executors) and on every JVM
language's compiler classpath, so their classes are usable at once from Scala and ``spark._jvm``."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from toree_interpreters import ExecuteOutcome
from toree_interpreters.spark.maven import Coordinate, ResolutionError

from ..magic import ArgumentParser, MagicContext, MagicError, magic

URL_SCHEMES = ("file", "http", "https")


def add_jars(ctx: MagicContext, jars: list[Path]) -> None:
    """Driver + executors first (the session), then each interpreter's own classpath."""
    for jar in jars:
        url = jar.resolve().as_uri()
        ctx.spark.add_jar(url)
        for interpreter in ctx.interpreters.values():
            interpreter.add_jar(url)


def checked_url(text: str, magic_name: str = "%AddJar") -> urllib.parse.ParseResult:
    """A file/http(s) URL, or a MagicError saying what is accepted."""
    url = urllib.parse.urlparse(text)
    if url.scheme.lower() not in URL_SCHEMES or not (url.netloc or url.path):
        example = "file:///path/to/it"
        if not url.scheme and "\x00" not in text:  # resolve() raises on a NUL byte
            example = f"file://{Path(text).resolve()}"
        raise MagicError(
            f"{magic_name} needs a URL (file://, http:// or https://), not {text!r}; for a local path write {example}"
        )
    return url


_add_jar_args = ArgumentParser(
    "%AddJar",
    "Download a jar into this kernel's cache and add it to the Spark session (driver and executors) and "
    "to the Scala interpreter. A class already loaded is not replaced by a newer jar: restart the kernel.",
)
_add_jar_args.add_argument("url", help="file://, http:// or https:// URL of the jar")
_add_jar_args.add_argument("-f", dest="force", action="store_true", help="download again even if cached")
_add_jar_args.add_argument(
    "--magic", action="store_true", help="load magics from the jar: not supported (JVM magics), see the README"
)


@magic("AddJar", "line", "URL [-f]: add a jar to Spark and the interpreters", parser=_add_jar_args)
def add_jar(ctx: MagicContext, args, body: str) -> ExecuteOutcome:
    url = checked_url(args.url)
    if args.magic:
        raise MagicError(
            "%AddJar --magic is not supported: Toree's JVM magic jars do not run in this kernel. Magics are "
            "Python packages with a 'toree.magics' entry point (see the toree-magics README)."
        )
    name = Path(urllib.parse.unquote(url.path)).name
    if not name:
        raise MagicError(f"{args.url!r} does not name a file")
    target = ctx.work_dir / "jars" / name
    if target.exists() and not args.force:
        ctx.print(f"Using cached version of {name}")
    else:
        ctx.print(f"Starting download from {args.url}")
        _download(args.url, target)
        ctx.print(f"Finished download of {name}")
    add_jars(ctx, [target])
    return ExecuteOutcome()


def _download(url: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except urllib.error.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise MagicError(f"could not download {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise MagicError(f"could not download {url}: {reason}") from None
    partial.replace(target)


_add_deps_args = ArgumentParser(
    "%AddDeps",
    "Resolve a Maven artifact with Spark's Ivy resolver (Maven Central and the local ~/.m2 and ~/.ivy2, "
    "plus each --repository, tried first) and add its jars as %AddJar does. Over Spark Connect it resolves "
    "in the kernel's client JVM (the one Scala cells use; the first %AddDeps starts it if no Scala cell has) "
    "and uploads the jars to the server's session as artifacts.",
)
_add_deps_args.add_argument("group")
_add_deps_args.add_argument("artifact")
_add_deps_args.add_argument("version")
_add_deps_args.add_argument("--transitive", action="store_true", help="also its dependencies")
_add_deps_args.add_argument("--repository", action="append", default=[], metavar="URL", help="repeatable")
_add_deps_args.add_argument("--exclude", action="append", default=[], metavar="G:A", help="repeatable")
_add_deps_args.add_argument("--verbose", action="store_true", help="more of the resolver's log")
_add_deps_args.add_argument("--trace", action="store_true", help="all of the resolver's log")
_add_deps_args.add_argument(
    "--abort-on-resolution-errors", action="store_true", help="fail if any dependency is missing"
)
_add_deps_args.add_argument(
    "--credential", action="append", default=[], metavar="FILE",
    help="properties file with realm, host, user, password for a repository (repeatable)",
)


@magic("AddDeps", "line", "GROUP ARTIFACT VERSION [--transitive]: add a Maven dependency", parser=_add_deps_args)
def add_deps(ctx: MagicContext, args, body: str) -> ExecuteOutcome:
    try:
        coordinate = Coordinate.parse([args.group, args.artifact, args.version])
    except ValueError as exc:
        raise MagicError(str(exc)) from None
    for url in args.repository:
        checked_url(url, "%AddDeps --repository")
    for path in args.credential:
        if not Path(path).is_file():
            raise MagicError(f"%AddDeps --credential: no such file {path}")
    ctx.print(f"Marking {coordinate} for download")
    if ctx.spark.remote and not ctx.spark.client_jvm.running:  # no driver JVM here to resolve in
        ctx.print("Starting the kernel's Spark Connect client JVM to resolve with (Scala cells use it too)")
    try:
        jars = ctx.spark.maven.resolve(
            coordinate,
            repositories=args.repository,
            transitive=args.transitive,
            exclusions=args.exclude,
            credentials=args.credential,
            log=ctx.print,
            verbose=args.verbose,
            trace=args.trace,
            abort_on_errors=args.abort_on_resolution_errors,
            cache_dir=ctx.work_dir / "ivy",
        )
    except (ResolutionError, ValueError) as exc:
        raise MagicError(str(exc)) from None
    add_jars(ctx, jars)
    ctx.print("Added " + ", ".join(jar.name for jar in jars))
    return ExecuteOutcome()


MAGICS = [add_jar, add_deps]
