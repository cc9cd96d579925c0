"""Cell file names for debuggers: each cell's code is compiled under a path made from a hash of its text.

The Jupyter debugger protocol (JupyterLab's debugger, ipykernel's ``debugInfo``) lets a client work out
that path on its own: the kernel announces the hash method (Murmur2), its seed, a prefix and a suffix,
and the client hashes a cell's text the same way. A breakpoint the client sets on that path stops in the
cell, and a frame the debugger reports in that path is shown in the cell. ``write`` puts the text there
too (``dumpCell``), so the debugger can read the source. Pure apart from ``write``: no IPython, no debugger.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import attrs

HASH_METHOD = "Murmur2"
HASH_SEED = 0xC70F6907  # the seed ipykernel announces: clients that hard-code it agree with us
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes, seed: int) -> int:
    """MurmurHash2 (32-bit, x86) of ``data``: what JupyterLab's debugger computes over a cell's UTF-8 text."""
    h = (seed ^ len(data)) & _MASK
    whole = len(data) & ~3
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[whole:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


@attrs.frozen
class CellFiles:
    """Where cells live for a debugger: ``<directory>/<murmur2 of the text><suffix>``."""

    directory: Path
    seed: int = HASH_SEED
    suffix: str = ".py"

    @classmethod
    def for_process(cls) -> CellFiles:
        """One directory per kernel process, under the system's temporary directory."""
        return cls(Path(tempfile.gettempdir()) / f"toree_{os.getpid()}")

    @property
    def prefix(self) -> str:
        """What a client puts before the hash (``debugInfo``'s ``tmpFilePrefix``)."""
        return str(self.directory) + os.sep

    def path(self, code: str) -> str:
        return f"{self.prefix}{murmur2(code.encode('utf-8'), self.seed)}{self.suffix}"

    def write(self, code: str) -> str:
        """Save the cell's text at its path (readable by this user only) and return the path."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path(code)
        Path(path).write_text(code, encoding="utf-8")
        return path
