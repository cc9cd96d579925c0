"""Is there a Java that the kernel and its Spark can run on? Asked by the installer (so users learn it before a cell
fails) and by the session manager before it launches the JVM (so a cell says what to install).

Java is looked up the way Spark's launcher (``bin/spark-class``) does: ``$JAVA_HOME/bin/java`` when
``JAVA_HOME`` is set (even if that is broken: Spark will not fall back), otherwise ``java`` on PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

DEFAULT_MINIMUM = 17
_VERSION_TIMEOUT = 60.0  # seconds; a loaded machine can be slow to start even `java -version`


class JavaError(RuntimeError):
    """No usable Java for Spark; the message says what to install or set."""


class JavaNotFound(JavaError):
    pass


class JavaTooOld(JavaError):
    pass


@dataclass(frozen=True)
class JavaInfo:
    path: Path
    version: tuple[int, ...]  # feature version first: "1.8.0_392" -> (8, 0, 392)
    version_string: str  # as `java -version` printed it, e.g. "17.0.15"

    @property
    def major(self) -> int:
        return self.version[0]


def install_hint(minimum: int = DEFAULT_MINIMUM) -> str:
    """What to do about a missing/old Java, with the package command for this platform."""
    feature = max(minimum, 17)  # older OpenJDK packages are gone from current distributions
    if sys.platform == "darwin":
        example = f"`brew install openjdk@{feature}`"
    elif sys.platform.startswith("win"):
        example = f"e.g. Eclipse Temurin {feature} from https://adoptium.net"
    else:
        example = f"`apt-get install openjdk-{feature}-jre-headless`"
    return f"Install Java {minimum} or newer (e.g. {example}) and/or set JAVA_HOME to it."


def find_java(env: dict[str, str] | None = None) -> Path | None:
    """The java executable Spark would run, or None."""
    env = dict(os.environ) if env is None else env
    java_home = env.get("JAVA_HOME")
    if java_home:
        found = shutil.which("java", path=str(Path(java_home) / "bin"))
        return Path(found) if found else None
    found = shutil.which("java", path=env.get("PATH", os.defpath))
    return Path(found) if found else None


_QUOTED = re.compile(r'version "([^"]+)"')
_BARE = re.compile(r"^(?:openjdk|java)\s+(\d[\w.+-]*)", re.MULTILINE)  # `java --version` style
_NUMBERS = re.compile(r"\d+(?:[._]\d+)*")


def parse_java_version(output: str) -> tuple[tuple[int, ...], str]:
    """(version tuple, version string) from `java -version` output; ValueError if there is none.

    Old-style "1.x" versions are normalised so that the first number is always the feature release.
    """
    match = _QUOTED.search(output) or _BARE.search(output)
    numbers = _NUMBERS.match(match.group(1)) if match else None
    if not match or not numbers:
        raise ValueError(f"no Java version in output: {output.strip()[:200]!r}")
    version = tuple(int(part) for part in re.split(r"[._]", numbers.group(0)))
    if version[0] == 1 and len(version) > 1:
        version = version[1:]
    return version, match.group(1)


def java_version(java: str | os.PathLike[str]) -> tuple[int, ...]:
    """Run ``java -version``; raises JavaNotFound when it cannot run or prints no version."""
    return _probe(Path(java))[0]


def _probe(java: Path) -> tuple[tuple[int, ...], str]:
    try:
        proc = subprocess.run(
            [str(java), "-version"],
            capture_output=True,
            text=True,
            timeout=_VERSION_TIMEOUT,
            check=False,
            # Its own session: an interrupt sent to the kernel's process group (jupyter_client's SIGINT,
            # also before a shutdown) must not kill the probe and fail the Spark start as "no version".
            start_new_session=True,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaNotFound(f"Could not run `{java} -version`: {exc}") from None
    output = proc.stderr + proc.stdout  # java prints its version on stderr
    try:
        return parse_java_version(output)
    except ValueError:
        detail = output.strip().splitlines()[-1] if output.strip() else f"exit code {proc.returncode}"
        raise JavaNotFound(f"`{java} -version` did not report a version ({detail}).") from None


def check_java(minimum: int = DEFAULT_MINIMUM, *, env: dict[str, str] | None = None) -> JavaInfo:
    """The Java Spark will use, if it is at least ``minimum``; otherwise JavaNotFound / JavaTooOld."""
    env = dict(os.environ) if env is None else env
    java = find_java(env)
    hint = install_hint(minimum)
    if java is None:
        java_home = env.get("JAVA_HOME")
        if java_home:
            raise JavaNotFound(
                f"JAVA_HOME is set to {java_home!r} but there is no bin/java in it, and Spark uses "
                f"JAVA_HOME whenever it is set. Point JAVA_HOME at a Java {minimum}+ installation or unset it. "
                + hint
            )
        raise JavaNotFound(f"No Java found: JAVA_HOME is not set and `java` is not on PATH. {hint}")
    try:
        version, text = _probe(java)
    except JavaNotFound as exc:
        raise JavaNotFound(f"{exc} {hint}") from None
    if version[0] < minimum:
        raise JavaTooOld(
            f"Java {text} at {java} is too old: Toree and its Spark need Java {minimum} or newer. {hint}"
        )
    return JavaInfo(path=java, version=version, version_string=text)


_SPARK_JAR = re.compile(r"^spark-core_[\d.]+-(\d+)\.(\d+)\.\d+.*\.jar$")
_RELEASE = re.compile(r"Spark (\d+)\.(\d+)")


def spark_version(spark_home: str | os.PathLike[str] | None = None) -> tuple[int, int] | None:
    """(major, minor) of the Spark in ``spark_home``, or of the installed pyspark; None if unknown."""
    if spark_home is not None:
        home = Path(spark_home)
        try:
            match = _RELEASE.search((home / "RELEASE").read_text(errors="replace"))
        except OSError:
            match = None
        if match:
            return int(match.group(1)), int(match.group(2))
        try:
            jars = sorted(p.name for p in (home / "jars").iterdir())
        except OSError:
            jars = []
        for name in jars:
            if jar := _SPARK_JAR.match(name):
                return int(jar.group(1)), int(jar.group(2))
        return None
    try:
        parts = metadata.version("pyspark").split(".")
        return int(parts[0]), int(parts[1])
    except (metadata.PackageNotFoundError, ValueError, IndexError):
        return None


def required_java(spark_home: str | os.PathLike[str] | None = None) -> int:
    """Minimum Java feature release: 17 for every Spark. Spark 3.5 alone still starts on Java 8 or 11,
    but the kernel is built and tested on Java 17 and 21 only (the Scala REPL's interrupt checks, class
    data sharing, Spark 4's JVM options), so older Java is refused at start with what to install.
    ``spark_home`` is kept for callers that name their Spark."""
    del spark_home
    return DEFAULT_MINIMUM
