"""Retrain time on 227,845 training rows (80% of 284,807), with 2 and 30 features.

The workspace is initialised with 95% of the synthetic full-size file as base data
and a held-out share chosen so that exactly 80% of all rows train. Thirty verdicts are
given on replayed points, then one retrain is timed end to end and by step: fitting
the classifier with the verdicts, fitting the detector and its k-NN index,
evaluating candidate and current version on the held-out rows, writing the version.
Version 1 (which also fits the base classifier, reused by every later version) is
timed as well.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.common import KAGGLE_ROWS, synthetic_file
from hitl_core import Workspace, datasets

BASE_FRACTION = 0.95
VERDICTS = 30
TRAIN_ROWS = round(0.8 * KAGGLE_ROWS)


def _steps() -> tuple[dict, callable]:
    steps: dict[str, float] = {}
    last = [time.perf_counter(), None]

    def progress(fraction: float, message: str) -> None:
        now = time.perf_counter()
        if last[1] is not None:
            steps[last[1]] = steps.get(last[1], 0.0) + now - last[0]
        last[0], last[1] = now, message.split("…")[0].split(" on ")[0].split(":")[0].split(" with ")[0]

    return steps, progress


def run(folder: Path) -> dict:
    path = synthetic_file(folder, "parquet")
    n_base = round(KAGGLE_ROWS * BASE_FRACTION)
    holdout = (n_base - TRAIN_ROWS) / n_base
    out = {}
    for label, features in (("2 features", "V4,V14"), ("29 features", "all")):
        ws = Workspace(tempfile.mkdtemp(prefix="hitl-retrain-"))
        prepared = datasets.load(ws.paths, "creditcard", path, features, base_fraction=BASE_FRACTION)
        prepared = datasets.PreparedDataset(
            replace(prepared.spec, holdout_fraction=holdout), prepared.X, prepared.y, prepared.time
        )
        _, progress = _steps()
        start = time.perf_counter()
        ws._initialise(prepared, progress)
        init_s = time.perf_counter() - start
        ws.stream.pause()
        ws.replay(5_000)
        # Thirty verdicts: the head of the review queue, topped up with other replayed points.
        ids = ws.queue()["point_id"].head(VERDICTS).tolist()
        others = [i for i in ws.scored()["point_id"].tolist() if i not in set(ids)]
        ids += others[: VERDICTS - len(ids)]
        truth = ws.dataset.y[ids]
        for verdict in ("normal", "abnormal"):
            chosen = [i for i, t in zip(ids, truth, strict=True) if t == (verdict == "abnormal")]
            if chosen:
                ws.label_many(chosen, verdict, "bench")
        steps, progress = _steps()
        start = time.perf_counter()
        result = ws.retrain(progress=progress)
        total = time.perf_counter() - start
        steps.pop("Done.", None)
        out[label] = {
            "train_rows": ws.dataset.n_train,
            "holdout_rows": ws.dataset.n_base - ws.dataset.n_train,
            "verdicts": result.labels_used,
            "retrain_s": total,
            "steps": steps,
            "version1_s": init_s,
            "decision": result.decision
            + (" (" + "; ".join(c.detail for c in result.failed) + ")" if result.failed else ""),
        }
    return out


def report(r: dict) -> str:
    lines = []
    for label, x in r.items():
        steps = "; ".join(f"{k.lower()} {v:.1f} s" for k, v in x["steps"].items())
        lines.append(
            f"- **{label}**: retrain with {x['verdicts']} verdicts on {x['train_rows']:,} training rows, "
            f"{x['holdout_rows']:,} held out: **{x['retrain_s']:.1f} s** ({steps}); decision: {x['decision']}. "
            f"Version 1 (also fits the base classifier): {x['version1_s']:.1f} s."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run(Path(tempfile.gettempdir()) / "hitl-bench-data")))
