"""The novelty detector on the ODDS outlier-detection sets, against PyOD's published KNN.

Protocol (the sets' README, which is PyOD's 2019 benchmark): each set split 60% train /
40% test, features standardised with the training split's statistics (the detector
does it itself), the detector fitted on the whole training split — outliers included,
unsupervised — and the test split scored; ROC-AUC averaged over 10 splits. The splits
are PyOD's own (``train_test_split(test_size=0.4, random_state=RandomState(i))`` for
i = 0..9), so the plain k-NN distance reproduces the published figures to the fourth
decimal and the comparison is on the same rows.

Columns: the detector (k-NN distance plus each feature on its own), the plain k-NN
distance (``per_feature=False``, the detector before features were scored on their
own), PyOD's published KNN figure, and the unknown rate on the test split's inliers.
``python -m bench.odds`` rewrites docs/ODDS.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from bench.common import machine
from hitl_core.detector import NoveltyDetector

REPO = Path(__file__).resolve().parent.parent
ODDS = REPO.parent / "shared" / "data" / "odds"
DOC = REPO / "docs" / "ODDS.md"
SPLITS = 10

#: PyOD's published KNN ROC-AUC (benchmark page, "Old Results (2019)"; quoted in the
#: data folder's README). Sets absent from that table have no figure.
PUBLISHED = {
    "arrhythmia": 0.7861,
    "cardio": 0.7236,
    "glass": 0.8508,
    "ionosphere": 0.9267,
    "letter": 0.8766,
    "lympho": 0.9745,
    "mnist": 0.8481,
    "musk": 0.7986,
    "optdigits": 0.3708,
    "pendigits": 0.7486,
    "pima": 0.7078,
    "satellite": 0.6836,
    "satimage-2": 0.9536,
    "shuttle": 0.6537,
    "vertebral": 0.3817,
    "vowels": 0.9680,
    "wbc": 0.9366,
}


@dataclass(frozen=True)
class SetResult:
    name: str
    rows: int
    features: int
    outlier_share: float
    ours: float
    plain: float
    published: float | None
    inlier_unknown_rate: float  # the detector's flag rate on test inliers (configured: 0.5%)
    lifted: int  # test points, over all splits, whose novelty a feature's tail raised
    test_points: int
    seconds: float

    @property
    def below_published(self) -> bool:
        return self.published is not None and round(self.ours, 4) < self.published


def load(name: str, folder: Path = ODDS) -> tuple[np.ndarray, np.ndarray]:
    frame = pd.read_parquet(folder / f"{name}.parquet")
    return frame.drop(columns="y").to_numpy(np.float64), frame["y"].to_numpy()


def available(folder: Path = ODDS) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.parquet"))


def evaluate(name: str, splits: int = SPLITS, folder: Path = ODDS) -> SetResult:
    """Mean test ROC-AUC of the detector and of the plain k-NN distance on one set.

    As PyOD did, each split's ROC-AUC is rounded to four decimals before averaging.
    """
    X, y = load(name, folder)
    started = time.perf_counter()
    ours, plain, flagged, lifted, points = [], [], [], 0, 0
    for i in range(splits):
        train, test = train_test_split(np.arange(len(X)), test_size=0.4, random_state=np.random.RandomState(i))
        det = NoveltyDetector(k=5).fit(X[train])
        novelty, _, unknown = det.assess(X[test])
        ours.append(round(roc_auc_score(y[test], novelty), 4))
        flagged.append(unknown[y[test] == 0].mean())
        distance = NoveltyDetector(k=5, per_feature=False).fit(X[train]).decision_function(X[test])
        plain.append(round(roc_auc_score(y[test], distance), 4))
        lifted += int((novelty > distance).sum())
        points += len(test)
    return SetResult(
        name,
        len(X),
        X.shape[1],
        float(y.mean()),
        float(np.mean(ours)),
        float(np.mean(plain)),
        PUBLISHED.get(name),
        float(np.mean(flagged)),
        lifted,
        points,
        time.perf_counter() - started,
    )


def run(
    names: list[str] | None = None, splits: int = SPLITS, folder: Path = ODDS, echo: bool = False
) -> list[SetResult]:
    results = []
    for name in names or available(folder):
        results.append(evaluate(name, splits, folder))
        if echo:
            r = results[-1]
            print(f"{r.name}: ours {r.ours:.4f} plain {r.plain:.4f} published {r.published}", flush=True)
    return results


def report(results: list[SetResult]) -> str:
    lines = [
        "set | rows | features | outliers | detector | plain k-NN | PyOD KNN (published) | detector − published "
        "| test points a feature lifted | unknown rate on test inliers",
        "---|---:|---:|---:|---:|---:|---:|---:|---:|---:",
    ]
    for r in results:
        pub = f"{r.published:.4f}" if r.published is not None else "not in table"
        diff = f"{round(r.ours - r.published, 4) + 0.0:+.4f}" if r.published is not None else ""
        lines.append(
            f"{r.name} | {r.rows:,} | {r.features} | {r.outlier_share:.1%} | {r.ours:.4f} | {r.plain:.4f} | {pub} "
            f"| {diff} | {r.lifted} of {r.test_points:,} | {r.inlier_unknown_rate:.2%}"
        )
    scored = [r for r in results if r.published is not None]
    below = [r.name for r in scored if r.below_published]
    lines += [
        "",
        f"Below the published figure (at its four decimals): {len(below)} of {len(scored)} sets"
        + (f" ({', '.join(below)})" if below else "")
        + f". Mean ROC-AUC over all {len(results)} sets: detector {np.mean([r.ours for r in results]):.4f}, "
        f"plain k-NN {np.mean([r.plain for r in results]):.4f}.",
    ]
    return "\n".join(lines)


def write(results: list[SetResult], took: float, path: Path = DOC) -> None:
    from datetime import UTC, datetime

    text = [
        "# The novelty detector on the ODDS sets",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()} by `python -m bench.odds` ({took:.0f} s).",
        "",
        (__doc__ or "").split("\n\n", 1)[1].rsplit("\n\n", 1)[0].strip(),
        "",
        report(results),
        "",
        "Reading it: the detector's novelty is the k-NN distance except where a single feature lies so far in "
        "its own tail that it alone is an alarm (hitl_core/detector.py). Fitted unsupervised on a training split "
        "that holds the set's outliers, such values are rare in a test split, so the ROC-AUC is the plain "
        "k-NN distance's, to the fourth decimal, on most sets; the column of lifted test points says how often a "
        "feature changed a score at all. What the per-feature tails are for — novelty confined to a few of many "
        "features — is tested on the credit-card data in tests/test_detector.py.",
        "",
        "Data: Shebuti Rayana (2016), ODDS Library, http://odds.cs.stonybrook.edu, Stony Brook University, "
        "Department of Computer Science; thyroid, mammography and annthyroid from ADBench's ODDS-derived files "
        "(see the data folder's README for each set's original source).",
        "",
    ]
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(text))


def section() -> str:
    """Run every set, rewrite docs/ODDS.md, and return the table (for ``python -m bench``)."""
    if not available():
        return f"{ODDS} is not present: nothing measured."
    started = time.perf_counter()
    results = run()
    write(results, time.perf_counter() - started)
    return report(results) + "\n\nAlso in [ODDS.md](ODDS.md), with the protocol."


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("sets", nargs="*", help="sets to run (default: every set in the folder)")
    parser.add_argument("--splits", type=int, default=SPLITS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/ODDS.md alone")
    args = parser.parse_args()
    started = time.perf_counter()
    results = run(args.sets or None, args.splits, echo=True)
    text = report(results)
    print(text)
    if not args.no_write and not args.sets and args.splits == SPLITS:
        write(results, time.perf_counter() - started)
        print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
