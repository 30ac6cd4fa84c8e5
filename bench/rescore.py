"""Re-scoring after a switch of version: 284,807 replayed rows, with the Monitor live meanwhile.

A synthetic credit-card file is cut so that its stream holds 284,807 rows (the full
Kaggle size); the whole stream is replayed, a few points get verdicts, a retrain
promotes version 2, and the re-scoring of every replayed, unverified row runs as the
app runs it (a background job). Meanwhile this process keeps refreshing the Monitor
(a tick plus the snapshot the page draws) as a viewer's session would, so the figures
are: how long the re-scoring takes, and how long a Monitor refresh takes while it runs.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import KAGGLE_ROWS, synthetic_creditcard
from hitl_core import Workspace, monitor

BASE_FRACTION = 0.3


def _file(folder: Path) -> Path:
    path = folder / "creditcard_synthetic_rescore.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        rows = math.ceil(KAGGLE_ROWS / (1 - BASE_FRACTION))
        synthetic_creditcard(rows=rows, seed=1).to_parquet(path, index=False)
    return path


def run(folder: Path) -> dict:
    path = _file(folder)
    out = {}
    for label, features in (("2 features", "V4,V14"), ("29 features", "all")):
        ws = Workspace(tempfile.mkdtemp(prefix="hitl-rescore-"), rescore_in_background=True)
        ws.init("creditcard", path, features, base_fraction=BASE_FRACTION)
        ws.stream.pause()
        ws.replay(ws.dataset.stream_len)
        replayed = ws.stream.state().cursor
        queue = ws.queue(with_features=False)
        ids = queue["point_id"].head(20).astype(int).to_numpy()
        truth = ws.dataset.y[ids]
        for label_value in ("normal", "abnormal"):
            chosen = ids[truth == (1 if label_value == "abnormal" else 0)]
            if len(chosen):
                ws.label_many(chosen.tolist(), label_value, "bench")
        start = time.perf_counter()
        result = ws.retrain()
        job = ws.jobs.get("rescore")
        refreshes = []
        while job is not None and not job.done:
            t0 = time.perf_counter()
            ws.tick()
            monitor.snapshot(ws)
            refreshes.append(time.perf_counter() - t0)
            time.sleep(0.1)  # a viewer's refresh, ten times faster than the page's timer
        if job is not None:
            job.wait()
            if job.error is not None:
                raise job.error
        total = time.perf_counter() - start
        versions = np.asarray(ws.stream.arrays()["version"][:replayed])
        out[label] = {
            "replayed": replayed,
            "rescored": int(job.result) if job is not None else 0,
            "promoted": result.promoted,
            "retrain_s": result.seconds,
            "retrain_and_rescore_s": total,
            "rescore_s": total - result.seconds,
            "rows_per_s": (int(job.result) if job is not None else 0) / max(1e-9, total - result.seconds),
            "on_new_version": float((versions == ws.current_version()).mean()),
            "refresh_median_ms": 1e3 * float(np.median(refreshes)) if refreshes else float("nan"),
            "refresh_p99_ms": 1e3 * float(np.quantile(refreshes, 0.99)) if refreshes else float("nan"),
            "refreshes": len(refreshes),
        }
    return out


def report(r: dict) -> str:
    lines = [
        "features | replayed rows | re-scored | re-scoring time | rows/s | on the new version | "
        "Monitor refresh meanwhile (median / p99, n)",
        "---|---|---|---|---|---|---",
    ]
    for name, x in r.items():
        lines.append(
            f"{name} | {x['replayed']:,} | {x['rescored']:,} | {x['rescore_s']:.1f} s | {x['rows_per_s']:,.0f} | "
            f"{x['on_new_version']:.2%} | {x['refresh_median_ms']:.1f} / {x['refresh_p99_ms']:.1f} ms "
            f"({x['refreshes']})"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run(Path(tempfile.gettempdir()) / "hitl-bench-data")))
