"""The DAP framing (sans-IO) and the cell file names a debugger client computes on its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toree_interpreters.python.cell_files import HASH_SEED, CellFiles, murmur2
from toree_kernel.dap import DapError, FrameReader, encode


def test_messages_come_out_whole_whatever_the_chunks() -> None:
    messages = [{"seq": 1, "type": "event", "event": "stopped"}, {"seq": 2, "type": "response", "body": {"é": "ü"}}]
    stream = b"".join(encode(m) for m in messages)
    for size in (1, 3, 7, len(stream)):
        reader = FrameReader()
        found = []
        for i in range(0, len(stream), size):
            found += reader.feed(stream[i : i + size])
        assert found == messages


def test_headers_are_read_case_insensitively_and_other_headers_ignored() -> None:
    body = json.dumps({"seq": 3}).encode()
    frame = b"Content-Type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    assert FrameReader().feed(frame) == [{"seq": 3}]


@pytest.mark.parametrize(
    "garbage",
    [b"Content-Length: x\r\n\r\n{}", b"Content-Length: 2\r\n\r\n[]", b"Content-Length: 3\r\n\r\n{x}", b"X" * 5000],
)
def test_what_is_not_dap_is_an_error(garbage: bytes) -> None:
    with pytest.raises(DapError):
        FrameReader().feed(garbage)


@given(st.text(max_size=200))
def test_cell_names_hash_as_ipykernel_and_jupyterlab_do(code: str) -> None:
    from ipykernel.compiler import murmur2_x86  # the reference a JupyterLab client agrees with

    assert murmur2(code.encode("utf-8"), HASH_SEED) == murmur2_x86(code, HASH_SEED)


def test_a_cell_is_saved_where_its_name_says(tmp_path: Path) -> None:
    files = CellFiles(tmp_path / "cells")
    path = files.write("x = 1\n")
    name = murmur2(b"x = 1\n", HASH_SEED)
    assert path == f"{tmp_path / 'cells'}/{name}.py"
    assert Path(path).read_text() == "x = 1\n" and files.prefix.endswith("/")
