"""A small Parquet writer for the prediction log: flat columns, one row group, no PyArrow.

PyArrow costs a server about 37 MiB of resident memory once imported, a fifth of a replica,
and the prediction log was its only user in the server process. The log's files are flat
tables of three kinds of column (UTF-8 strings, doubles, UTC timestamps in microseconds), so
this module writes them itself: ``PAR1``, one data page (v1, PLAIN values, RLE definition
levels) per column, GZIP-compressed with :mod:`zlib`, and the footer in Thrift's compact
protocol. Columns are OPTIONAL with every value present, as PyArrow writes them, so readers
(PyArrow, DuckDB, Spark, ``dataset build``) see the same schema as before; the timestamp
carries ``isAdjustedToUTC``, which PyArrow reads as ``timestamp[us, tz=UTC]``.
Format: https://github.com/apache/parquet-format (``parquet.thrift``).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Kind = Literal["string", "double", "timestamp_us"]

# parquet.thrift enums
_BYTE_ARRAY, _INT64, _DOUBLE = 6, 2, 5
_OPTIONAL = 1
_UTF8, _TIMESTAMP_MICROS = 0, 10
_PLAIN, _RLE = 0, 3
_GZIP = 2
_DATA_PAGE = 0
# Thrift compact protocol field types
_TRUE, _FALSE, _I32, _I64, _BINARY, _LIST, _STRUCT = 1, 2, 5, 6, 8, 9, 12

_U32 = struct.Struct("<I")
_PHYSICAL = {"string": _BYTE_ARRAY, "double": _DOUBLE, "timestamp_us": _INT64}

GZIP_LEVEL = 1
"""The fastest level: the writer shares one core with the requests, and random JSON floats
still shrink to about half (real inputs, with repeated values, further)."""


@dataclass(frozen=True)
class Column:
    """One column: strings (``str``), doubles (``float``) or UTC microseconds (``int``)."""

    name: str
    kind: Kind
    values: Sequence[str] | Sequence[float] | Sequence[int]


class _Compact:
    """Thrift's compact protocol, the few parts a Parquet footer uses."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._last = [0]

    def varint(self, n: int) -> None:
        while n > 0x7F:
            self.out.append((n & 0x7F) | 0x80)
            n >>= 7
        self.out.append(n)

    def _header(self, fid: int, ftype: int) -> None:
        delta = fid - self._last[-1]
        if 0 < delta <= 15:
            self.out.append(delta << 4 | ftype)
        else:  # the long form: a field id more than 15 past the previous one
            self.out.append(ftype)
            self.varint((fid << 1) ^ (fid >> 15))
        self._last[-1] = fid

    def i32(self, fid: int, n: int) -> None:
        self._header(fid, _I32)
        self.varint((n << 1) ^ (n >> 31))

    def i64(self, fid: int, n: int) -> None:
        self._header(fid, _I64)
        self.varint((n << 1) ^ (n >> 63))

    def boolean(self, fid: int, value: bool) -> None:
        self._header(fid, _TRUE if value else _FALSE)

    def binary(self, fid: int, data: bytes) -> None:
        self._header(fid, _BINARY)
        self.varint(len(data))
        self.out += data

    def begin(self, fid: int | None = None) -> None:
        """Open a struct: a field ``fid``, or (None) an element of a list of structs."""
        if fid is not None:
            self._header(fid, _STRUCT)
        self._last.append(0)

    def end(self) -> None:
        self.out.append(0)  # field stop
        self._last.pop()

    def list_header(self, fid: int, size: int, etype: int) -> None:
        self._header(fid, _LIST)
        if size < 15:
            self.out.append(size << 4 | etype)
        else:
            self.out.append(0xF0 | etype)
            self.varint(size)

    def i32_list(self, fid: int, values: Sequence[int]) -> None:
        self.list_header(fid, len(values), _I32)
        for n in values:
            self.varint((n << 1) ^ (n >> 31))

    def binary_list(self, fid: int, values: Sequence[bytes]) -> None:
        self.list_header(fid, len(values), _BINARY)
        for data in values:
            self.varint(len(data))
            self.out += data


def _plain(column: Column) -> bytes:
    if column.kind == "double":
        return np.asarray(column.values, dtype="<f8").tobytes()
    if column.kind == "timestamp_us":
        return np.asarray(column.values, dtype="<i8").tobytes()
    pieces: list[bytes] = []
    length = _U32.pack
    for value in column.values:  # PLAIN byte arrays: a 4-byte length, then the bytes
        data = str(value).encode()
        pieces.append(length(len(data)))
        pieces.append(data)
    return b"".join(pieces)


def _definition_levels(rows: int) -> bytes:
    # every value present: one RLE run of `rows` ones (bit width 1), after its byte length
    run = _Compact()
    run.varint(rows << 1)
    run.out.append(1)
    return _U32.pack(len(run.out)) + bytes(run.out)


def _page(column: Column, rows: int) -> tuple[bytes, int]:
    """A column's data page (header and compressed body) and its uncompressed size."""
    body = _definition_levels(rows) + _plain(column)
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: the gzip container
    packed = packer.compress(body) + packer.flush()
    head = _Compact()
    head.i32(1, _DATA_PAGE)
    head.i32(2, len(body))
    head.i32(3, len(packed))
    head.begin(5)
    head.i32(1, rows)
    head.i32(2, _PLAIN)
    head.i32(3, _RLE)
    head.i32(4, _RLE)
    head.end()
    head.end()
    return bytes(head.out) + packed, len(head.out) + len(body)


def _schema_element(meta: _Compact, column: Column) -> None:
    meta.begin()
    meta.i32(1, _PHYSICAL[column.kind])
    meta.i32(3, _OPTIONAL)
    meta.binary(4, column.name.encode())
    if column.kind == "string":
        meta.i32(6, _UTF8)
        meta.begin(10)  # LogicalType.STRING
        meta.begin(1)
        meta.end()
        meta.end()
    elif column.kind == "timestamp_us":
        meta.i32(6, _TIMESTAMP_MICROS)
        meta.begin(10)  # LogicalType.TIMESTAMP(isAdjustedToUTC=true, unit=MICROS)
        meta.begin(8)
        meta.boolean(1, True)
        meta.begin(2)
        meta.begin(2)
        meta.end()
        meta.end()
        meta.end()
        meta.end()
    meta.end()


def encode_table(columns: Sequence[Column]) -> bytes:
    """The bytes of a Parquet file holding ``columns`` (all of one length) in one row group."""
    rows = len(columns[0].values)
    if any(len(c.values) != rows for c in columns):
        raise ValueError("every column of a Parquet table needs the same number of values")
    out = bytearray(b"PAR1")
    chunks: list[tuple[int, int, int]] = []  # (offset, compressed size, uncompressed size)
    for column in columns:
        page, plain_size = _page(column, rows)
        chunks.append((len(out), len(page), plain_size))
        out += page
    meta = _Compact()
    meta.i32(1, 1)
    meta.list_header(2, len(columns) + 1, _STRUCT)
    meta.begin()  # the root of the schema tree
    meta.binary(4, b"schema")
    meta.i32(5, len(columns))
    meta.end()
    for column in columns:
        _schema_element(meta, column)
    meta.i64(3, rows)
    meta.list_header(4, 1, _STRUCT)
    meta.begin()  # the one row group
    meta.list_header(1, len(columns), _STRUCT)
    for column, (offset, size, plain_size) in zip(columns, chunks, strict=True):
        meta.begin()  # ColumnChunk
        meta.i64(2, offset)
        meta.begin(3)  # ColumnMetaData
        meta.i32(1, _PHYSICAL[column.kind])
        meta.i32_list(2, [_PLAIN, _RLE])
        meta.binary_list(3, [column.name.encode()])
        meta.i32(4, _GZIP)
        meta.i64(5, rows)
        meta.i64(6, plain_size)
        meta.i64(7, size)
        meta.i64(9, offset)
        meta.end()
        meta.end()
    meta.i64(2, sum(plain for _, _, plain in chunks))
    meta.i64(3, rows)
    meta.end()
    meta.binary(6, b"modelyard prediction log")
    meta.end()
    out += meta.out
    out += _U32.pack(len(meta.out)) + b"PAR1"
    return bytes(out)


def write_table(path: Path, columns: Sequence[Column]) -> None:
    """Write ``columns`` as a Parquet file at ``path`` (the caller renames it into place)."""
    path.write_bytes(encode_table(columns))
