import pytest

from toree_kernel.options import parse_options


def test_toree_kernelspec_style_argv_and_env() -> None:
    env = {
        "DEFAULT_INTERPRETER": "PySpark",
        "SPARK_OPTS": "--master local[2] --conf spark.ui.enabled=false",
        "__TOREE_SPARK_OPTS__": "--driver-memory 2g --conf 'spark.app.name=my app'",
        "__TOREE_OPTS__": "--spark-context-initialization-mode lazy",
    }
    opts = parse_options(["--profile", "/tmp/conn.json"], env)
    assert opts.connection_file == "/tmp/conn.json"
    assert opts.init_mode == "lazy"
    assert opts.default_interpreter == "PySpark"
    # SPARK_OPTS first, the kernelspec's --spark_opts after it (so it wins for repeated settings)
    assert opts.spark_args == (
        "--master",
        "local[2]",
        "--conf",
        "spark.ui.enabled=false",
        "--driver-memory",
        "2g",
        "--conf",
        "spark.app.name=my app",
    )


def test_defaults_and_nosparkcontext() -> None:
    assert parse_options(["-f", "c.json"], {}).init_mode == "eager"
    assert parse_options(["-f", "c.json", "--nosparkcontext"], {}).init_mode == "none"
    assert parse_options(["-f", "c.json"], {"__TOREE_OPTS__": "--nosparkcontext"}).init_mode == "none"


def test_unknown_toree_options_are_ignored_not_fatal() -> None:
    opts = parse_options(
        ["-f", "c.json"], {"__TOREE_OPTS__": "--max-interpreter-threads 4 --alternate-sigint USR2"}
    )
    assert opts.connection_file == "c.json"
    assert "--max-interpreter-threads" in opts.ignored


def test_bad_init_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="invalid choice"):
        parse_options(["-f", "c.json", "--spark-context-initialization-mode", "sometimes"], {})


def test_progress_switch_from_argv_toree_opts_and_env() -> None:
    assert parse_options(["-f", "c.json"], {}).progress is True
    assert parse_options(["-f", "c.json", "--progress", "off"], {}).progress is False
    assert parse_options(["-f", "c.json"], {"__TOREE_OPTS__": "--progress OFF"}).progress is False
    assert parse_options(["-f", "c.json", "--progress", "off"], {"TOREE_PROGRESS": "on"}).progress is True
    assert parse_options(["-f", "c.json"], {"TOREE_PROGRESS": "off"}).progress is False
    with pytest.raises(ValueError, match="TOREE_PROGRESS"):
        parse_options(["-f", "c.json"], {"TOREE_PROGRESS": "sometimes"})


def test_remote_goes_to_the_spark_options() -> None:
    opts = parse_options(["-f", "c.json", "--remote", "sc://h:15002"], {"__TOREE_SPARK_OPTS__": "--conf a=b"})
    assert opts.spark_args == ("--conf", "a=b", "--remote", "sc://h:15002")
    assert parse_options(["-f", "c.json"], {"__TOREE_OPTS__": "--remote sc://x:1"}).spark_args[-2:] == (
        "--remote",
        "sc://x:1",
    )
