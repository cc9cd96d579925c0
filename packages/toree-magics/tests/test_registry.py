"""The registry: built-ins, plugins through entry points, conflicts, failures and suggestions."""

from __future__ import annotations

import sys
import textwrap
from importlib.metadata import EntryPoint

import pytest

from toree_magics import (
    BUILTIN_MAGICS,
    MagicConflict,
    MagicError,
    MagicRegistry,
    UsageError,
    default_registry,
    magic,
)

TOREE_MAGICS = {
    "%LsMagic", "%AddJar", "%AddDeps", "%ShowTypes", "%Truncation", "%ShowOutput",
    "%%DataFrame", "%%Html", "%%JavaScript", "%%SQL", "%%Scala", "%%PySpark",
}


def test_every_toree_magic_is_built_in() -> None:
    assert set(MagicRegistry(BUILTIN_MAGICS).names()) >= TOREE_MAGICS


def test_names_are_case_insensitive_and_aliases_work() -> None:
    registry = MagicRegistry(BUILTIN_MAGICS)
    assert registry.find("addjar", cell=False) is registry.find("ADDJAR", cell=False) is registry.find("AddJar")
    assert registry.find("python", cell=True) is registry.find("PySpark", cell=True)


def test_unknown_names_get_suggestions_and_wrong_kind_is_explained() -> None:
    registry = MagicRegistry(BUILTIN_MAGICS)
    with pytest.raises(MagicError, match=r"%AddJr is not a magic\. Did you mean %AddJar\?"):
        registry.find("AddJr", cell=False)
    with pytest.raises(MagicError, match="cell magic: put %%SQL on the first line"):
        registry.find("SQL", cell=False)


def test_bad_arguments_give_usage() -> None:
    add_jar = MagicRegistry(BUILTIN_MAGICS).find("AddJar")
    with pytest.raises(UsageError, match=r"(?s)required: url.*usage: %AddJar"):
        add_jar.parse("")
    with pytest.raises(UsageError, match="No closing quotation"):
        add_jar.parse("'unterminated")


@magic("Hello", "line", "a test magic")
def _hello(ctx, args, body):
    return None


def test_the_installed_example_plugin_is_found() -> None:
    registry = default_registry()
    assert registry.find("Hello").origin == "toree-magic-hello"
    assert registry.find("Reverse", cell=True).kind == "cell"
    assert not registry.failures


def test_plugin_failures_are_recorded_and_the_rest_loads(tmp_path, monkeypatch) -> None:
    (tmp_path / "plugin_mods.py").write_text(
        textwrap.dedent(
            """
            from toree_magics import magic
            @magic("AddJar", "line", "claims a built-in name")
            def clash(ctx, args, body): return None
            @magic("Fine", "line", "loads")
            def fine(ctx, args, body): return None
            not_a_magic = 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        EntryPoint("broken", "no_such_module_anywhere:magic", "toree.magics"),
        EntryPoint("clash", "plugin_mods:clash", "toree.magics"),
        EntryPoint("wrong", "plugin_mods:not_a_magic", "toree.magics"),
        EntryPoint("fine", "plugin_mods:fine", "toree.magics"),
    ]
    registry = MagicRegistry(BUILTIN_MAGICS)
    registry.load_plugins(points)
    assert registry.find("Fine").summary == "loads"
    errors = {f.entry_point: f.error for f in registry.failures}
    assert "ModuleNotFoundError" in errors["broken"]
    assert "claimed twice: %AddJar from builtin and %AddJar from" in errors["clash"]
    assert "not a toree_magics.Magic" in errors["wrong"]
    assert registry.find("AddJar").origin == "builtin"
    sys.modules.pop("plugin_mods", None)


def test_direct_conflict_names_both() -> None:
    registry = MagicRegistry([_hello])
    with pytest.raises(MagicConflict, match="%Hello from builtin and %hello from builtin"):
        registry.add(magic("hello", "line", "again")(lambda ctx, args, body: None))
