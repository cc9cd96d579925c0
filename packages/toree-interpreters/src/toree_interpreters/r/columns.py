"""Tables between Arrow (Spark's side) and R vectors, as binary columns R reads with ``readBin``.

Layout, column after column: ``integer``/``logical`` as int32 with R's NA (INT_MIN); ``double``,
``Date`` (days) and ``POSIXct`` (seconds) as float64 with R's NA bit pattern for null; ``character`` as
NUL-terminated UTF-8, followed by an int32 NA mask when the column has nulls. Types follow SparkR:
byte/short/int -> integer, bigint/float/double/decimal -> double, and back integer -> int,
double -> double. A column of any other Spark type (arrays, maps, structs, binary) reaches R as
character.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

R_NA_INT = np.int32(-(2**31))
R_NA_REAL_BITS = np.uint64(0x7FF00000000007A2)  # R's NA_real_: a NaN whose low word is 1954

Spec = dict[str, Any]


def to_r(table: pa.Table) -> tuple[list[Spec], bytes]:
    """The columns' specs (name, R type, has NAs) and the payload for R."""
    specs: list[Spec] = []
    parts: list[bytes] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        kind, data, mask = _column_to_r(field.type, array)
        specs.append({"name": field.name, "type": kind, "na": mask is not None})
        parts.append(data)
        if mask is not None:
            parts.append(mask)
    return specs, b"".join(parts)


def _column_to_r(kind: pa.DataType, array: pa.Array) -> tuple[str, bytes, bytes | None]:
    nulls = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else None
    if pa.types.is_boolean(kind) or (pa.types.is_integer(kind) and kind.bit_width <= 32 and kind != pa.uint32()):
        values = array.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False).astype("<i4")
        if nulls is not None:
            values[nulls] = R_NA_INT
        return ("logical" if pa.types.is_boolean(kind) else "integer"), values.tobytes(), None
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "double", _doubles(array.cast(pa.float64()), nulls), None
    if pa.types.is_date(kind):
        return "Date", _doubles(array.cast(pa.date32()).cast(pa.int32()).cast(pa.float64()), nulls), None
    if pa.types.is_timestamp(kind):
        micros = array.cast(pa.timestamp("us", tz=kind.tz)).cast(pa.int64()).cast(pa.float64())
        return "POSIXct", _doubles(pc.divide(micros, 1e6), nulls), None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        texts = pc.replace_substring(array, "\x00", "\ufffd").fill_null("").to_pylist()
    else:
        texts = ["" if value is None else str(value) for value in array.to_pylist()]
    data = "\x00".join(texts).encode() + b"\x00" if texts else b""
    mask = nulls.astype("<i4").tobytes() if nulls is not None else None
    return "character", data, mask


def _doubles(array: pa.Array, nulls: np.ndarray | None) -> bytes:
    values = array.fill_null(0.0).to_numpy(zero_copy_only=False).astype("<f8")
    if nulls is not None:
        values.view("<u8")[nulls] = R_NA_REAL_BITS
    return values.tobytes()


def from_r(specs: list[Spec], rows: int, payload: bytes) -> pa.Table:
    """The table R sent (``createDataFrame``)."""
    arrays: list[pa.Array] = []
    at = 0
    for spec in specs:
        kind = spec["type"]
        if kind in ("integer", "logical"):
            values = np.frombuffer(payload, "<i4", rows, at)
            at += 4 * rows
            mask = values == R_NA_INT
            if kind == "logical":
                arrays.append(pa.array(values != 0, pa.bool_(), mask=mask))
            else:
                arrays.append(pa.array(values, pa.int32(), mask=mask))
        elif kind in ("double", "Date", "POSIXct"):
            values = np.frombuffer(payload, "<f8", rows, at)
            at += 8 * rows
            mask = np.isnan(values) & ((values.view("<u8") & np.uint64(0xFFFFFFFF)) == np.uint64(1954))
            arrays.append(_typed(kind, values, mask))
        elif kind == "character":
            parts = payload[at:].split(b"\x00", rows) if rows else [payload[at:]]
            texts = [part.decode("utf-8", "replace") for part in parts[:rows]]
            at += sum(len(part) + 1 for part in parts[:rows])
            mask = None
            if spec.get("na"):
                mask = np.frombuffer(payload, "<i4", rows, at) == 1
                at += 4 * rows
            arrays.append(pa.array(texts, pa.string(), mask=mask))
        else:
            raise ValueError(f"unknown R column type {kind!r}")
    return pa.table(arrays, names=[spec["name"] for spec in specs])


def _typed(kind: str, values: np.ndarray, mask: np.ndarray) -> pa.Array:
    if kind == "double":
        return pa.array(values, pa.float64(), mask=mask)
    clean = np.where(mask, 0.0, values)
    if kind == "Date":
        return pa.array(np.floor(clean).astype("<i4"), pa.date32(), mask=mask)
    return pa.array(np.round(clean * 1e6).astype("<i8"), pa.timestamp("us", tz="UTC"), mask=mask)
