"""`toree install/uninstall/list`: the kernelspecs Apache Toree users expect, in the places Jupyter looks.

Every test points Jupyter's user/config/search directories at tmp_path, so nothing outside it is touched.
Most run ``main()`` in-process against a fake JAVA_HOME; the last ones go through the real ``toree`` and
``jupyter toree`` commands of this environment and ask ``jupyter kernelspec list`` what it sees.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.kernelspec import KernelSpecManager

from toree_interpreters import Interpreter, PySparkInterpreter, RInterpreter, ScalaInterpreter, SQLInterpreter
from toree_kernel import __version__, cli
from toree_kernel import kernelspecs as ks

SPEC = "apache_toree_pyspark"
REAL_JAVA_HOME = os.environ.get("JAVA_HOME")  # before the fixture below fakes it


def _fake_jdk(root: Path, version: str) -> Path:
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    java = bin_dir / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2025-04-15' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return root


@pytest.fixture(autouse=True)
def no_class_sharing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installs here do not build the class-data-sharing archive (a real build takes a minute); the tests
    of that step below turn it back on with a stand-in for the kernel's Python."""
    monkeypatch.setenv("TOREE_CLASS_SHARING", "off")


@pytest.fixture(autouse=True)
def jupyter_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Isolated Jupyter directories and a Java 17 JAVA_HOME (fast and independent of the machine)."""
    dirs = {
        "home": tmp_path / "home",
        "data": tmp_path / "home" / "jupyter-data",
        "config": tmp_path / "home" / "jupyter-config",
        "path": tmp_path / "jupyter-path",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(dirs["home"]))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(dirs["data"]))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(dirs["config"]))
    monkeypatch.setenv("JUPYTER_PATH", str(dirs["path"]))
    monkeypatch.setenv("JAVA_HOME", str(_fake_jdk(tmp_path / "jdk17", "17.0.15")))
    return dirs


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def spec_dir(prefix: Path, name: str = SPEC) -> Path:
    return prefix / "share" / "jupyter" / "kernels" / name


def read_spec(prefix: Path, name: str = SPEC) -> dict:
    return json.loads((spec_dir(prefix, name) / "kernel.json").read_text())


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    crc = struct.unpack(">I", data[29:33])[0]
    assert crc == zlib.crc32(data[12:29])
    return struct.unpack(">II", data[16:24])


# The spec itself ----------------------------------------------------------------------------------------


def test_build_kernel_json_is_toree_shaped(tmp_path: Path) -> None:
    spec = ks.build_kernel_json(
        "pyspark",
        kernel_name="Apache Toree",
        spark_home=tmp_path / "spark",
        spark_opts="--master=local[4]",
        toree_opts="--spark-context-initialization-mode lazy",
        python_exec=None,
    )
    assert spec == {
        "argv": [sys.executable, "-m", "toree_kernel", "--profile", "{connection_file}"],
        "display_name": "Apache Toree - PySpark",
        "language": "python",
        "interrupt_mode": "signal",
        "env": {
            "DEFAULT_INTERPRETER": "PySpark",
            "__TOREE_SPARK_OPTS__": "--master=local[4]",
            "__TOREE_OPTS__": "--spark-context-initialization-mode lazy",
            "SPARK_HOME": str(tmp_path / "spark"),
        },
        "metadata": {"toree": {"interpreter": "PySpark", "version": __version__}},
    }


def test_build_kernel_json_without_spark_home_and_with_python_exec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ks.build_kernel_json("PySpark", python_exec="python3")
    assert "SPARK_HOME" not in spec["env"]
    assert spec["argv"][0] == "python3"  # a bare name stays a PATH lookup, as in Toree
    monkeypatch.chdir(tmp_path)
    relative = ks.build_kernel_json("PySpark", python_exec="venv/bin/python", spark_home="spark")
    assert relative["argv"][0] == str(tmp_path / "venv" / "bin" / "python")
    assert relative["env"]["SPARK_HOME"] == str(tmp_path / "spark")


@pytest.mark.parametrize(
    ("kernel_name", "interpreter", "directory", "display"),
    [
        ("Apache Toree", "PySpark", "apache_toree_pyspark", "Apache Toree - PySpark"),
        ("Apache Toree", "pyspark", "apache_toree_pyspark", "Apache Toree - PySpark"),
        ("My Spark 4.0", "PYSPARK", "my_spark_4.0_pyspark", "My Spark 4.0 - PySpark"),
        ("toree_special", "PySpark", "toree_special_pyspark", "toree_special - PySpark"),
    ],
)
def test_names_follow_toree(kernel_name: str, interpreter: str, directory: str, display: str) -> None:
    assert ks.spec_dir_name(kernel_name, interpreter) == directory
    assert ks.display_name(kernel_name, interpreter) == display


def test_registry_ships_pyspark_scala_sql_and_sparkr() -> None:
    assert ks.available() == ["PySpark", "Scala", "SQL", "SparkR"]
    assert ks.get_interpreter("scala").language == "scala"
    assert ks.display_name("Apache Toree", "scala") == "Apache Toree - Scala"
    assert ks.spec_dir_name("Apache Toree", "Scala") == "apache_toree_scala"
    assert ks.get_interpreter("PySpark").language == "python"
    assert [i.name for i in ks.parse_interpreters(" pyspark, PySpark ,PYSPARK")] == ["PySpark"]


def static_language_info(interpreter: type[Interpreter]) -> dict[str, Any]:
    """kernel_info_reply's language_info without the runtime's version (and nbconvert's exporter)."""
    info = interpreter.language_info.to_dict()
    return {k: v for k, v in info.items() if k not in ("version", "nbconvert_exporter")}


def test_kernelspec_languages_are_the_interpreters_language_info() -> None:
    """A spec's "language" is what the kernel it starts reports in kernel_info_reply."""
    shipped = {
        "PySpark": PySparkInterpreter,
        "Scala": ScalaInterpreter,
        "SQL": SQLInterpreter,
        "SparkR": RInterpreter,
    }
    assert sorted(shipped) == sorted(ks.available())
    for name, interpreter in shipped.items():
        assert interpreter.name == name
        assert ks.get_interpreter(name).language == interpreter.language_info.name
    assert static_language_info(PySparkInterpreter) == {
        "name": "python",
        "mimetype": "text/x-python",
        "file_extension": ".py",
        "codemirror_mode": {"name": "ipython", "version": 3},
        "pygments_lexer": "ipython3",
    }
    scala = ScalaInterpreter.language_info
    assert (scala.name, scala.file_extension, scala.codemirror_mode) == ("scala", ".scala", "text/x-scala")


@pytest.mark.parametrize("bad", ["bad/name", "Tôree", "a:b", "   "])
def test_unusable_kernel_names_are_refused(bad: str) -> None:
    with pytest.raises(ks.InstallError, match="kernel name"):
        ks.spec_dir_name(bad, "PySpark")


# install ------------------------------------------------------------------------------------------------


def test_install_into_prefix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "prefix"
    code, out, err = run(
        capsys,
        "install",
        f"--prefix={prefix}",
        "--spark_opts=--master=local[4] --conf spark.ui.enabled=false",
        "--toree_opts",
        "--spark-context-initialization-mode lazy",  # a value with a space may be separate, as in argparse
    )
    assert code == 0, err
    assert err == ""
    assert "Java 17.0.15" in out
    assert f"Installed kernelspec {SPEC} ('Apache Toree - PySpark') in {spec_dir(prefix)}" in out
    assert "not on Jupyter's search path" in out  # a private prefix: say how to use it
    spec = read_spec(prefix)
    assert spec["argv"] == [sys.executable, "-m", "toree_kernel", "--profile", "{connection_file}"]
    assert spec["env"] == {
        "DEFAULT_INTERPRETER": "PySpark",
        "__TOREE_SPARK_OPTS__": "--master=local[4] --conf spark.ui.enabled=false",
        "__TOREE_OPTS__": "--spark-context-initialization-mode lazy",
    }
    assert spec["interrupt_mode"] == "signal" and spec["language"] == "python"
    files = sorted(p.name for p in spec_dir(prefix).iterdir())
    assert files == ["kernel.json", "logo-32x32.png", "logo-64x64.png", "logo-svg.svg"]
    assert png_size((spec_dir(prefix) / "logo-64x64.png").read_bytes()) == (64, 64)
    assert png_size((spec_dir(prefix) / "logo-32x32.png").read_bytes()) == (32, 32)


def test_dashed_spellings_mean_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spark = tmp_path / "spark"
    spark.mkdir()
    common = ["--interpreters=PySpark", "--python_exec=/opt/py/bin/python"]
    underscored = [f"--spark_home={spark}", "--spark_opts=--master=local[2]", "--toree_opts=--nosparkcontext"]
    dashed = [f"--spark-home={spark}", "--spark-opts=--master=local[2]", "--toree-opts=--nosparkcontext"]
    code, _, err = run(
        capsys, "install", f"--prefix={tmp_path / 'a'}", "--kernel_name=K 1", *common, *underscored
    )
    assert code == 0
    assert "--python_exec /opt/py/bin/python is not an executable" in err  # a warning, not a failure
    assert run(capsys, "install", f"--prefix={tmp_path / 'b'}", "--kernel-name=K 1", *common, *dashed)[0] == 0
    a, b = read_spec(tmp_path / "a", "k_1_pyspark"), read_spec(tmp_path / "b", "k_1_pyspark")
    assert a == b
    assert a["env"]["SPARK_HOME"] == str(spark)
    assert a["argv"][0] == "/opt/py/bin/python"
    assert a["display_name"] == "K 1 - PySpark"


def test_second_install_replaces_with_or_without_replace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """jupyter_client >= 7 always replaces an existing spec; --replace is accepted for Toree's users."""
    prefix = tmp_path / "prefix"
    assert run(capsys, "install", f"--prefix={prefix}", "--spark_opts=--master=local[1]")[0] == 0
    (spec_dir(prefix) / "stale.txt").write_text("left over by an older install")
    code, out, _ = run(capsys, "install", f"--prefix={prefix}", "--spark_opts=--master=local[2]")
    assert code == 0 and "(replaced the existing one)" in out
    assert read_spec(prefix)["env"]["__TOREE_SPARK_OPTS__"] == "--master=local[2]"
    assert not (spec_dir(prefix) / "stale.txt").exists()
    code, out, _ = run(capsys, "install", f"--prefix={prefix}", "--replace", "--spark_opts=--master=local[3]")
    assert code == 0 and "(replaced the existing one)" in out
    assert read_spec(prefix)["env"]["__TOREE_SPARK_OPTS__"] == "--master=local[3]"


def test_install_user(jupyter_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "install", "--user")
    assert code == 0, err
    target = jupyter_dirs["data"] / "kernels" / SPEC
    assert (target / "kernel.json").is_file()
    assert str(target) in out
    assert "search path" not in out  # the user directory is on it
    found = KernelSpecManager().get_kernel_spec(SPEC)
    assert Path(found.resource_dir) == target


@pytest.mark.skipif(sys.platform != "linux", reason="the data directory under HOME is platform specific")
def test_install_user_follows_home(
    jupyter_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("JUPYTER_DATA_DIR", "XDG_DATA_HOME", "JUPYTER_PLATFORM_DIRS"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = run(capsys, "install", "--user")
    assert code == 0, err
    target = jupyter_dirs["home"] / ".local" / "share" / "jupyter" / "kernels" / SPEC
    assert (target / "kernel.json").is_file() and str(target) in out


def test_install_sys_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_env = tmp_path / "venv"
    monkeypatch.setattr(sys, "prefix", str(fake_env))
    code, out, err = run(capsys, "install", "--sys_prefix")
    assert code == 0, err
    assert (spec_dir(fake_env) / "kernel.json").is_file()
    assert str(spec_dir(fake_env)) in out


def test_default_location_is_jupyters_system_directory() -> None:
    from jupyter_core.paths import SYSTEM_JUPYTER_PATH

    assert ks.kernels_dir() == Path(SYSTEM_JUPYTER_PATH[0], "kernels")


def test_location_flags_are_exclusive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "install", "--user", f"--prefix={tmp_path}")
    assert code == 2
    assert "not allowed with argument" in err
    assert not (tmp_path / "share").exists()


def test_sql_spec_is_toree_shaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "install", f"--prefix={tmp_path}", "--interpreters=sql")
    assert code == 0, err
    spec = read_spec(tmp_path, "apache_toree_sql")
    assert spec["display_name"] == "Apache Toree - SQL"
    assert spec["language"] == "sql"
    assert spec["env"]["DEFAULT_INTERPRETER"] == "SQL"
    assert spec["metadata"]["toree"]["interpreter"] == "SQL"
    assert static_language_info(SQLInterpreter) == {
        "name": "sql",
        "mimetype": "text/x-sql",
        "file_extension": ".sql",
        "codemirror_mode": "text/x-sql",
        "pygments_lexer": "sql",
    }


def test_sparkr_spec_is_toree_shaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "install", f"--prefix={tmp_path}", "--interpreters=SparkR")
    assert code == 0, err
    spec = read_spec(tmp_path, "apache_toree_sparkr")
    assert spec["display_name"] == "Apache Toree - SparkR"
    assert spec["language"] == "R"
    assert spec["env"]["DEFAULT_INTERPRETER"] == "SparkR"
    assert static_language_info(RInterpreter) == {
        "name": "R",
        "mimetype": "text/x-r-source",
        "file_extension": ".r",
        "codemirror_mode": "r",
        "pygments_lexer": "r",
    }


def test_invalid_interpreter_list_installs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "install", f"--prefix={tmp_path}", "--interpreters=sql,PySpark,Julia")
    assert code == 2
    assert "Traceback" not in err
    assert "unknown interpreter 'Julia'" in err
    assert not (tmp_path / "share").exists()  # nothing half-installed, not even the valid SQL and PySpark


def test_unknown_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "install", f"--prefix={tmp_path}", "--interpreters=Julia")
    assert code == 2
    assert err.strip() == "toree: error: unknown interpreter 'Julia'; available: PySpark, Scala, SQL, SparkR"


def test_warm_pool_names_our_provisioner_in_every_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "install", f"--prefix={tmp_path}", "--interpreters=PySpark,Scala", "--warm-pool=2")
    assert code == 0, err
    for name in ("apache_toree_pyspark", "apache_toree_scala"):
        spec = read_spec(tmp_path, name)
        assert spec["metadata"]["kernel_provisioner"] == {
            "provisioner_name": "toree-warm-pool",
            "config": {"pool_size": 2},
        }
    # jupyter_client finds the provisioner by that name (the package's entry point)
    from jupyter_client.provisioning import KernelProvisionerFactory

    assert KernelProvisionerFactory.instance().is_provisioner_available(
        KernelSpecManager(kernel_dirs=[str(tmp_path / "share/jupyter/kernels")]).get_kernel_spec(
            "apache_toree_pyspark"
        )
    )
    code, _, _ = run(capsys, "install", f"--prefix={tmp_path}", "--warm-pool=0")
    assert code == 0 and "kernel_provisioner" not in read_spec(tmp_path, "apache_toree_pyspark")["metadata"]
    code, _, err = run(capsys, "install", f"--prefix={tmp_path}", "--warm-pool=lots")
    assert code == 2 and "--warm-pool takes a number of kernels" in err


def test_bad_kernel_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "install", f"--prefix={tmp_path}", "--kernel_name=my/kernel")
    assert code == 2
    assert "toree: error: kernel name 'my/kernel'" in err and "Traceback" not in err


def test_option_value_starting_with_dash_gets_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "install", "--spark_opts", "--master=local[2]")
    assert code == 2
    assert "must be attached with '='" in err


def test_unwritable_location_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, _, err = run(capsys, "install", f"--prefix={blocker}")
    assert code == 1
    assert f"cannot write the PySpark kernelspec into {blocker}" in err
    assert "try --user" in err and "Traceback" not in err


# Java ---------------------------------------------------------------------------------------------------


def test_install_refuses_without_java_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    prefix = tmp_path / "prefix"
    code, _, err = run(capsys, "install", f"--prefix={prefix}")
    assert code == 1
    assert "No Java found" in err and "Install Java 17 or newer" in err and "--force" in err
    assert not prefix.exists()
    code, out, err = run(capsys, "install", f"--prefix={prefix}", "--force")
    assert code == 0
    assert "warning: No Java found" in err
    assert (spec_dir(prefix) / "kernel.json").is_file() and "Installed kernelspec" in out


def test_remote_is_added_to_the_spark_options_and_needs_no_local_java(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    prefix = tmp_path / "prefix"
    code, _, err = run(
        capsys, "install", f"--prefix={prefix}", "--spark_opts=--conf a=b", "--remote=sc://127.0.0.1:15002"
    )
    assert code == 0, err
    assert "warning: No Java found" in err and "fine with --remote" in err
    spec = json.loads((spec_dir(prefix) / "kernel.json").read_text())
    assert spec["env"]["__TOREE_SPARK_OPTS__"] == "--conf a=b --remote sc://127.0.0.1:15002"


def _fake_python(path: Path, exit_code: int = 0) -> Path:
    """A stand-in for the kernel's Python: records its arguments and SPARK_HOME, prints an archive path."""
    path.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{path}.args"\n'
        f'echo "$SPARK_HOME" > "{path}.spark_home"\n'
        + ("echo /cache/spark-driver-1.jsa\n" if exit_code == 0 else "echo 'no Spark here' >&2\n")
        + f"exit {exit_code}\n"
    )
    path.chmod(0o755)
    return path


def test_install_prepares_class_sharing_with_the_kernels_python_and_spark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TOREE_CLASS_SHARING")
    python = _fake_python(tmp_path / "python")
    (tmp_path / "spark").mkdir()
    code, out, err = run(
        capsys,
        "install",
        f"--prefix={tmp_path / 'prefix'}",
        f"--python_exec={python}",
        f"--spark_home={tmp_path / 'spark'}",
        "--spark_opts=--master local[2] --driver-class-path '/my jars/a.jar'",
    )
    assert code == 0, err
    assert "class-data-sharing archive" in out and "/cache/spark-driver-1.jsa" in out
    args = Path(f"{python}.args").read_text().splitlines()
    assert args == ["-m", "toree_interpreters.archive_builder", "build", "--master", "local[2]",
                    "--driver-class-path", "/my jars/a.jar"]  # fmt: skip
    assert Path(f"{python}.spark_home").read_text().strip() == str(tmp_path / "spark")


def test_a_failed_class_sharing_build_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TOREE_CLASS_SHARING")
    python = _fake_python(tmp_path / "python", exit_code=1)
    code, out, err = run(capsys, "install", f"--prefix={tmp_path / 'prefix'}", f"--python_exec={python}")
    assert code == 0, err
    assert "warning: could not prepare the class-data-sharing archive (no Spark here)" in err
    assert (spec_dir(tmp_path / "prefix") / "kernel.json").is_file() and "Installed kernelspec" in out


@pytest.mark.parametrize(
    ("flags", "switch"),
    [(["--no-class-sharing"], None), (["--remote=sc://127.0.0.1:15002"], None), ([], "off")],
)
def test_class_sharing_is_skipped_when_asked_or_useless(
    flags: list[str],
    switch: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if switch is None:
        monkeypatch.delenv("TOREE_CLASS_SHARING")
    python = _fake_python(tmp_path / "python")
    code, out, err = run(
        capsys, "install", f"--prefix={tmp_path / 'prefix'}", f"--python_exec={python}", *flags
    )
    assert code == 0, err
    assert "class-data-sharing" not in out + err and not Path(f"{python}.args").exists()


def test_install_refuses_old_java(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(_fake_jdk(tmp_path / "jdk11", "11.0.22")))
    code, _, err = run(capsys, "install", f"--prefix={tmp_path / 'p'}")
    assert code == 1
    assert "Java 11.0.22" in err and "too old" in err and "Java 17 or newer" in err


def test_java_11_is_refused_for_a_spark_3_home_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Spark 3.5 alone would run on Java 11; the kernel needs 17 (tested on 17 and 21) and says so."""
    monkeypatch.setenv("JAVA_HOME", str(_fake_jdk(tmp_path / "jdk11", "11.0.22")))
    spark3 = tmp_path / "spark-3.5.1"
    (spark3 / "jars").mkdir(parents=True)
    (spark3 / "jars" / "spark-core_2.12-3.5.1.jar").write_bytes(b"")
    code, _, err = run(capsys, "install", f"--prefix={tmp_path / 'p'}", f"--spark_home={spark3}")
    assert code == 1
    assert "Java 11.0.22" in err and "too old" in err and "need Java 17 or newer" in err


def test_missing_spark_home_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "install", f"--prefix={tmp_path / 'p'}", f"--spark_home={tmp_path / 'nope'}")
    assert code == 0
    assert "is not a directory" in err
    assert read_spec(tmp_path / "p")["env"]["SPARK_HOME"] == str(tmp_path / "nope")


# uninstall / list ---------------------------------------------------------------------------------------


def _apache_toree_spec(kernels: Path, interpreter: str = "Scala") -> Path:
    """A spec as Apache Toree's own (JVM) installer writes it."""
    d = kernels / f"apache_toree_{interpreter.lower()}"
    d.mkdir(parents=True)
    (d / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(d / "bin" / "run.sh"), "--profile", "{connection_file}"],
                "display_name": f"Apache Toree - {interpreter}",
                "language": interpreter.lower(),
                "env": {"DEFAULT_INTERPRETER": interpreter, "__TOREE_SPARK_OPTS__": "", "__TOREE_OPTS__": ""},
            }
        )
    )
    return d


def test_uninstall_removes_ours_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = tmp_path / "prefix"
    assert run(capsys, "install", f"--prefix={prefix}")[0] == 0
    assert run(capsys, "install", f"--prefix={prefix}", "--kernel_name=Other")[0] == 0
    jvm = _apache_toree_spec(spec_dir(prefix).parent)
    code, out, err = run(capsys, "uninstall", f"--prefix={prefix}")
    assert code == 0, err
    assert f"Removed kernelspec {SPEC} from {spec_dir(prefix)}" in out
    assert "Skipped apache_toree_scala" in out and "jupyter kernelspec uninstall apache_toree_scala" in out
    assert not spec_dir(prefix).exists()
    assert jvm.is_dir()  # Apache Toree's own spec is not ours to remove
    assert spec_dir(prefix, "other_pyspark").is_dir()  # another kernel_name is left alone
    assert run(capsys, "uninstall", f"--prefix={prefix}", "--kernel_name=Other")[0] == 0
    assert not spec_dir(prefix, "other_pyspark").exists()


def test_uninstall_nothing_there(
    tmp_path: Path, jupyter_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "install", "--user")[0] == 0
    code, _, err = run(capsys, "uninstall", f"--prefix={tmp_path / 'empty'}")
    assert code == 1
    assert "no toree-kernel kernelspec named apache_toree_* in" in err
    assert f"found {SPEC} in {jupyter_dirs['data'] / 'kernels'}" in err  # and where it is instead
    code, out, _ = run(capsys, "uninstall", "--user")
    assert code == 0 and "Removed kernelspec" in out


def test_uninstall_unknown_interpreter_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "uninstall", "--user", "--interpreters=Python2")
    assert code == 2 and "unknown interpreter 'Python2'" in err


def test_list(tmp_path: Path, jupyter_dirs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0 and out.startswith("No Toree kernelspecs in")
    assert run(capsys, "install", "--user")[0] == 0
    _apache_toree_spec(jupyter_dirs["path"] / "kernels")
    other = jupyter_dirs["path"] / "kernels" / "python3"
    other.mkdir()
    (other / "kernel.json").write_text(
        json.dumps({"argv": ["python", "-m", "ipykernel_launcher"], "language": "python"})
    )
    broken = jupyter_dirs["path"] / "kernels" / "broken"
    broken.mkdir()
    (broken / "kernel.json").write_text("{not json")
    code, out, err = run(capsys, "list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "INTERPRETER", "KERNEL", "PATH"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[SPEC][1:4] == ["PySpark", "toree-kernel", str(jupyter_dirs["data"] / "kernels" / SPEC)]
    assert rows["apache_toree_scala"][1:4] == ["Scala", "Apache", "Toree"]
    assert "python3" not in rows and "broken" not in rows
    code, out, _ = run(capsys, "list", f"--prefix={tmp_path / 'elsewhere'}")
    assert code == 0 and "No Toree kernelspecs" in out


def test_version_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"toree-kernel {__version__}"
    code, _, err = run(capsys)
    assert code == 2 and "install" in err and "uninstall" in err


# Through the real commands ------------------------------------------------------------------------------

BIN = Path(sys.executable).parent


def _command_env(jupyter_dirs: dict[str, Path]) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.timeout(120)
@pytest.mark.skipif(not (BIN / "jupyter").exists(), reason="no jupyter command in this environment")
def test_jupyter_toree_install_and_kernelspec_list(tmp_path: Path, jupyter_dirs: dict[str, Path]) -> None:
    env = _command_env(jupyter_dirs)
    prefix = tmp_path / "prefix"
    env["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    done = subprocess.run(
        [str(BIN / "jupyter"), "toree", "install", f"--prefix={prefix}", "--spark_opts=--master=local[2]"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    assert f"Installed kernelspec {SPEC}" in done.stdout
    assert "Traceback" not in done.stderr
    listed = subprocess.run(
        [str(BIN / "jupyter"), "kernelspec", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert listed.returncode == 0, listed.stderr
    specs = json.loads(listed.stdout)["kernelspecs"]
    assert specs[SPEC]["resource_dir"] == str(spec_dir(prefix))
    assert specs[SPEC]["spec"]["display_name"] == "Apache Toree - PySpark"
    assert specs[SPEC]["spec"]["env"]["__TOREE_SPARK_OPTS__"] == "--master=local[2]"
    assert specs[SPEC]["spec"]["interrupt_mode"] == "signal"


@pytest.mark.timeout(120)
@pytest.mark.skipif(not (BIN / "jupyter").exists(), reason="no jupyter command in this environment")
def test_jupyter_toree_errors_have_no_traceback(tmp_path: Path, jupyter_dirs: dict[str, Path]) -> None:
    done = subprocess.run(
        [str(BIN / "jupyter"), "toree", "install", f"--prefix={tmp_path}", "--interpreters=Julia"],
        env=_command_env(jupyter_dirs),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("jupyter toree: error: unknown interpreter 'Julia'")
    assert "Traceback" not in done.stderr


@pytest.mark.timeout(120)
@pytest.mark.skipif(
    shutil.which("toree", path=str(BIN)) is None, reason="no toree command in this environment"
)
def test_toree_command(tmp_path: Path, jupyter_dirs: dict[str, Path]) -> None:
    env = _command_env(jupyter_dirs)
    version = subprocess.run(
        [str(BIN / "toree"), "--version"], env=env, capture_output=True, text=True, timeout=90
    )
    assert version.returncode == 0 and version.stdout.strip() == f"toree-kernel {__version__}"
    installed = subprocess.run(
        [str(BIN / "toree"), "install", "--user"], env=env, capture_output=True, text=True, timeout=90
    )
    assert installed.returncode == 0, installed.stderr
    listed = subprocess.run([str(BIN / "toree"), "list"], env=env, capture_output=True, text=True, timeout=90)
    assert SPEC in listed.stdout and "PySpark" in listed.stdout
    removed = subprocess.run(
        [str(BIN / "toree"), "uninstall", "--user"], env=env, capture_output=True, text=True, timeout=90
    )
    assert removed.returncode == 0 and "Removed kernelspec" in removed.stdout
    assert not (jupyter_dirs["data"] / "kernels" / SPEC).exists()


@pytest.mark.timeout(120)
def test_real_java_check_passes_on_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No fake JAVA_HOME: the machine's own Java (17 here) must satisfy the installed pyspark."""
    from toree_interpreters.spark import java as jv

    monkeypatch.delenv("JAVA_HOME")
    if REAL_JAVA_HOME:
        monkeypatch.setenv("JAVA_HOME", REAL_JAVA_HOME)
    if jv.find_java() is None:
        pytest.skip("no Java on this machine")
    code, out, err = run(capsys, "install", f"--prefix={tmp_path / 'p'}")
    assert code == 0, err
    assert out.startswith("Java ")
