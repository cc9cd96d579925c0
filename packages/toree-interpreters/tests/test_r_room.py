"""The R room's parts that need neither R nor Spark: the socket protocol, the column layout, no R."""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa
import pytest
from interp_support import CollectingSink

from toree_interpreters.r import RInterpreter, columns, wire
from toree_interpreters.spark.session import SparkSessionManager


def r_frame(header: str, payload: bytes = b"") -> bytes:
    body = header.encode()
    return b"\x00" + struct.pack("<I", len(body)) + body + struct.pack("<I", len(payload)) + payload


def test_text_and_frames_keep_their_order_however_the_bytes_are_cut() -> None:
    stream = "héllo\n".encode() + r_frame('{"type": "display"}', b"\x00\x01") + b"after" + r_frame('{"type": "done"}')
    for cut in range(1, len(stream)):
        parser = wire.StreamParser()
        items = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        texts = "".join(i.text for i in items if isinstance(i, wire.Text))
        frames = [i for i in items if isinstance(i, wire.Frame)]
        assert texts == "héllo\nafter", cut
        assert [f.header["type"] for f in frames] == ["display", "done"] and frames[0].payload == b"\x00\x01"
        kinds = [type(i).__name__ for i in items]
        assert kinds.index("Frame") > 0 and kinds[-1] == "Frame"


def test_frames_to_r_are_length_prefixed() -> None:
    encoded = wire.encode({"type": "execute", "code": "x <- 'é'"}, b"abc")
    (size,) = struct.unpack_from("<I", encoded)
    assert encoded[4 : 4 + size].decode() == '{"type": "execute", "code": "x <- \'é\'"}'
    assert encoded[4 + size :] == struct.pack("<I", 3) + b"abc"


def test_columns_cross_with_nulls_as_r_na() -> None:
    table = pa.table(
        {
            "i": pa.array([1, None, -3], pa.int32()),
            "d": pa.array([1.5, None, float("nan")]),
            "s": pa.array(["a", None, "é\x00z"]),
            "l": pa.array([True, None, False]),
            "dt": pa.array([0, None, 18000], pa.date32()),
            "ts": pa.array([1_600_000_000_000_000, None, 0], pa.timestamp("us", tz="UTC")),
        }
    )
    specs, payload = columns.to_r(table)
    assert [(s["type"], s["na"]) for s in specs] == [
        ("integer", False), ("double", False), ("character", True), ("logical", False), ("Date", False), ("POSIXct", False)
    ]
    back = columns.from_r(specs, 3, payload)
    assert back.column("i").to_pylist() == [1, None, -3]
    d = back.column("d").to_pylist()
    assert d[:2] == [1.5, None] and np.isnan(d[2])  # NaN stays NaN, null is R's NA
    assert back.column("s").to_pylist() == ["a", None, "é\ufffdz"]  # R strings cannot hold NUL
    assert back.column("l").to_pylist() == [True, None, False]
    assert back.column("dt").to_pylist() == table.column("dt").to_pylist()
    assert back.column("ts").to_pylist() == table.column("ts").to_pylist()


def test_spark_types_map_to_r_types_as_sparkr_maps_them() -> None:
    table = pa.table({"b": pa.array([1], pa.int8()), "l": pa.array([2**40]), "f": pa.array([0.5], pa.float32()),
                      "a": pa.array([[1, 2]])})
    specs, _ = columns.to_r(table)
    assert [s["type"] for s in specs] == ["integer", "double", "double", "character"]


def test_without_r_an_r_cell_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("TOREE_R", str(tmp_path / "no-such-R"))
    r = RInterpreter(SparkSessionManager(["--master", "local[1]"], init_mode="none"))
    try:
        outcome = r.execute("1 + 1", CollectingSink())
        assert outcome.error is not None and outcome.error.ename == "RUnavailable"
        assert "apt-get install r-base-core r-cran-repr" in outcome.error.evalue
        assert r.complete("zi", 2).matches == [] and r.is_complete("1 +").status == "unknown"
    finally:
        r.shutdown()
