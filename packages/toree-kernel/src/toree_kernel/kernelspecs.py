"""Kernelspecs for the Toree kernel, named and laid out like Apache Toree's so existing setups keep working.

One spec per interpreter: directory ``apache_toree_pyspark`` (kernel name lowercased, spaces to ``_``,
then ``_<interpreter>``), display name "Apache Toree - PySpark". Settings travel in the spec's
``env`` exactly as Toree's installer writes them (``DEFAULT_INTERPRETER``, ``__TOREE_SPARK_OPTS__``,
``__TOREE_OPTS__``, ``SPARK_HOME``). Where specs go (--user/--prefix/system) is jupyter_client's rule.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import re
import shutil
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_core.paths import SYSTEM_JUPYTER_PATH

from . import __version__
from .debug_support import debugpy_available

DEFAULT_KERNEL_NAME = "Apache Toree"
DEFAULT_INTERPRETER = "PySpark"
POOL_PROVISIONER = "toree-warm-pool"  # the entry point (group jupyter_client.kernel_provisioners)
# jupyter_client's install warnings go here, quietly: our CLI prints its own, clearer notes
_jupyter_log = logging.getLogger(f"{__name__}.jupyter_client")
_jupyter_log.setLevel(logging.ERROR)


@dataclass(frozen=True)
class InterpreterInfo:
    """What a kernelspec says about an interpreter. kernel_info_reply's ``language_info`` (mimetype, file
    extension, highlighting) comes from the running interpreter, ``toree_interpreters``' ``language_info``."""

    name: str  # canonical spelling, as in DEFAULT_INTERPRETER and the display name
    language: str  # kernel.json's "language": the interpreter's language_info name


# The interpreters this version can install. Adding one is one line.
_SHIPPED = (
    InterpreterInfo("PySpark", "python"),
    InterpreterInfo("Scala", "scala"),
    InterpreterInfo("SQL", "sql"),
    InterpreterInfo("SparkR", "R"),
)
INTERPRETERS: dict[str, InterpreterInfo] = {
    info.name.lower(): info for info in _SHIPPED
}  # by lowercased name


class InstallError(ValueError):
    """A user mistake in what to install (unknown interpreter, unusable name); the message explains it."""


def available() -> list[str]:
    return [info.name for info in INTERPRETERS.values()]


def get_interpreter(name: str) -> InterpreterInfo:
    """The registry entry for ``name`` (case-insensitive); InstallError naming the choices otherwise."""
    info = INTERPRETERS.get(name.strip().lower())
    if info is not None:
        return info
    raise InstallError(f"unknown interpreter {name.strip()!r}; available: {', '.join(available())}")


def parse_interpreters(text: str) -> list[InterpreterInfo]:
    """Toree's ``--interpreters`` value: comma separated, case-insensitive, duplicates dropped."""
    names = [part for part in (p.strip() for p in text.split(",")) if part]
    if not names:
        raise InstallError(f"no interpreter given; available: {', '.join(available())}")
    result: list[InterpreterInfo] = []
    for name in names:
        info = get_interpreter(name)
        if info not in result:
            result.append(info)
    return result


_VALID_NAME = re.compile(r"^[a-z0-9._-]+$")  # what jupyter_client accepts as a kernel directory name


def name_prefix(kernel_name: str) -> str:
    """``"Apache Toree"`` -> ``"apache_toree"``; InstallError if Jupyter could not use the result."""
    prefix = kernel_name.strip().lower().replace(" ", "_")
    if not _VALID_NAME.match(prefix):
        raise InstallError(
            f"kernel name {kernel_name!r} gives the directory name {prefix!r}, but Jupyter kernel names may "
            "only hold ASCII letters, digits, spaces (turned into '_'), '.', '_' and '-'"
        )
    return prefix


def spec_dir_name(kernel_name: str, interpreter: str) -> str:
    return f"{name_prefix(kernel_name)}_{get_interpreter(interpreter).name.lower()}"


def display_name(kernel_name: str, interpreter: str) -> str:
    return f"{kernel_name.strip()} - {get_interpreter(interpreter).name}"


def build_kernel_json(
    interpreter: str = DEFAULT_INTERPRETER,
    *,
    kernel_name: str = DEFAULT_KERNEL_NAME,
    spark_home: str | os.PathLike[str] | None = None,
    spark_opts: str = "",
    toree_opts: str = "",
    python_exec: str | None = None,
    debugger: bool = False,
    warm_pool: int = 0,
) -> dict[str, Any]:
    """The kernel.json content for one interpreter (pure: touches no files). ``debugger``: JupyterLab
    offers its debugger for kernels whose spec says so (only the PySpark kernel has one). ``warm_pool``
    > 0 names our kernel provisioner, which keeps that many kernels warm (``toree_kernel.provisioner``)."""
    info = get_interpreter(interpreter)
    name_prefix(kernel_name)  # validate early
    env = {
        "DEFAULT_INTERPRETER": info.name,
        "__TOREE_SPARK_OPTS__": spark_opts,
        "__TOREE_OPTS__": toree_opts,
    }
    if spark_home:
        # absolute: a relative path would be resolved against each notebook's directory at launch
        env["SPARK_HOME"] = os.path.abspath(os.path.expanduser(os.fspath(spark_home)))
    metadata: dict[str, Any] = {"toree": {"interpreter": info.name, "version": __version__}}
    if debugger and info.name == "PySpark":
        metadata["debugger"] = True
    if warm_pool > 0:
        metadata["kernel_provisioner"] = {"provisioner_name": POOL_PROVISIONER, "config": {"pool_size": warm_pool}}
    return {
        "argv": [_python(python_exec), "-m", "toree_kernel", "--profile", "{connection_file}"],
        "display_name": display_name(kernel_name, info.name),
        "language": info.language,
        "interrupt_mode": "signal",
        "env": env,
        "metadata": metadata,
    }


def _python(python_exec: str | None) -> str:
    if not python_exec:
        return sys.executable
    if os.sep in python_exec or (os.altsep and os.altsep in python_exec):
        return os.path.abspath(os.path.expanduser(python_exec))
    return python_exec  # a bare name is looked up on PATH when the kernel starts, as Toree's "python"


# Where specs live --------------------------------------------------------------------------------------


def _manager() -> KernelSpecManager:
    return KernelSpecManager(log=_jupyter_log)


def kernels_dir(*, user: bool = False, prefix: str | os.PathLike[str] | None = None) -> Path:
    """The directory ``install`` writes into for these flags (jupyter_client's rule)."""
    if user and prefix:
        raise InstallError("--user and --prefix/--sys-prefix cannot be combined; choose one")
    if user:
        return Path(_manager().user_kernel_dir)
    if prefix:
        return Path(os.path.abspath(prefix), "share", "jupyter", "kernels")
    return Path(SYSTEM_JUPYTER_PATH[0], "kernels")


def search_path() -> list[Path]:
    """Jupyter's kernelspec search path, first wins (honours JUPYTER_PATH / JUPYTER_DATA_DIR)."""
    return [Path(d) for d in _manager().kernel_dirs]


@dataclass(frozen=True)
class Installed:
    name: str
    path: Path
    interpreter: str
    replaced: bool = False
    on_search_path: bool = True


def install(
    interpreter: str = DEFAULT_INTERPRETER,
    *,
    kernel_name: str = DEFAULT_KERNEL_NAME,
    spark_home: str | os.PathLike[str] | None = None,
    spark_opts: str = "",
    toree_opts: str = "",
    python_exec: str | None = None,
    warm_pool: int = 0,
    user: bool = False,
    prefix: str | os.PathLike[str] | None = None,
) -> Installed:
    """Write the spec (kernel.json + logos). An existing spec of that name is replaced, as jupyter_client does.

    Raises InstallError for bad arguments and OSError when the location is not writable.
    """
    spec = build_kernel_json(
        interpreter,
        kernel_name=kernel_name,
        spark_home=spark_home,
        spark_opts=spark_opts,
        toree_opts=toree_opts,
        python_exec=python_exec,
        debugger=debugpy_available(),  # what the kernel's debugger needs
        warm_pool=warm_pool,
    )
    name = spec_dir_name(kernel_name, interpreter)
    target_dir = kernels_dir(user=user, prefix=prefix)
    replaced = (target_dir / name).is_dir()
    with tempfile.TemporaryDirectory(prefix="toree-kernelspec-") as staging:
        staged = Path(staging, name)
        staged.mkdir()
        (staged / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        write_logos(staged)
        destination = _manager().install_kernel_spec(
            str(staged), kernel_name=name, user=user, prefix=os.fspath(prefix) if prefix else None
        )
    on_path = any(_same_dir(target_dir, d) for d in search_path())
    return Installed(name, Path(destination), spec["env"]["DEFAULT_INTERPRETER"], replaced, on_path)


def _same_dir(a: Path, b: Path) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


@dataclass(frozen=True)
class FoundSpec:
    name: str
    path: Path
    interpreter: str
    display_name: str
    ours: bool  # launched through toree_kernel (False: Apache Toree's JVM kernel)


def read_toree_spec(spec_dir: Path) -> FoundSpec | None:
    """The spec in ``spec_dir`` if it is a Toree one (ours or Apache Toree's), else None."""
    try:
        data = json.loads((spec_dir / "kernel.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    argv = [str(a) for a in data.get("argv") or []]
    raw_env, raw_meta = data.get("env"), data.get("metadata")
    env: dict[str, Any] = raw_env if isinstance(raw_env, dict) else {}
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    raw_toree = meta.get("toree")
    toree_meta: dict[str, Any] = raw_toree if isinstance(raw_toree, dict) else {}
    ours = any(a == "-m" and b == "toree_kernel" for a, b in itertools.pairwise(argv))
    if not (ours or toree_meta or "__TOREE_OPTS__" in env or "__TOREE_SPARK_OPTS__" in env):
        return None
    interpreter = str(toree_meta.get("interpreter") or env.get("DEFAULT_INTERPRETER") or "Scala")
    return FoundSpec(spec_dir.name, spec_dir, interpreter, str(data.get("display_name", "")), ours)


def find_specs(dirs: Iterable[Path]) -> list[FoundSpec]:
    """Toree specs in these kernel directories, in order (a name may appear in several)."""
    found: list[FoundSpec] = []
    for kernels in dirs:
        try:
            children = sorted(p for p in Path(kernels).iterdir() if p.is_dir())
        except OSError:
            continue
        found.extend(spec for spec in map(read_toree_spec, children) if spec is not None)
    return found


def matches(spec: FoundSpec, kernel_name: str, interpreters: Sequence[InterpreterInfo] | None = None) -> bool:
    """Is ``spec`` the one ``kernel_name`` (restricted to ``interpreters`` if given) would have installed?"""
    interpreter = spec.interpreter.lower()
    if interpreters and interpreter not in {i.name.lower() for i in interpreters}:
        return False
    return spec.name == f"{name_prefix(kernel_name)}_{interpreter}"


def remove(spec: FoundSpec) -> None:
    shutil.rmtree(spec.path)


# Logos: drawn here so the package needs no binary files or image library --------------------------------

_ORANGE = (226, 90, 28)  # Spark's orange


def write_logos(directory: Path) -> None:
    for size in (32, 64):
        (directory / f"logo-{size}x{size}.png").write_bytes(logo_png(size))
    (directory / "logo-svg.svg").write_text(LOGO_SVG, encoding="utf-8")


LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64">'
    '<circle cx="32" cy="32" r="30" fill="#e25a1c"/>'
    '<path d="M17 18h30v8H36v22h-8V26H17z" fill="#fff"/></svg>\n'
)


def logo_png(size: int) -> bytes:
    """An orange disc with a white "T" (the SVG above), as an RGBA PNG, 4x4-supersampled edges."""
    scale = size / 64
    samples = 4
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            disc = letter = 0
            for sy in range(samples):
                for sx in range(samples):
                    px = (x + (sx + 0.5) / samples) / scale
                    py = (y + (sy + 0.5) / samples) / scale
                    if math.hypot(px - 32, py - 32) <= 30:
                        disc += 1
                        if (17 <= px <= 47 and 18 <= py <= 26) or (28 <= px <= 36 and 26 <= py <= 48):
                            letter += 1
            total = samples * samples
            white = letter / disc if disc else 0.0
            rgb = (round(c + (255 - c) * white) for c in _ORANGE)
            rows.extend((*rgb, round(255 * disc / total)))
    return _png(size, size, bytes(rows))


def _png(width: int, height: int, raw_rgba_rows: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw_rgba_rows, 9))
        + chunk(b"IEND", b"")
    )
