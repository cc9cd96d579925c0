"""The driver JVM's class-data-sharing archive: which archive a session uses, and a real one built and used."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from toree_interpreters import archive_builder
from toree_interpreters.spark import class_sharing
from toree_interpreters.spark.submit_args import conf_pairs, option_values


def test_option_values_and_conf_pairs_read_both_spellings() -> None:
    args = ["--conf", "a=1", "--conf=b = 2=x", "--driver-class-path", "/x.jar", "--conf", "novalue", "--conf"]
    assert option_values(args, "--driver-class-path") == ["/x.jar"]
    assert option_values(args, "--driver-class-path=") == []
    assert conf_pairs(args) == [("a", "1"), ("b", " 2=x")]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private cache directory, class sharing on."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(class_sharing.SWITCH_ENV, raising=False)
    monkeypatch.delenv("SPARK_SUBMIT_OPTS", raising=False)
    return dict(os.environ)


def test_archive_is_keyed_on_what_makes_the_class_path(env: dict[str, str], tmp_path: Path) -> None:
    base = class_sharing.archive_path([])
    assert base is not None and base.parent == tmp_path / "cache" / "toree" / "class-sharing"
    assert (
        class_sharing.archive_path(["--master", "local[4]", "--jars", "/a.jar", "--driver-memory", "2g"])
        == base
    )
    assert class_sharing.archive_path(["--driver-class-path", "/a.jar"]) != base
    assert class_sharing.archive_path(["--conf", "spark.driver.extraClassPath=/a.jar"]) != base
    assert class_sharing.archive_path([], {**env, "JAVA_HOME": str(tmp_path / "no-java")}) is None


def test_java_options_only_for_an_existing_archive_the_user_has_not_overridden(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert class_sharing.java_options([]) == []  # nothing built yet
    path = class_sharing.archive_path([])
    assert path is not None
    path.parent.mkdir(parents=True)
    path.write_bytes(b"stand-in")
    assert class_sharing.java_options(["--master", "local[2]"]) == [
        f"-XX:SharedArchiveFile={path}",
        *class_sharing.QUIET,
    ]
    assert class_sharing.java_options(["--driver-java-options", "-XX:SharedArchiveFile=/mine.jsa"]) == []
    assert class_sharing.java_options(["--conf", "spark.driver.extraJavaOptions=-Xshare:off"]) == []
    assert (
        class_sharing.java_options([], {**env, "SPARK_SUBMIT_OPTS": "-XX:ArchiveClassesAtExit=/x.jsa"}) == []
    )
    for off in ("off", "0", "False", "no"):
        monkeypatch.setenv(class_sharing.SWITCH_ENV, off)
        assert not class_sharing.enabled()
        assert class_sharing.java_options([]) == []


def test_prune_keeps_the_newest_archives(tmp_path: Path) -> None:
    for i in range(6):
        archive = tmp_path / f"spark-driver-{i}.jsa"
        archive.write_bytes(b"x")
        os.utime(archive, (1000 + i, 1000 + i))
    (tmp_path / "unrelated.txt").write_text("kept")
    (tmp_path / ".building-1-spark-driver-a.jsa").write_bytes(b"left by a build that timed out")
    os.utime(tmp_path / ".building-1-spark-driver-a.jsa", (1000, 1000))
    (tmp_path / ".building-2-spark-driver-b.jsa").write_bytes(b"being written now")
    class_sharing.prune(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".building-2-spark-driver-b.jsa",
        "spark-driver-2.jsa",
        "spark-driver-3.jsa",
        "spark-driver-4.jsa",
        "spark-driver-5.jsa",
        "unrelated.txt",
    ]


def test_main_without_a_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert archive_builder.main([]) == 2
    assert "usage:" in capsys.readouterr().err


_SESSION = textwrap.dedent(
    """
    import sys
    from toree_interpreters.spark.session import SparkSessionManager
    log = sys.argv[1]
    manager = SparkSessionManager(
        ["--master", "local[1]", "--driver-java-options", f"-Xlog:class+load=info:file={log}"], init_mode="lazy"
    )
    assert manager.get().range(5).count() == 5
    manager.stop()
    """
)


def _classes_from_archive(tmp_path: Path, name: str, env: dict[str, str]) -> tuple[int, int]:
    """(Spark classes the driver JVM mapped from the dynamic archive, Spark classes it read from jars).

    Lambdas and generated classes (their source is a class, not a jar) are in neither count."""
    log = tmp_path / f"{name}.log"
    subprocess.run(
        [sys.executable, "-c", _SESSION, str(log)], env=env, check=True, capture_output=True, timeout=300
    )
    spark = [line for line in log.read_text().splitlines() if " org.apache.spark." in line]
    return (
        sum("source: shared objects file (top)" in line for line in spark),
        sum("source: file:" in line or "source: jar:" in line for line in spark),
    )


@pytest.mark.spark
@pytest.mark.timeout(900)
def test_built_archive_is_used_by_the_next_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The user's cache: the tests' kernels and this test share one build per Java/Spark (it takes ~1 min).
    monkeypatch.delenv(class_sharing.SWITCH_ENV, raising=False)
    path = archive_builder.build([])
    assert path == class_sharing.archive_path([]) and path.stat().st_size > 10 << 20
    assert not list(path.parent.glob(".building-*"))  # nothing half-written left behind
    assert archive_builder.build([]) == path  # built once

    shared, from_jars = _classes_from_archive(tmp_path, "on", dict(os.environ))
    assert shared > 2000 and from_jars < 0.05 * shared, (shared, from_jars)
    shared, from_jars = _classes_from_archive(tmp_path, "off", {**os.environ, class_sharing.SWITCH_ENV: "off"})
    assert shared == 0 and from_jars > 2000, (shared, from_jars)


def test_build_without_java_says_so(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    with pytest.raises(RuntimeError, match="no Java or no Spark"):
        archive_builder.build([])
