"""The Java check: version parsing, where Java is looked for (as Spark's launcher does), and the messages.

Fake ``java`` executables are small shell scripts that print what a real JDK prints on stderr.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from toree_interpreters.spark import java as jv


def fake_java(directory: Path, output: str, *, exit_code: int = 0) -> Path:
    """A `java` in ``directory`` that prints ``output`` on stderr, like `java -version`."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "java"
    (directory / "java.out").write_text(output)
    script.write_text(f'#!/bin/sh\ncat "{directory / "java.out"}" >&2\nexit {exit_code}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def jdk(tmp_path: Path, output: str, name: str = "jdk") -> Path:
    """A fake JAVA_HOME whose bin/java prints ``output``."""
    fake_java(tmp_path / name / "bin", output)
    return tmp_path / name


OUTPUTS = {
    "8": ('java version "1.8.0_392"\nJava(TM) SE Runtime Environment (build 1.8.0_392-b08)\n', (8, 0, 392)),
    "11-ea": ('openjdk version "11.0.2-ea" 2019-01-15\nOpenJDK Runtime Environment\n', (11, 0, 2)),
    "17": (
        'openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)\n'
        "OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)\n",
        (17, 0, 15),
    ),
    "21": ('openjdk version "21" 2023-09-19\nOpenJDK Runtime Environment (build 21+35-2513)\n', (21,)),
    "17-ea": ('openjdk version "17-ea" 2021-09-14\n', (17,)),
    "tool-options": (
        'Picked up JAVA_TOOL_OPTIONS: -Xmx1g\nopenjdk version "17.0.1" 2021-10-19\n',
        (17, 0, 1),
    ),
    "bare": ("openjdk 21.0.2 2024-01-16\nOpenJDK Runtime Environment\n", (21, 0, 2)),
}


@pytest.mark.parametrize("key", list(OUTPUTS))
def test_parse_java_version(key: str) -> None:
    output, expected = OUTPUTS[key]
    version, _text = jv.parse_java_version(output)
    assert version == expected


@pytest.mark.parametrize("output", ["", "Error: could not find libjava.so\n", 'version "beta"'])
def test_parse_java_version_rejects_output_without_a_version(output: str) -> None:
    with pytest.raises(ValueError):
        jv.parse_java_version(output)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("key", ["8", "17", "21", "tool-options"])
def test_java_version_runs_the_executable(tmp_path: Path, key: str) -> None:
    output, expected = OUTPUTS[key]
    assert jv.java_version(fake_java(tmp_path / "bin", output)) == expected


@pytest.mark.timeout(60)
def test_java_version_of_broken_java_is_not_found(tmp_path: Path) -> None:
    broken = fake_java(tmp_path / "bin", "Error occurred during initialization of VM\n", exit_code=1)
    with pytest.raises(jv.JavaNotFound, match="did not report a version"):
        jv.java_version(broken)
    with pytest.raises(jv.JavaNotFound, match="Could not run"):
        jv.java_version(tmp_path / "no-such-java")


def test_errors_are_runtime_errors() -> None:
    assert issubclass(jv.JavaNotFound, RuntimeError)
    assert issubclass(jv.JavaTooOld, RuntimeError)


def test_find_java_prefers_java_home_over_path(tmp_path: Path) -> None:
    home = jdk(tmp_path, OUTPUTS["17"][0])
    on_path = fake_java(tmp_path / "path-bin", OUTPUTS["21"][0])
    env = {"JAVA_HOME": str(home), "PATH": str(on_path.parent)}
    assert jv.find_java(env) == home / "bin" / "java"
    assert jv.find_java({"PATH": str(on_path.parent)}) == on_path
    assert jv.find_java({"PATH": str(tmp_path / "empty")}) is None


def test_broken_java_home_is_reported_even_with_java_on_path(tmp_path: Path) -> None:
    """Spark's launcher uses $JAVA_HOME/bin/java whenever JAVA_HOME is set, so a java on PATH does not help."""
    on_path = fake_java(tmp_path / "path-bin", OUTPUTS["17"][0])
    env = {"JAVA_HOME": str(tmp_path / "gone"), "PATH": str(on_path.parent)}
    assert jv.find_java(env) is None
    with pytest.raises(jv.JavaNotFound) as info:
        jv.check_java(17, env=env)
    message = str(info.value)
    assert "JAVA_HOME is set to" in message and str(tmp_path / "gone") in message
    assert "unset it" in message


@pytest.mark.timeout(60)
def test_check_java_accepts_new_enough_java(tmp_path: Path) -> None:
    home = jdk(tmp_path, OUTPUTS["21"][0])
    info = jv.check_java(17, env={"JAVA_HOME": str(home)})
    assert info.path == home / "bin" / "java"
    assert info.version == (21,) and info.major == 21 and info.version_string == "21"


@pytest.mark.timeout(60)
def test_check_java_too_old_names_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jv.sys, "platform", "linux")
    home = jdk(tmp_path, OUTPUTS["11-ea"][0])
    with pytest.raises(jv.JavaTooOld) as info:
        jv.check_java(17, env={"JAVA_HOME": str(home)})
    message = str(info.value)
    assert "Java 11.0.2-ea" in message and "too old" in message
    assert "Install Java 17 or newer" in message
    assert "apt-get install openjdk-17-jre-headless" in message
    assert "JAVA_HOME" in message


@pytest.mark.timeout(60)
def test_java_8_is_too_old_even_for_spark_3(tmp_path: Path) -> None:
    """Spark 3.5 alone would start on Java 8; the kernel is built and tested on 17+ and says so."""
    spark_home = tmp_path / "spark"
    spark_home.mkdir()
    (spark_home / "RELEASE").write_text("Spark 3.5.7 built for Hadoop 3.3.4\n")
    home = jdk(tmp_path, OUTPUTS["8"][0])
    with pytest.raises(jv.JavaTooOld, match=r"Java 1\.8\.0_392 .* too old: Toree and its Spark need Java 17 or newer"):
        jv.check_java(jv.required_java(spark_home), env={"JAVA_HOME": str(home)})


def test_check_java_without_any_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jv.sys, "platform", "linux")
    with pytest.raises(jv.JavaNotFound) as info:
        jv.check_java(17, env={"PATH": str(tmp_path)})
    message = str(info.value)
    assert "No Java found" in message
    assert (
        "Install Java 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`) and/or set JAVA_HOME"
        in message
    )


@pytest.mark.timeout(60)
def test_check_java_with_java_that_prints_no_version(tmp_path: Path) -> None:
    home = tmp_path / "jdk"
    fake_java(home / "bin", "Error: dl failure on line 542\n", exit_code=1)
    with pytest.raises(jv.JavaNotFound, match=r"did not report a version.*Install Java 17"):
        jv.check_java(17, env={"JAVA_HOME": str(home)})


def test_install_hint_per_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jv.sys, "platform", "darwin")
    assert "brew install openjdk@17" in jv.install_hint(17)
    monkeypatch.setattr(jv.sys, "platform", "linux")
    assert "openjdk-21-jre-headless" in jv.install_hint(21)
    assert "Install Java 8 or newer" in jv.install_hint(8)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"jars/spark-core_2.12-3.5.1.jar": ""}, (3, 5)),
        ({"jars/spark-core_2.13-4.0.0.jar": "", "jars/scala-library-2.13.14.jar": ""}, (4, 0)),
        ({"RELEASE": "Spark 3.4.2 built for Hadoop 3.3.4\n", "jars/spark-core_2.13-4.0.0.jar": ""}, (3, 4)),
        ({"README.md": "nothing"}, None),
    ],
)
def test_spark_version_of_a_spark_home(
    tmp_path: Path, files: dict[str, str], expected: tuple[int, int]
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert jv.spark_version(tmp_path) == expected
    assert jv.required_java(tmp_path) == 17


def test_spark_version_of_installed_pyspark() -> None:
    from importlib import metadata

    major, minor = (int(p) for p in metadata.version("pyspark").split(".")[:2])
    assert jv.spark_version() == (major, minor)
    assert jv.required_java() == 17


@pytest.mark.timeout(120)
@pytest.mark.skipif(jv.find_java() is None, reason="no Java on this machine")
def test_real_java_on_this_machine() -> None:
    info = jv.check_java(8)
    assert info.path.exists() and os.access(info.path, os.X_OK)
    assert info.major >= 8
    assert info.version == jv.java_version(info.path)
    real = shutil.which("java")
    if real and not os.environ.get("JAVA_HOME"):
        assert info.path == Path(real)


@pytest.mark.timeout(60)
def test_an_interrupt_to_the_process_group_does_not_kill_the_probe(tmp_path: Path) -> None:
    """jupyter_client interrupts a kernel (also before shutting it down) with SIGINT to its process group:
    a `java -version` running then must not die of it and fail the Spark start as "no version"."""
    import signal
    import subprocess
    import sys
    import time

    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text("#!/bin/sh\nsleep 2\necho 'openjdk version \"17.0.1\" 2021-10-19' >&2\n")
    java.chmod(0o755)
    kernel_like = subprocess.Popen(  # handles SIGINT (not SIG_IGN, which children would inherit), as the kernel
        [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, lambda *_: None)\n"
         "from toree_interpreters.spark import java\nprint(java.check_java(17).version_string)"],
        env={**os.environ, "JAVA_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(1.0)  # the probe is sleeping
    os.killpg(kernel_like.pid, signal.SIGINT)
    out, err = kernel_like.communicate(timeout=30)
    assert kernel_like.returncode == 0, err
    assert out.strip() == "17.0.1"
