"""The credit-card fraud data from OpenML (data id 1597), cached locally.

On a machine that is online, the first use downloads the data set once (parquet when
OpenML offers it, else ARFF) into the workspace's ``data/cache/openml`` folder; later
uses, and offline machines with a cached copy, read the cache. No network access
happens when a cached copy exists.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from hitl_core.durable import atomic_write_bytes
from hitl_core.errors import InvalidInput, NotReady

DATA_ID = 1597
DESCRIPTION_URL = "https://api.openml.org/api/v1/json/data/{data_id}"
ARFF_URL = "https://api.openml.org/data/v1/download/{file_id}"

Fetch = Callable[[str], bytes]


def _fetch(url: str, timeout: float = 60) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def cached_file(cache: Path, data_id: int = DATA_ID) -> Path | None:
    for suffix in (".parquet", ".arff"):
        path = cache / f"{data_id}{suffix}"
        if path.exists():
            return path
    return None


def download(cache: Path, data_id: int = DATA_ID, fetch: Fetch = _fetch) -> Path:
    """Download the data set into ``cache``; returns the cached file."""
    try:
        description = json.loads(fetch(DESCRIPTION_URL.format(data_id=data_id)))["data_set_description"]
        url = description.get("parquet_url")
        suffix = ".parquet"
        if not url:
            url, suffix = ARFF_URL.format(file_id=description["file_id"]), ".arff"
        payload = fetch(url)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise NotReady(
            f"cannot download OpenML data set {data_id} ({exc}); on a machine without internet access, place a "
            f"copy at {cache / f'{data_id}.arff'} (or .parquet), or pass the Kaggle CSV with --data PATH"
        ) from None
    except (KeyError, ValueError) as exc:
        raise NotReady(f"OpenML answered for data set {data_id} in an unexpected form ({exc})") from None
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{data_id}{suffix}"
    atomic_write_bytes(path, payload)
    return path


def read_arff(data: bytes, label: str) -> pd.DataFrame:
    """Parse a numeric/nominal ARFF file (OpenML's native format) into a frame."""
    from scipy.io import arff

    try:
        records, _ = arff.loadarff(io.StringIO(data.decode("utf-8", errors="replace")))
    except (ValueError, NotImplementedError, arff.ParseArffError) as exc:
        raise InvalidInput(f"{label} is not a readable ARFF file ({exc})") from None
    frame = pd.DataFrame(records)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: v.decode() if isinstance(v, bytes) else v)
    return frame


def load_creditcard(cache: Path, fetch: Fetch = _fetch) -> pd.DataFrame:
    """The Kaggle-layout frame of OpenML data set 1597 (from the cache, downloading once)."""
    from hitl_core import tables

    path = cached_file(cache) or download(cache, fetch=fetch)
    frame = read_arff(path.read_bytes(), path.name) if path.suffix == ".arff" else tables.read_table(path)
    # OpenML stores the class as a nominal attribute; the Kaggle file has 0/1 numbers.
    if "Class" in frame.columns:
        frame["Class"] = pd.to_numeric(frame["Class"].astype(str).str.strip("'\" "), errors="coerce")
    return frame
