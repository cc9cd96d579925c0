"""Test helpers: a tiny Maven repository built on the spot (Maven Central is not reachable here).

``build_repo`` compiles two Java classes with ``javac`` and lays them out Maven-style: the greeter artifact
(``org.example.greet.Greeter.greet(String)``) declares a compile dependency on the util artifact
(``org.example.util.Shout.shout(String)``), so transitive resolution has something to find.
A third artifact, broken, depends on util and on a module that exists nowhere. ``serve_repo`` serves the
repository over HTTP, optionally behind Basic auth; ``unreachable_url`` is a server that never answers.
"""

from __future__ import annotations

import base64
import functools
import socket
import subprocess
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attrs

from toree_interpreters.spark.maven import Coordinate

GROUP = "org.example"
UTIL = Coordinate(GROUP, "util", "1.0")
GREETER = Coordinate(GROUP, "greeter", "1.0")
MISSING = Coordinate(GROUP, "missing", "1.0")  # in no repository
BROKEN = Coordinate(GROUP, "broken", "1.0")  # depends on util and on missing
GREETER_CLASS = "org.example.greet.Greeter"
UTIL_CLASS = "org.example.util.Shout"

_SOURCES = {
    "org/example/util/Shout.java": """
package org.example.util;

public final class Shout {
    public static String shout(String text) { return text.toUpperCase() + "!"; }
}
""",
    "org/example/greet/Greeter.java": """
package org.example.greet;

import org.example.util.Shout;

public final class Greeter {
    public static String greet(String name) { return Shout.shout("hello " + name); }
}
""",
}


@attrs.frozen
class MavenRepo:
    path: Path
    greeter: Coordinate = GREETER
    util: Coordinate = UTIL
    broken: Coordinate = BROKEN
    missing: Coordinate = MISSING
    greeter_class: str = GREETER_CLASS
    util_class: str = UTIL_CLASS

    @property
    def url(self) -> str:
        return self.path.as_uri()


def _pom(coordinate: Coordinate, dependencies: tuple[Coordinate, ...] = ()) -> str:
    deps = "".join(
        f"""
    <dependency>
      <groupId>{d.group}</groupId>
      <artifactId>{d.artifact}</artifactId>
      <version>{d.version}</version>
      <scope>compile</scope>
    </dependency>"""
        for d in dependencies
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{coordinate.group}</groupId>
  <artifactId>{coordinate.artifact}</artifactId>
  <version>{coordinate.version}</version>
  <packaging>jar</packaging>
  <dependencies>{deps}
  </dependencies>
</project>
"""


def _publish(repo: Path, coordinate: Coordinate, classes: Path, package: str | None, pom: str) -> None:
    folder = repo.joinpath(*coordinate.group.split("."), coordinate.artifact, coordinate.version)
    folder.mkdir(parents=True)
    stem = f"{coordinate.artifact}-{coordinate.version}"
    with zipfile.ZipFile(folder / f"{stem}.jar", "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n")
        for cls in sorted((classes / package).glob("*.class")) if package else ():
            jar.write(cls, cls.relative_to(classes).as_posix())
    (folder / f"{stem}.pom").write_text(pom)


def build_repo(root: Path) -> MavenRepo:
    """Compile, package and publish util, greeter and broken into ``root/repo``; returns what tests need."""
    src, classes, repo = root / "src", root / "classes", root / "repo"
    for name, text in _SOURCES.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    # --release 8: the jars must load on every JVM the Spark 3.5 line supports.
    subprocess.run(
        ["javac", "--release", "8", "-nowarn", "-d", str(classes), *(str(src / n) for n in _SOURCES)],
        check=True,
        capture_output=True,
    )
    _publish(repo, UTIL, classes, "org/example/util", _pom(UTIL))
    _publish(repo, GREETER, classes, "org/example/greet", _pom(GREETER, (UTIL,)))
    _publish(repo, BROKEN, classes, None, _pom(BROKEN, (UTIL, MISSING)))
    return MavenRepo(repo)


@contextmanager
def serve_repo(
    repo: Path, *, user: str | None = None, password: str = "", realm: str = "toree-test"
) -> Iterator[str]:
    """Serve ``repo`` on 127.0.0.1 (Basic auth when ``user`` is given); yields the base URL."""
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None

    class Handler(SimpleHTTPRequestHandler):
        def _authorized(self) -> bool:
            if expected is None or self.headers.get("Authorization") == expected:
                return True
            self.send_response(401)
            self.send_header("WWW-Authenticate", f'Basic realm="{realm}"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False

        def do_GET(self) -> None:
            if self._authorized():
                super().do_GET()

        def do_HEAD(self) -> None:
            if self._authorized():
                super().do_HEAD()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(repo)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def unreachable_url() -> Iterator[str]:
    """An http URL whose connects hang, like a firewall that drops packets: its one-slot backlog is full."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        with socket.create_connection(server.getsockname()):  # fills the backlog; never accepted
            yield f"http://127.0.0.1:{server.getsockname()[1]}/maven2/"


if __name__ == "__main__":  # build one by hand: python maven_repo.py
    print(build_repo(Path(tempfile.mkdtemp(prefix="toree-maven-repo-"))))
