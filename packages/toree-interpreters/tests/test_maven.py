"""%AddDeps resolution (a session's MavenResolver, toree_interpreters.spark.resolver) against a Maven repository built here, through Spark's Ivy."""

from __future__ import annotations

import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from maven_repo import MavenRepo, build_repo, serve_repo, unreachable_url

from toree_interpreters import SparkSessionManager
from toree_interpreters.spark import ivy
from toree_interpreters.spark.maven import Coordinate, Credentials, ResolutionError, read_credentials
from toree_interpreters.spark.resolver import MavenResolver


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> MavenRepo:
    return build_repo(tmp_path_factory.mktemp("maven"))


@pytest.fixture(scope="module")
def manager() -> Iterator[SparkSessionManager]:
    manager = SparkSessionManager(
        ["--master", "local[1]", "--conf", "spark.ui.enabled=false"], init_mode="lazy"
    )
    try:
        yield manager
    finally:
        manager.stop()


@pytest.fixture(scope="module")
def spark(manager: SparkSessionManager) -> Any:
    return manager.get(timeout=120)


@pytest.fixture
def resolver(manager: SparkSessionManager, spark: Any) -> MavenResolver:
    """The session's own resolver (what %AddDeps uses), its session started."""
    return manager.maven


def untouchable_jvm() -> Any:
    raise AssertionError("the JVM was asked for")


def names(jars: list[Path]) -> list[str]:
    return [jar.name for jar in jars]


def greet(spark: Any, jars: list[Path], class_name: str, name: str) -> str:
    """Call ``class_name.greet(name)`` from a class loader that sees only ``jars`` (and the JDK)."""
    gateway, jvm = spark.sparkContext._gateway, spark._jvm
    urls = gateway.new_array(jvm.java.net.URL, len(jars))
    for i, jar in enumerate(jars):
        urls[i] = jvm.java.io.File(str(jar)).toURI().toURL()
    loader = jvm.java.net.URLClassLoader(urls, None)
    param_types = gateway.new_array(jvm.java.lang.Class, 1)
    param_types[0] = jvm.java.lang.Class.forName("java.lang.String")
    method = jvm.java.lang.Class.forName(class_name, True, loader).getMethod("greet", param_types)
    args = gateway.new_array(jvm.java.lang.Object, 1)
    args[0] = name
    return method.invoke(None, args)


# Input checks (no JVM needed) -------------------------------------------------------------------------
def test_coordinates_parse_from_the_magic_arguments_or_a_colon_string() -> None:
    expected = Coordinate("org.example", "greeter", "1.0")
    assert Coordinate.parse("org.example:greeter:1.0") == expected
    assert Coordinate.parse("org.example greeter 1.0") == expected
    assert Coordinate.parse(["org.example", "greeter", "1.0"]) == expected
    assert str(expected) == "org.example:greeter:1.0"
    assert Coordinate.parse("com.x:lib_2.13:[1.0,2.0)").version == "[1.0,2.0)"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("org.example:greeter", "expected GROUP ARTIFACT VERSION"),
        ("a b c d", "expected GROUP ARTIFACT VERSION"),
        ("", "expected GROUP ARTIFACT VERSION"),
        ("org/example:greeter:1.0", "invalid Maven group 'org/example'"),
        ("org.example:gr$eter:1.0", "invalid Maven artifact 'gr\\$eter'"),
        ("org.example:greeter:1.0/../..", "invalid Maven version"),
    ],
)
def test_bad_coordinates_are_refused_with_the_reason(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Coordinate.parse(text)


def test_bad_repository_or_exclusion_is_refused_before_touching_the_jvm() -> None:
    resolver = MavenResolver(untouchable_jvm)
    with pytest.raises(ValueError, match="file:, http: or https: URL"):
        resolver.resolve("g:a:1", repositories=["ftp://example.org/maven"])
    with pytest.raises(ValueError, match="file:, http: or https: URL"):
        resolver.resolve("g:a:1", repositories=["/tmp/not-a-url"])
    with pytest.raises(ValueError, match="group:artifact or group"):
        resolver.resolve("g:a:1", exclusions=["g:a:1"])


def test_credential_files_are_read_in_toree_format(tmp_path: Path) -> None:
    path = tmp_path / "nexus.credentials"
    path.write_text(
        "# Toree/sbt credentials\n"
        "realm=Sonatype Nexus Repository Manager\n"
        "host = repo.example.com\n"
        "user: alice\n"
        "password=p@ss=word \n"
    )
    creds = read_credentials(path)
    assert (creds.realm, creds.host, creds.user) == (
        "Sonatype Nexus Repository Manager",
        "repo.example.com",
        "alice",
    )
    assert creds.password == "p@ss=word "  # as java.util.Properties reads it
    assert "p@ss" not in repr(creds)

    path.write_text("host.name=h\nusername=bob\npasswd=x\n")  # sbt's alternative keys
    assert read_credentials(path) == Credentials(host="h", user="bob", password="x", realm=None)

    path.write_text("host=h\nuser=bob\n")
    with pytest.raises(ValueError, match="has no password"):
        read_credentials(path)


# Resolution through Spark's Ivy -----------------------------------------------------------------------
@pytest.mark.spark
@pytest.mark.timeout(180)
def test_without_transitive_only_the_artifact_itself(
    spark: Any, resolver: MavenResolver, repo: MavenRepo, tmp_path: Path
) -> None:
    jars = resolver.resolve(repo.greeter, repositories=[repo.url], cache_dir=tmp_path)
    assert names(jars) == ["greeter-1.0.jar"]
    assert jars[0].is_relative_to(tmp_path) and jars[0].is_file()
    with zipfile.ZipFile(jars[0]) as jar:
        assert "org/example/greet/Greeter.class" in jar.namelist()
    with pytest.raises(Exception, match="NoClassDefFoundError"):  # util was not fetched
        greet(spark, jars, repo.greeter_class, "x")


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_transitive_brings_the_dependencies_and_the_code_runs(
    spark: Any, resolver: MavenResolver, repo: MavenRepo, tmp_path: Path
) -> None:
    jars = resolver.resolve(str(repo.greeter), repositories=[repo.url], transitive=True, cache_dir=tmp_path)
    assert names(jars) == ["greeter-1.0.jar", "util-1.0.jar"]
    assert greet(spark, jars, repo.greeter_class, "world") == "HELLO WORLD!"
    started = time.monotonic()  # cached: again without copying
    assert resolver.resolve(repo.greeter, repositories=[repo.url], transitive=True, cache_dir=tmp_path) == jars
    assert time.monotonic() - started < 5


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_exclusions_drop_a_dependency(resolver: MavenResolver, repo: MavenRepo, tmp_path: Path) -> None:
    for exclusion in ("org.example:util", "*:util"):
        jars = resolver.resolve(
            repo.greeter,
            repositories=[repo.url],
            transitive=True,
            exclusions=[exclusion],
            cache_dir=tmp_path,
        )
        assert names(jars) == ["greeter-1.0.jar"], exclusion


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_unknown_coordinate_fails_fast_naming_it_and_the_repositories(
    resolver: MavenResolver, repo: MavenRepo, tmp_path: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(ResolutionError) as caught:
        resolver.resolve("org.example:nope:1.0", repositories=[repo.url], cache_dir=tmp_path)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith("org.example:nope:1.0: not found (tried ")
    assert repo.url in message and "repo1.maven.org" in message
    assert "\tat " not in message and "Py4J" not in message and len(message) < 600


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_ivy_messages_reach_the_log_on_the_calling_thread(resolver: MavenResolver, repo: MavenRepo, tmp_path: Path) -> None:
    lines: list[tuple[str, int]] = []
    resolver.resolve(
        repo.greeter,
        repositories=[repo.url],
        transitive=True,
        log=lambda line: lines.append((line, threading.get_ident())),
        cache_dir=tmp_path,
    )
    text = "\n".join(line for line, _ in lines)
    assert f"found org.example#greeter;1.0 in {repo.url}" in text
    assert "[SUCCESSFUL ] org.example#util;1.0!util.jar" in text
    assert {ident for _, ident in lines} == {threading.get_ident()}
    assert all(line.strip() for line, _ in lines)

    verbose: list[str] = []
    resolver.resolve(repo.greeter, repositories=[repo.url], log=verbose.append, verbose=True, cache_dir=tmp_path)
    assert len(verbose) > len(lines)


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_a_failing_dependency_is_skipped_unless_abort_on_errors(
    resolver: MavenResolver, repo: MavenRepo, tmp_path: Path
) -> None:
    lines: list[str] = []
    jars = resolver.resolve(
        repo.broken, repositories=[repo.url], transitive=True, log=lines.append, cache_dir=tmp_path
    )
    assert names(jars) == ["broken-1.0.jar", "util-1.0.jar"]
    assert any(line.startswith("warning:") and str(repo.missing) in line for line in lines)

    with pytest.raises(ResolutionError, match=f"dependencies failed, nothing added: {repo.missing}"):
        resolver.resolve(
            repo.broken,
            repositories=[repo.url],
            transitive=True,
            abort_on_errors=True,
            cache_dir=tmp_path,
        )


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_http_repository_behind_basic_auth_needs_the_credential_file(
    resolver: MavenResolver, repo: MavenRepo, tmp_path: Path
) -> None:
    realm = f"toree-test-{uuid.uuid4().hex[:8]}"  # Ivy's credential store is JVM-wide: unique per test
    with serve_repo(repo.path, user="alice", password="s3cret", realm=realm) as url:
        with pytest.raises(ResolutionError, match="not found"):
            resolver.resolve(repo.greeter, repositories=[url], cache_dir=tmp_path / "anonymous")
        credential = tmp_path / "repo.credentials"
        credential.write_text(f"realm={realm}\nhost=127.0.0.1\nuser=alice\npassword=s3cret\n")
        jars = resolver.resolve(
            repo.greeter,
            repositories=[url],
            transitive=True,
            credentials=credential,
            cache_dir=tmp_path / "alice",
        )
    assert names(jars) == ["greeter-1.0.jar", "util-1.0.jar"]


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_a_repository_that_cannot_be_reached_is_skipped_after_one_short_probe(
    resolver: MavenResolver, repo: MavenRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolver, "probe_timeout_s", 1.0)
    lines: list[str] = []
    with unreachable_url() as hole:
        started = time.monotonic()
        jars = resolver.resolve(repo.greeter, repositories=[hole, repo.url], log=lines.append, cache_dir=tmp_path)
        assert time.monotonic() - started < 5
    assert names(jars) == ["greeter-1.0.jar"]
    assert any(line.startswith(f"skipping {hole}: ") for line in lines)


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_the_connect_timeout_bounds_a_repository_that_hangs(
    resolver: MavenResolver, repo: MavenRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the probe, Ivy itself must give up on the hanging server (not wait minutes per file)."""
    monkeypatch.setattr(resolver, "_unreachable", lambda jvm, urls: {})
    monkeypatch.setattr(resolver, "connect_timeout_ms", 500)
    with unreachable_url() as hole:
        started = time.monotonic()
        jars = resolver.resolve(repo.greeter, repositories=[hole, repo.url], cache_dir=tmp_path)
        assert time.monotonic() - started < 10
    assert names(jars) == ["greeter-1.0.jar"]


@pytest.mark.spark
@pytest.mark.timeout(180)
def test_what_a_probe_found_is_remembered_by_the_sessions_resolver_not_the_process(
    spark: Any, repo: MavenRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes: list[str] = []
    real_probe = ivy.connect_failure

    def counting_probe(jvm: Any, host: str, timeout: float) -> str | None:
        probes.append(host)
        return real_probe(jvm, host, timeout)

    monkeypatch.setattr(ivy, "connect_failure", counting_probe)
    first, second = MavenResolver(lambda: spark._jvm), MavenResolver(lambda: spark._jvm)
    for resolver in (first, second):
        resolver.probe_timeout_s = 1.0
    with unreachable_url() as hole:
        host = hole.removesuffix("maven2/")
        for resolver, probed in ((first, 1), (first, 1), (second, 2)):  # again within probe_ttl_s: no probe
            lines: list[str] = []
            jars = resolver.resolve(repo.greeter, repositories=[hole, repo.url], log=lines.append, cache_dir=tmp_path)
            assert names(jars) == ["greeter-1.0.jar"]
            assert any(line.startswith(f"skipping {hole}: ") for line in lines)
            assert probes.count(host) == probed
