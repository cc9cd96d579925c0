"""``toree`` / ``jupyter toree``: install, uninstall and list the kernelspecs, with Apache Toree's flag spellings.

Exit codes: 0 done, 1 could not do it (no suitable Java, location not writable, nothing to remove),
2 usage error (unknown flag or interpreter, unusable kernel name). A user mistake never shows a traceback.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from toree_interpreters.spark import class_sharing
from toree_interpreters.spark import java as javacheck

from . import kernelspecs as ks
from .cli_parser import build_parser, prog_name


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version (0) or a usage error already printed (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(_COMMANDS[args.command](args))
    except ks.InstallError as exc:
        _error(parser.prog, str(exc))
        return 2
    except KeyboardInterrupt:
        return 130


def _error(prog: str, message: str) -> None:
    print(f"{prog}: error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _location(args: argparse.Namespace) -> tuple[bool, str | None]:
    if args.sys_prefix:
        return False, sys.prefix
    return bool(args.user), args.prefix


def _install(args: argparse.Namespace) -> int:
    prog = prog_name()
    interpreters = ks.parse_interpreters(args.interpreters)
    for info in interpreters:  # check every name before touching anything
        ks.spec_dir_name(args.kernel_name, info.name)
    user, prefix = _location(args)
    ks.kernels_dir(user=user, prefix=prefix)

    spark_opts = args.spark_opts
    if args.remote:
        spark_opts = f"{spark_opts} --remote {shlex.quote(args.remote)}".strip()
    minimum = javacheck.required_java(args.spark_home)
    java_ok = False
    try:
        found = javacheck.check_java(minimum)
        print(f"Java {found.version_string} at {found.path} (the kernel needs {minimum}+)")
        java_ok = True
    except javacheck.JavaError as exc:
        if args.remote:  # a Spark Connect client runs no JVM of its own
            _warn(
                f"{exc}\n(fine with --remote: Spark runs on the Connect server; Scala cells need a local JVM)"
            )
        elif not args.force:
            _error(prog, f"{exc}\n(use --force to install the kernelspec anyway)")
            return 1
        else:
            _warn(f"{exc}\n(installing anyway because of --force; the kernel cannot start Spark without it)")

    if args.spark_home and not Path(args.spark_home).expanduser().is_dir():
        _warn(
            f"--spark_home {args.spark_home} is not a directory; the kernel will fail unless it exists at run time"
        )
    if args.python_exec and not _runnable(args.python_exec):
        _warn(f"--python_exec {args.python_exec} is not an executable (or not on PATH) here")

    for info in interpreters:
        try:
            done = ks.install(
                info.name,
                kernel_name=args.kernel_name,
                spark_home=args.spark_home,
                spark_opts=spark_opts,
                toree_opts=args.toree_opts,
                python_exec=args.python_exec,
                warm_pool=args.warm_pool,
                user=user,
                prefix=prefix,
            )
        except OSError as exc:
            target = ks.kernels_dir(user=user, prefix=prefix)
            hint = "" if user else " (try --user, --sys-prefix or --prefix=PATH)"
            _error(prog, f"cannot write the {info.name} kernelspec into {target}: {exc}{hint}")
            return 1
        replaced = " (replaced the existing one)" if done.replaced else ""
        print(
            f"Installed kernelspec {done.name} ('{ks.display_name(args.kernel_name, info.name)}') in {done.path}{replaced}"
        )
        if not done.on_search_path:
            share = done.path.parent.parent
            print(
                f"  note: {done.path.parent} is not on Jupyter's search path; use JUPYTER_PATH={share} to see it"
            )
    if java_ok and not args.remote and args.class_sharing and class_sharing.enabled():
        _prepare_class_sharing(args, spark_opts)
    return 0


def _prepare_class_sharing(args: argparse.Namespace, spark_opts: str) -> None:
    """Build the driver JVM's class-data-sharing archive with the kernel's Python and Spark (once; cached)."""
    python = args.python_exec or sys.executable
    env = dict(os.environ)
    if args.spark_home:
        env["SPARK_HOME"] = str(Path(args.spark_home).expanduser())
    print(
        "Preparing the class-data-sharing archive of Spark's classes (faster kernel starts; "
        "once per Java and Spark install, skip with --no-class-sharing) ...",
        flush=True,
    )
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [python, "-m", "toree_interpreters.archive_builder", "build", *shlex.split(spark_opts)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    except (OSError, ValueError) as exc:  # ValueError: unbalanced quotes in --spark_opts
        _warn(f"could not prepare the class-data-sharing archive ({exc}); kernels start without it")
        return
    printed = proc.stdout.strip().splitlines()  # the last line is the path
    if proc.returncode != 0 or not printed:
        reason = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        _warn(f"could not prepare the class-data-sharing archive ({reason}); kernels start without it")
        return
    path = Path(printed[-1])
    size = path.stat().st_size / 1e6 if path.is_file() else 0
    print(f"  {path} ({size:.0f} MB, {time.perf_counter() - started:.0f} s)")


def _runnable(python_exec: str) -> bool:
    return shutil.which(os.path.expanduser(python_exec)) is not None


def _uninstall(args: argparse.Namespace) -> int:
    prog = prog_name()
    ks.name_prefix(args.kernel_name)
    only = ks.parse_interpreters(args.interpreters) if args.interpreters else None
    user, prefix = _location(args)
    where = ks.kernels_dir(user=user, prefix=prefix)
    candidates = [s for s in ks.find_specs([where]) if ks.matches(s, args.kernel_name, only)]
    removed = 0
    for spec in candidates:
        if not spec.ours:
            print(
                f"Skipped {spec.name} in {spec.path}: it is Apache Toree's (JVM) kernelspec, not this package's; "
                f"remove it with `jupyter kernelspec uninstall {spec.name}`"
            )
            continue
        try:
            ks.remove(spec)
        except OSError as exc:
            _error(prog, f"cannot remove {spec.path}: {exc}")
            return 1
        removed += 1
        print(f"Removed kernelspec {spec.name} from {spec.path}")
    if removed:
        return 0
    pattern = f"{ks.name_prefix(args.kernel_name)}_*"
    _error(prog, f"no toree-kernel kernelspec named {pattern} in {where}")
    elsewhere = [
        s
        for s in ks.find_specs(ks.search_path())
        if s.ours and ks.matches(s, args.kernel_name, only) and s.path.parent != where
    ]
    for spec in elsewhere:
        print(
            f"  found {spec.name} in {spec.path.parent}; pick that location with --user/--prefix/--sys-prefix",
            file=sys.stderr,
        )
    return 1


def _list(args: argparse.Namespace) -> int:
    user, prefix = _location(args)
    explicit = user or prefix is not None
    dirs = [ks.kernels_dir(user=user, prefix=prefix)] if explicit else ks.search_path()
    specs = ks.find_specs(dirs)
    if not specs:
        print(f"No Toree kernelspecs in {', '.join(map(str, dirs))}")
        return 0
    seen: set[str] = set()
    rows = [("NAME", "INTERPRETER", "KERNEL", "PATH")]
    for spec in specs:
        kind = "toree-kernel" if spec.ours else "Apache Toree"
        shadowed = " (shadowed)" if spec.name in seen else ""
        seen.add(spec.name)
        rows.append((spec.name, spec.interpreter, kind, f"{spec.path}{shadowed}"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[3])
    return 0


_COMMANDS = {"install": _install, "uninstall": _uninstall, "list": _list}

if __name__ == "__main__":
    raise SystemExit(main())
