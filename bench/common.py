"""Shared pieces of the benchmarks: the synthetic full-size credit-card file, timers."""

from __future__ import annotations

import os
import platform
import resource
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

KAGGLE_ROWS = 284_807
FRAUD_SHARE = 492 / KAGGLE_ROWS
# Per-component standard deviation of the normal rows and mean shift of the frauds. The
# V columns are PCA components in decreasing variance; the shifts are half the real
# frauds' mean offsets, so that classes overlap as on real rows (held-out PR-AUC ~0.5
# with V4+V14 and ~0.9 with all features; fully separable data makes boosting stop
# early and behave unlike it does on real data).
SD = np.linspace(1.96, 0.33, 28)
FRAUD_SHIFT = np.zeros(28)
# fmt: off
FRAUD_SHIFT[[0, 1, 2, 3, 6, 8, 9, 10, 11, 13, 15, 16]] = 0.5 * np.array(
    [-4.8, 3.6, -7.0, 4.5, -5.6, -2.6, -5.7, 3.8, -6.3, -6.9, -4.1, -6.7]
)
# fmt: on


def synthetic_creditcard(rows: int = KAGGLE_ROWS, seed: int = 0) -> pd.DataFrame:
    """A table of the Kaggle file's exact shape (Time, V1..V28, Amount, Class)."""
    rng = np.random.default_rng(seed)
    fraud = rng.random(rows) < FRAUD_SHARE
    V = rng.normal(size=(rows, 28)) * SD
    V[fraud] = V[fraud] * 2.0 + FRAUD_SHIFT
    frame = pd.DataFrame(V, columns=[f"V{i}" for i in range(1, 29)])
    frame.insert(0, "Time", np.sort(rng.integers(0, 172_792, rows)).astype(float))
    frame["Amount"] = np.where(fraud, rng.lognormal(2.4, 1.8, rows), rng.lognormal(2.9, 1.3, rows)).round(2)
    frame["Class"] = fraud.astype(int)
    return frame


def synthetic_file(folder: Path, fmt: str = "csv") -> Path:
    """The synthetic full-size file, written once per folder and reused."""
    path = folder / f"creditcard_synthetic.{fmt}"
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        frame = synthetic_creditcard()
        if fmt == "csv":
            # 13 significant digits, as in the public file: ~150 MB, like the original.
            frame.to_csv(path, index=False, float_format="%.13g")
        else:
            frame.to_parquet(path, index=False)
    return path


@contextmanager
def timer(out: dict, key: str):
    start = time.perf_counter()
    yield
    out[key] = time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpus = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.platform()}, {cpus} CPUs, {mem:.0f} GiB RAM, Python {platform.python_version()}"
