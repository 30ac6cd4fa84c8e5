"""Writes the malformed-file corpus in tests/data/malformed/ (one file per problem).

Run from the repository root: ``python tests/data/make_malformed.py``. The files are
committed; this script documents how each was made. Each file starts from a small,
valid table in the Kaggle credit-card layout and breaks exactly one thing.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "malformed"
COLUMNS = ["Time", *[f"V{i}" for i in range(1, 29)], "Amount", "Class"]


def valid(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 28)).round(2), columns=COLUMNS[1:29])
    frame.insert(0, "Time", np.arange(rows) * 10.0)
    frame["Amount"] = rng.lognormal(3, 1, rows).round(2)
    frame["Class"] = (np.arange(rows) % 10 == 3).astype(int)
    return frame


def csv_text(frame: pd.DataFrame, sep: str = ",") -> str:
    return frame.to_csv(index=False, sep=sep)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    base = valid()
    files: dict[str, bytes | str] = {}
    files["missing_required_column.csv"] = csv_text(base.drop(columns="Class"))
    files["missing_chosen_column.csv"] = csv_text(base.drop(columns="V14"))
    bad = base.astype(object)
    bad.loc[2, "V4"] = "abc"
    files["non_numeric_feature.csv"] = csv_text(bad)
    bad = base.astype(object)
    bad.loc[5, "V14"] = ""
    files["missing_values.csv"] = csv_text(bad)
    bad = base.astype(object)
    bad.loc[7, "V4"] = "inf"
    files["infinite_values.csv"] = csv_text(bad)
    bad = base.copy()
    bad.loc[::7, "Class"] = 2
    files["label_three_values.csv"] = csv_text(bad)
    files["label_one_value.csv"] = csv_text(base.assign(Class=0))
    files["empty.csv"] = b""
    files["whitespace_only.csv"] = "\n  \n\t\n"
    files["header_only.csv"] = ",".join(COLUMNS) + "\n"
    files["semicolon_delimited.csv"] = csv_text(base, sep=";")
    files["tab_delimited.csv"] = csv_text(base, sep="\t")
    dup = base.rename(columns={"V5": "V4"})
    files["duplicate_columns.csv"] = csv_text(dup)
    lines = csv_text(base).splitlines()
    lines[10] += ",99.9"
    files["ragged_rows.csv"] = "\n".join(lines) + "\n"
    files["binary_garbage.csv"] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    files["json_not_table.csv"] = base.head(5).to_json(orient="records")
    buffer = io.BytesIO()
    base.to_parquet(buffer, index=False)
    files["truncated.parquet"] = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    files["corrupt.csv.gz"] = gzip.compress(csv_text(base).encode())[:300]
    files["too_few_rows.csv"] = csv_text(base.head(20))
    bad = base.astype(object)
    bad["Time"] = [f"sometime {i}" for i in range(len(bad))]
    files["bad_time_column.csv"] = csv_text(bad)
    files["oversize.csv"] = csv_text(valid(rows=400, seed=1))  # valid, but larger than the limit the test sets
    for name, content in files.items():
        (OUT / name).write_bytes(content.encode() if isinstance(content, str) else content)
    print(f"wrote {len(files)} files to {OUT}")


if __name__ == "__main__":
    main()
