"""Scoring throughput of both models on 284,807 rows, with 2 and with 30 features.

Version 1 is trained on the synthetic full-size file (first 48% of rows), then every
one of the 284,807 rows is scored in batches of 50,000 (as a big replay step does):
the classifier, the detector (with the k-NN backend chosen for the dimension), and
the two together as the stream scores them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import synthetic_file
from hitl_core import Workspace

BATCH = 50_000


def _rate(fn, X) -> float:
    start = time.perf_counter()
    for lo in range(0, len(X), BATCH):
        fn(X[lo : lo + BATCH])
    return len(X) / (time.perf_counter() - start)


def run(folder: Path) -> dict:
    path = synthetic_file(folder, "parquet")
    out = {}
    for label, features in (("2 features", "V4,V14"), ("29 features", "all")):
        ws = Workspace(tempfile.mkdtemp(prefix="hitl-throughput-"))
        ws.init("creditcard", path, features)
        models = ws.models().models
        X = ws.dataset.X
        det = models.detector
        out[label] = {
            "rows": len(X),
            "features": X.shape[1],
            "backend": f"{det.backend_} over {det.n_reference_:,} reference rows",
            "classifier_rows_per_s": _rate(models.base.predict_proba, X),
            "detector_rows_per_s": _rate(det.assess, X),
            "both_rows_per_s": _rate(models.score, X),
        }
    return out


def report(r: dict) -> str:
    lines = ["features | k-NN backend | classifier | detector | both (as the stream scores)", "---|---|---|---|---"]
    for x in r.values():
        lines.append(
            f"{x['features']} | {x['backend']} | {x['classifier_rows_per_s']:,.0f} rows/s | "
            f"{x['detector_rows_per_s']:,.0f} rows/s | {x['both_rows_per_s']:,.0f} rows/s"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run(Path(tempfile.gettempdir()) / "hitl-bench-data")))
