"""Connection files: the JSON a launcher and a kernel share (transport, ip, five ports, key).

Ports may be 0 in a file we launch with: the kernel binds free ports itself and writes the
chosen ones back (no probe-then-bind race). Files are created with mode 0600 because the
key in them lets anyone who reads it run code in the kernel.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import attrs

from .codec import Signer

CHANNELS = ("shell", "iopub", "stdin", "control", "hb")
LOOPBACK = "127.0.0.1"


@attrs.frozen
class ConnectionInfo:
    ip: str = LOOPBACK
    transport: str = "tcp"
    shell_port: int = 0
    iopub_port: int = 0
    stdin_port: int = 0
    control_port: int = 0
    hb_port: int = 0
    key: str = attrs.field(factory=lambda: secrets.token_hex(32))  # 256 random bits
    signature_scheme: str = "hmac-sha256"
    kernel_name: str = ""

    def port(self, channel: str) -> int:
        return getattr(self, f"{channel}_port")

    def url(self, channel: str) -> str:
        """The zmq endpoint of ``channel`` (port 0 means 'not bound yet')."""
        if self.transport == "ipc":
            return f"ipc://{self.ip}-{self.port(channel)}"
        return f"{self.transport}://{self.ip}:{self.port(channel)}"

    def signer(self) -> Signer:
        return Signer(self.key.encode("utf-8"), self.signature_scheme)

    def with_ports(self, **ports: int) -> ConnectionInfo:
        changes: dict[str, Any] = {f"{name}_port": value for name, value in ports.items()}
        return attrs.evolve(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConnectionInfo:
        known = {f.name for f in attrs.fields(cls)}
        missing = {"ip", "key"} - data.keys()
        if missing and "shell_port" not in data:
            raise ValueError(f"not a connection file: missing {sorted(missing)}")
        values = {k: v for k, v in data.items() if k in known}
        for name in CHANNELS:
            values[f"{name}_port"] = int(values.get(f"{name}_port", 0))
        if isinstance(values.get("key"), bytes):
            values["key"] = values["key"].decode()
        return cls(**values)


def read_connection_file(path: str | os.PathLike[str]) -> ConnectionInfo:
    with open(path, encoding="utf-8") as fh:
        try:
            data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return ConnectionInfo.from_dict(data)


def write_connection_file(info: ConnectionInfo, path: str | os.PathLike[str]) -> Path:
    """Write atomically with mode 0600 (the file holds the signing key)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(info.to_dict(), fh, indent=2)
    os.replace(tmp, path)
    return path
