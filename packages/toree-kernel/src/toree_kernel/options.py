"""Kernel options, read the way Apache Toree reads them so existing kernelspecs keep working.

Sources, later ones winning: command line, ``__TOREE_OPTS__`` (the installer's ``--toree_opts``),
``DEFAULT_INTERPRETER`` and ``TOREE_PROGRESS``. ``--remote URL`` (Spark Connect) is added to the Spark options. Spark options are spark-submit arguments from
``SPARK_OPTS`` followed by ``__TOREE_SPARK_OPTS__`` (the installer's ``--spark_opts``), so the
kernelspec's value wins.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
from collections.abc import Mapping, Sequence
from typing import NoReturn

import attrs

log = logging.getLogger(__name__)

INIT_MODES = ("eager", "lazy", "none")
_SWITCH = {"on": True, "off": False, "true": True, "false": False, "1": True, "0": False}


@attrs.frozen
class KernelOptions:
    connection_file: str | None
    default_interpreter: str = "PySpark"
    init_mode: str = "eager"
    spark_args: tuple[str, ...] = ()
    progress: bool = True  # live Spark job progress in cells (``--progress off`` / ``TOREE_PROGRESS=off``)
    ignored: tuple[str, ...] = ()  # Toree options we accept but do not implement (reported in the log)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # raise instead of exiting: callers decide
        raise ValueError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m toree_kernel", description="Toree kernel for Spark", add_help=False)
    p.add_argument("-f", "--profile", dest="connection_file")
    p.add_argument("--default-interpreter", dest="default_interpreter")
    p.add_argument("--spark-context-initialization-mode", dest="init_mode", choices=INIT_MODES)
    p.add_argument("--nosparkcontext", action="store_true")
    p.add_argument("--progress", dest="progress", type=str.lower, choices=("on", "off"))
    p.add_argument("--remote", metavar="URL")  # Spark Connect, e.g. sc://host:15002 (as spark-submit's --remote)
    return p


def parse_options(argv: Sequence[str], env: Mapping[str, str] | None = None) -> KernelOptions:
    """Parse kernel argv plus Toree's environment variables. Raises ValueError with a readable message."""
    env = os.environ if env is None else env
    parser = _parser()
    args, unknown = parser.parse_known_args(list(argv))
    toree_opts, toree_unknown = parser.parse_known_args(shlex.split(env.get("__TOREE_OPTS__", "")))

    def pick(name: str) -> object:
        return getattr(toree_opts, name) or getattr(args, name)

    init_mode = pick("init_mode") or "eager"
    if args.nosparkcontext or toree_opts.nosparkcontext:
        init_mode = "none"
    interpreter = env.get("DEFAULT_INTERPRETER") or pick("default_interpreter") or "PySpark"
    progress = env.get("TOREE_PROGRESS", "").strip().lower() or pick("progress") or "on"
    if progress not in _SWITCH:
        raise ValueError(f"TOREE_PROGRESS must be on or off, not {progress!r}")
    spark_args = shlex.split(env.get("SPARK_OPTS", "")) + shlex.split(env.get("__TOREE_SPARK_OPTS__", ""))
    if pick("remote"):  # the session manager reads it from the Spark options, like spark-submit does
        spark_args += ["--remote", str(pick("remote"))]
    ignored = tuple(unknown + toree_unknown)
    if ignored:
        log.warning("ignoring options this kernel does not implement: %s", " ".join(ignored))
    return KernelOptions(
        connection_file=pick("connection_file"),  # type: ignore[arg-type]
        default_interpreter=str(interpreter),
        init_mode=str(init_mode),
        spark_args=tuple(spark_args),
        progress=_SWITCH[str(progress)],
        ignored=ignored,
    )
