"""Maven dependencies for ``%AddDeps``: what is asked for (a coordinate, repositories, exclusions, credentials).

Pure Python, checked before any JVM call. The resolution itself is done by the Ivy that ships inside Spark,
in the session's driver JVM (``ivy.py``), by the ``MavenResolver`` each Spark session owns
(``resolver.py``, ``SparkSessionManager.maven``).

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

import os
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import attrs

__all__ = [
    "Coordinate",
    "Credentials",
    "ResolutionError",
    "exclusion_rule",
    "read_credentials",
    "repository_url",
]

StrPath = str | os.PathLike[str]

_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_VERSION = re.compile(r"[A-Za-z0-9_.\-+\[\](),]+")  # also Maven ranges: [1.0,2.0)


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


def repository_url(url: str) -> str:
    """A ``file:``, ``http:`` or ``https:`` repository URL, ending in ``/``; ValueError for anything else."""
    scheme, netloc, *_ = urlsplit(url)
    if scheme not in ("file", "http", "https") or (scheme != "file" and not netloc):
        raise ValueError(f"a repository must be a file:, http: or https: URL, not {url!r}")
    return url if url.endswith("/") else url + "/"


def exclusion_rule(text: str) -> str:
    """``group:artifact`` or ``group`` as the ``group:artifact:*`` glob that Spark's createExclusion takes."""
    parts = text.split(":") if ":" in text else [text, "*"]
    if len(parts) != 2 or not all(re.fullmatch(r"[A-Za-z0-9_.\-*]+", part) for part in parts):
        raise ValueError(f"an exclusion is group:artifact or group, not {text!r}")
    return f"{parts[0]}:{parts[1]}:*"
