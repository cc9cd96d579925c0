"""Start a kernel process without races: it binds free ports itself and writes them back.

The connection file we hand the kernel has ports 0; the kernel (ours, ipykernel) binds ports chosen
by the OS and rewrites the file. Nobody probes for a free port and hopes it stays free.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from .connection import CHANNELS, ConnectionInfo, read_connection_file, write_connection_file


def start_kernel(
    argv: list[str],
    *,
    connection_dir: str | os.PathLike[str] | None = None,
    ip: str = "127.0.0.1",
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 30,
) -> tuple[subprocess.Popen[bytes], ConnectionInfo, Path]:
    """Launch ``argv`` (with ``{connection_file}`` replaced); return the process, its ports and the file.

    The kernel runs in its own session (process group) with default SIGINT handling; its stderr goes
    to ``kernel-<pid>.log`` beside the connection file, quoted in the error if it dies on start-up.
    """
    directory = Path(connection_dir or tempfile.mkdtemp(prefix="toree-kernel-"))
    path = write_connection_file(ConnectionInfo(ip=ip), directory / f"kernel-{os.urandom(6).hex()}.json")
    log_path = path.with_suffix(".log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [arg.replace("{connection_file}", str(path)) for arg in argv],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"kernel exited with code {proc.returncode} during start-up:\n{tail}")
        try:
            info = read_connection_file(path)
        except (ValueError, OSError):  # being rewritten right now
            info = None
        if info is not None and all(info.port(channel) for channel in CHANNELS):
            return proc, info, path
        time.sleep(0.02)
    proc.kill()
    raise TimeoutError(f"kernel did not write its ports to {path} within {timeout} s: {argv}")
