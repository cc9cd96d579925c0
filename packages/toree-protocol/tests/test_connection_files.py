"""Connection files: safe to write (0600, loopback, 256-bit key) and compatible with jupyter_client's."""

from __future__ import annotations

import json
import os
import stat

import pytest
from jupyter_client.connect import write_connection_file as jc_write

from toree_protocol import ConnectionInfo, read_connection_file, write_connection_file


def test_written_file_is_private_and_complete(tmp_path) -> None:
    info = ConnectionInfo(shell_port=5001, iopub_port=5002, stdin_port=5003, control_port=5004, hb_port=5005)
    path = write_connection_file(info, tmp_path / "kernel.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["ip"] == "127.0.0.1"
    assert data["transport"] == "tcp"
    assert data["signature_scheme"] == "hmac-sha256"
    assert {data[f"{c}_port"] for c in ("shell", "iopub", "stdin", "control", "hb")} == set(range(5001, 5006))
    assert read_connection_file(path) == info


def test_keys_are_256_random_bits() -> None:
    a, b = ConnectionInfo(), ConnectionInfo()
    assert len(a.key) == 64 and len(bytes.fromhex(a.key)) == 32  # 64 hex digits: 32 bytes, 256 bits
    assert a.key != b.key


def test_reads_jupyter_client_files(tmp_path) -> None:
    fname, cfg = jc_write(str(tmp_path / "jc.json"), key=b"abc", kernel_name="python3")
    info = read_connection_file(fname)
    assert info.key == "abc"
    assert info.shell_port == cfg["shell_port"]
    assert info.kernel_name == "python3"
    assert info.url("shell") == f"tcp://127.0.0.1:{cfg['shell_port']}"
    assert info.signer().sign([b"x"]) != b""


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"transport": "tcp"}'])
def test_garbage_is_a_clear_value_error(tmp_path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"JSON|connection file"):
        read_connection_file(path)


def test_rewriting_keeps_mode_and_replaces_atomically(tmp_path) -> None:
    path = tmp_path / "k.json"
    write_connection_file(ConnectionInfo(), path)
    updated = ConnectionInfo().with_ports(shell=7000)
    write_connection_file(updated, path)
    assert read_connection_file(path).shell_port == 7000
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]  # no temp files left behind
