"""Reading a user's table — CSV, gzipped CSV or parquet — from a path or an upload.

Every problem is reported as :class:`~hitl_core.errors.InvalidInput` naming the file
and what is wrong with it (empty, header only, wrong delimiter, duplicate column
names, ragged rows, not a table at all, too large, ...). Nothing is written here.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hitl_core.config import max_input_bytes
from hitl_core.errors import InvalidInput

_PARQUET_MAGIC = b"PAR1"
_GZIP_MAGIC = b"\x1f\x8b"
_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def read_table(
    source: str | os.PathLike[str] | bytes, name: str | None = None, *, limit: int | None = None
) -> pd.DataFrame:
    """Read a table from a file path or from uploaded bytes (``name`` labels messages)."""
    limit = max_input_bytes() if limit is None else limit
    if isinstance(source, bytes):
        label = name or "the upload"
        data = source
        if len(data) > limit:
            raise InvalidInput(f"{label} is {_size(len(data))}, over the {_size(limit)} limit for a data file")
    else:
        path = Path(source)
        label = name or path.name
        if not path.exists():
            raise InvalidInput(f"no such file: {path}")
        if not path.is_file():
            raise InvalidInput(f"{path} is not a file")
        size = path.stat().st_size
        if size > limit:
            raise InvalidInput(f"{label} is {_size(size)}, over the {_size(limit)} limit for a data file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    if not data.strip():
        raise InvalidInput(f"{label} is empty")
    if data[:4] == _PARQUET_MAGIC:
        return _read_parquet(data, label)
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            raise InvalidInput(
                f"{label} looks gzip-compressed but cannot be decompressed (truncated or damaged)"
            ) from None
        if len(data) > 4 * limit:
            raise InvalidInput(f"{label} decompresses to {_size(len(data))}, over 4 x the data file limit")
        if data[:4] == _PARQUET_MAGIC:
            return _read_parquet(data, label)
    return _read_csv(data, label)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


def _read_parquet(data: bytes, label: str) -> pd.DataFrame:
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"{label} is not a readable parquet file ({str(exc).splitlines()[0]})") from None
    _check_duplicates(table.column_names, label)
    frame = table.to_pandas()
    if frame.empty:
        raise InvalidInput(f"{label} has columns but no rows")
    return frame


def _check_duplicates(names: list[str], label: str) -> None:
    seen, dupes = set(), []
    for n in names:
        key = str(n).strip()
        if key in seen and key not in dupes:
            dupes.append(key)
        seen.add(key)
    if dupes:
        raise InvalidInput(f"{label} has duplicate column name(s): {', '.join(dupes)}")


def _read_csv(data: bytes, label: str) -> pd.DataFrame:
    head = data[:65536]
    if b"\x00" in head:
        raise InvalidInput(f"{label} is not a text table (CSV) or parquet file: it holds binary data")
    try:
        text_head = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a multi-byte character cut by the 64 KB window
            raise InvalidInput(f"{label} is not UTF-8 text, nor CSV, nor parquet") from None
        text_head = head[: exc.start].decode("utf-8-sig")
    stripped = text_head.lstrip()
    if stripped[:1] in "{[":
        raise InvalidInput(f"{label} looks like JSON, not a table: save it as CSV or parquet")
    if stripped[:1] == "<":
        raise InvalidInput(f"{label} looks like HTML or XML, not a table: save it as CSV or parquet")
    lines = [ln for ln in text_head.splitlines() if ln.strip()]
    header = next(csv.reader([lines[0]]))
    if len(header) == 1:
        for delim, word in _DELIMITERS.items():
            if delim in lines[0]:
                raise InvalidInput(
                    f"{label} has a single column '{header[0][:40]}…': it looks {word}-separated; "
                    "save it with commas as the delimiter"
                )
    _check_duplicates(header, label)
    if len(lines) < 2:
        raise InvalidInput(f"{label} has a header but no data rows")
    try:
        frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", encoding_errors="replace", skip_blank_lines=True)
    except pd.errors.ParserError as exc:
        raise InvalidInput(f"{label} is not a well-formed CSV: {_parser_message(str(exc))}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"{label} cannot be read as CSV: {exc}") from None
    if frame.empty:
        raise InvalidInput(f"{label} has a header but no data rows")
    return frame


def _parser_message(message: str) -> str:
    # pandas: "Error tokenizing data. C error: Expected 5 fields in line 4, saw 6"
    if "Expected" in message and "fields in line" in message:
        tail = message.split("C error:")[-1].strip()
        return tail[0].lower() + tail[1:] + " (a row has more fields than the header)"
    return message.splitlines()[0]
