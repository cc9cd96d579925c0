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
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from toree_interpreters.spark import class_sharing
from toree_interpreters.spark import java as javacheck

from . import __version__
from . import kernelspecs as ks

EXAMPLES = """\
examples:
  {prog} install --user
  {prog} install --sys-prefix --spark_opts='--master=local[4] --conf spark.ui.enabled=false'
  {prog} install --prefix=/opt/jupyter --kernel_name='My Spark' --spark_home=/opt/spark
  {prog} install --toree_opts='--spark-context-initialization-mode lazy' --replace
  {prog} list
  {prog} uninstall --user
"""


class _Parser(argparse.ArgumentParser):
    """Adds the hint argparse cannot give: option values that start with '-' need the '=' form."""

    def error(self, message: str) -> NoReturn:
        if "expected one argument" in message:
            message += " (a value that starts with '-' must be attached with '=', e.g. --spark_opts='--master=local[2]')"
        super().error(message)


class _Formatter(argparse.HelpFormatter):
    """Never wrap inside an option like ``--master=local[4]``; keep multi-line text (examples) as written."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return textwrap.fill(
            " ".join(text.split()),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        )


def _prog() -> str:
    name = os.path.basename(sys.argv[0] or "")
    return "jupyter toree" if name.startswith("jupyter-toree") else "toree"


def _add_location(
    parser: argparse.ArgumentParser, verb: str, default: str = "the system-wide Jupyter directory"
) -> None:
    where = parser.add_argument_group(f"where (default: {default})")
    group = where.add_mutually_exclusive_group()
    group.add_argument(
        "--user", action="store_true", help=f"{verb} the current user's Jupyter data directory"
    )
    group.add_argument("--prefix", metavar="PATH", help=f"{verb} PATH/share/jupyter/kernels")
    group.add_argument(
        "--sys-prefix",
        "--sys_prefix",
        dest="sys_prefix",
        action="store_true",
        help=f"{verb} this Python environment ({sys.prefix})",
    )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    prog = prog or _prog()
    parser = _Parser(
        prog=prog,
        description="Install and manage the Jupyter kernelspecs of the Toree kernel for Spark "
        "(flags as Apache Toree's `jupyter toree install`).",
        epilog=EXAMPLES.format(prog=prog),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"toree-kernel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{install,uninstall,list}", parser_class=_Parser)

    install = commands.add_parser(
        "install",
        formatter_class=_Formatter,
        help="install kernelspecs",
        description="Install one kernelspec per interpreter, e.g. apache_toree_pyspark "
        "('Apache Toree - PySpark'). An existing spec of the same name is replaced.",
    )
    install.add_argument(
        "--interpreters",
        default=ks.DEFAULT_INTERPRETER,
        metavar="NAMES",
        help=f"comma-separated, case-insensitive (available: {', '.join(ks.available())}; "
        f"default: {ks.DEFAULT_INTERPRETER})",
    )
    install.add_argument(
        "--kernel_name",
        "--kernel-name",
        dest="kernel_name",
        default=ks.DEFAULT_KERNEL_NAME,
        metavar="NAME",
        help="base of the spec and display names (default: %(default)r)",
    )
    install.add_argument(
        "--spark_home",
        "--spark-home",
        dest="spark_home",
        metavar="PATH",
        help="set SPARK_HOME for the kernel",
    )
    install.add_argument(
        "--spark_opts",
        "--spark-opts",
        dest="spark_opts",
        default="",
        metavar="OPTS",
        help="spark-submit options, e.g. --spark_opts='--master=local[4]' (stored as __TOREE_SPARK_OPTS__)",
    )
    install.add_argument(
        "--remote",
        metavar="URL",
        help="use a Spark Connect server, e.g. --remote=sc://host:15002 (added to the Spark options; "
        "the SPARK_REMOTE environment variable works too)",
    )
    install.add_argument(
        "--toree_opts",
        "--toree-opts",
        dest="toree_opts",
        default="",
        metavar="OPTS",
        help="kernel options, e.g. --toree_opts='--spark-context-initialization-mode lazy' "
        "(stored as __TOREE_OPTS__)",
    )
    install.add_argument(
        "--python_exec",
        "--python-exec",
        "--python",
        dest="python_exec",
        metavar="PYTHON",
        help=f"the Python that runs the kernel (default: this one, {sys.executable})",
    )
    _add_location(install, "install into")
    install.add_argument(
        "--replace",
        action="store_true",
        help="accepted for Apache Toree compatibility: specs are always replaced",
    )
    install.add_argument(
        "--force", action="store_true", help="install even if no suitable Java is found (warns instead)"
    )
    install.add_argument(
        "--no-class-sharing",
        "--no_class_sharing",
        dest="class_sharing",
        action="store_false",
        help="do not prepare the class-data-sharing archive that makes Spark start seconds faster "
        "(built once per Java and Spark install, about a minute; TOREE_CLASS_SHARING=off also skips it)",
    )
    install.set_defaults(run=_install)

    uninstall = commands.add_parser(
        "uninstall",
        formatter_class=_Formatter,
        help="remove kernelspecs installed by this package",
        description="Remove this package's kernelspecs named after --kernel_name from one location. "
        "Apache Toree's own (JVM) specs are left alone.",
    )
    uninstall.add_argument(
        "--kernel_name",
        "--kernel-name",
        dest="kernel_name",
        default=ks.DEFAULT_KERNEL_NAME,
        metavar="NAME",
        help="the name given at install (default: %(default)r)",
    )
    uninstall.add_argument("--interpreters", metavar="NAMES", help="only these (default: all of them)")
    _add_location(uninstall, "remove from")
    uninstall.set_defaults(run=_uninstall)

    listing = commands.add_parser(
        "list",
        formatter_class=_Formatter,
        help="show installed Toree kernelspecs",
        description="Show Toree kernelspecs (this package's and Apache Toree's) on Jupyter's search path, "
        "or in one location if a location flag is given.",
    )
    _add_location(listing, "look in", "all of Jupyter's kernel search path")
    listing.set_defaults(run=_list)
    return parser


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
        return int(args.run(args))
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


def _location_flag(args: argparse.Namespace) -> str:
    if args.user:
        return " --user"
    if args.sys_prefix:
        return " --sys-prefix"
    return f" --prefix={args.prefix}" if args.prefix else ""


def _install(args: argparse.Namespace) -> int:
    prog = _prog()
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
        print(f"Java {found.version_string} at {found.path} (Spark needs {minimum}+)")
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
    prog = _prog()
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


if __name__ == "__main__":
    raise SystemExit(main())
