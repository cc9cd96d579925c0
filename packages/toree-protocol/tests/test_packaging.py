"""toree_protocol ships type information (PEP 561), so users' type checkers read its annotations."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path

import toree_protocol

PROJECT = Path(__file__).resolve().parents[1]


def test_py_typed_marker_is_in_the_package() -> None:
    assert (files(toree_protocol) / "py.typed").is_file()


def test_the_wheel_takes_the_whole_package_directory() -> None:
    # hatchling's wheel copies every file under ``packages`` (py.typed included); an ``only-include``
    # or ``exclude`` that drops it would show here.
    config = tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert config["packages"] == ["src/toree_protocol"]
    assert not {"only-include", "exclude", "include"} & config.keys()
    assert Path(toree_protocol.__file__).parent == PROJECT / "src" / "toree_protocol"
