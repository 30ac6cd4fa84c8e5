"""Full-size credit-card data on this machine: load, train version 1, replay.

The full Kaggle file (284,807 rows x 31 columns, ~150 MB of CSV) is not shipped, so a
synthetic file of exactly that shape is generated once. For V4+V14 and for all of
V1..V28 + Amount this times: reading and validating the file, training version 1
(classifier, detector, evaluation, registry write), and replaying the stream. In 30
dimensions it also measures what the detector's bounded reference set costs in
quality: unknown flags and scores against an exact search over every training row.

Run: ``python -m bench.scale [--folder DIR]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from bench.common import machine, peak_rss_mb, synthetic_file, timer
from hitl_core import Workspace, datasets, tables
from hitl_core.detector import NoveltyDetector


def run(folder: Path) -> dict:
    out: dict = {"machine": machine()}
    path = synthetic_file(folder, "csv")
    out["file_mb"] = path.stat().st_size / 2**20
    with timer(out, "read_s"):
        frame = tables.read_table(path)
    out["shape"] = frame.shape
    with timer(out, "validate_s"):
        datasets.prepare(
            frame,
            datasets.DatasetSpec("creditcard", datasets.KAGGLE_FEATURES, "Class", "Time", str(path), positive="1"),
        )
    del frame
    for label, features in (("2 features", "V4,V14"), ("29 features", "all")):
        ws = Workspace(tempfile.mkdtemp(prefix="hitl-scale-"))
        steps: dict[str, float] = {}
        start = time.perf_counter()
        last = [start, "start"]

        def progress(fraction, message, steps=steps, last=last):
            now = time.perf_counter()
            steps[last[1]] = now - last[0]
            last[0], last[1] = now, message.split("…")[0].split(":")[0]

        ws.init("creditcard", path, features, progress=progress)
        total = time.perf_counter() - start
        ws.stream.pause()
        replay: dict[str, float] = {}
        with timer(replay, "replay"):
            step = ws.replay(50_000)
        tick = []
        for _ in range(20):
            t0 = time.perf_counter()
            ws.replay(10)
            tick.append(time.perf_counter() - t0)
        out[label] = {
            "init_s": total,
            "steps": {k: v for k, v in steps.items() if k != "start"},
            "replay_rows_per_s": step.rows / replay["replay"],
            "tick_10_rows_ms": 1000 * float(np.median(tick)),
            "detector": ws.registry.meta(1)["detector"],
            "holdout_pr_auc": ws.registry.meta(1)["metrics"]["holdout_pr_auc"],
        }
    out["reference_quality"] = reference_quality(ws)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def reference_quality(ws: Workspace, queries: int = 3_000) -> dict:
    """Bounded reference set vs exact search over every training row (30 dimensions)."""
    ds = ws.dataset
    train = ds.X[ds.train]
    bounded = ws.models().models.detector
    t0 = time.perf_counter()
    full = NoveltyDetector(k=bounded.k, quantile=bounded.quantile, algorithm="brute").fit(
        train, keep=ds.y[ds.train] == 1
    )
    full_fit = time.perf_counter() - t0
    X = ds.X[ds.n_base : ds.n_base + queries]
    t0 = time.perf_counter()
    exact_scores, _, exact_unknown = full.assess(X)
    exact_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores, _, unknown = bounded.assess(X)
    bounded_s = time.perf_counter() - t0
    return {
        "reference_rows": bounded.n_reference_,
        "training_rows": len(train),
        "queries": queries,
        "bounded_rows_per_s": queries / bounded_s,
        "exact_rows_per_s": queries / exact_s,
        "exact_fit_s": full_fit,
        "score_spearman": float(spearmanr(scores, exact_scores).statistic),
        "unknown_bounded": int(unknown.sum()),
        "unknown_exact": int(exact_unknown.sum()),
        "unknown_agreement": float((unknown == exact_unknown).mean()),
    }


def report(r: dict) -> str:
    lines = [
        f"machine: {r['machine']}",
        f"synthetic file: {r['shape'][0]:,} rows x {r['shape'][1]} columns, {r['file_mb']:.0f} MB CSV",
        f"read (CSV -> table): {r['read_s']:.1f} s; validate and prepare: {r['validate_s']:.1f} s",
    ]
    for label in ("2 features", "29 features"):
        x = r[label]
        d = x["detector"]
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in x["steps"].items())
        lines += [
            f"{label}: init (read + train version 1 + write) {x['init_s']:.1f} s [{steps}]",
            f"  detector: {d['backend']} over {d['reference_rows']:,} reference rows; held-out PR-AUC "
            f"{x['holdout_pr_auc']:.3f}",
            f"  replay: {x['replay_rows_per_s']:,.0f} rows/s scored (50,000-row step); "
            f"a 10-row tick {x['tick_10_rows_ms']:.1f} ms",
        ]
    q = r["reference_quality"]
    lines += [
        f"30-D reference set: {q['reference_rows']:,} of {q['training_rows']:,} training rows; on {q['queries']:,} "
        f"stream rows: {q['bounded_rows_per_s']:,.0f} rows/s vs {q['exact_rows_per_s']:,.0f} rows/s exact over all "
        f"rows; score rank correlation {q['score_spearman']:.3f}; unknown flags agree on "
        f"{q['unknown_agreement']:.1%} ({q['unknown_bounded']} vs {q['unknown_exact']} flagged)",
        f"peak RSS: {r['peak_rss_mb']:,.0f} MB",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "hitl-bench-data")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    print(report(run(args.folder)))


if __name__ == "__main__":
    main()
