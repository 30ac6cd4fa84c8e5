"""Retraining: base data + expert verdicts -> candidate models -> evaluation -> gate.

The candidate is promoted only if it fixes what the experts said without losing the
abnormal cases (fraud, in the demo) the current version catches:

1. **recall** and 2. **PR-AUC** — both versions score the same held-out rows, and a
   paired bootstrap over those rows gives an interval for each difference (candidate
   minus current; :func:`paired_differences`). The candidate is refused only when
   the whole interval lies below 0: with ~100 held-out frauds one flipped fraud is a
   recall drop of 0.01, which is noise, not a loss. A held-out set too small for the
   bootstrap says so, and then falls back to an exact sign test for recall;
3. **verdicts** — every verified point is classified as the experts said;
4. a classifier trained from **verdicts alone** (a detector-only workspace's first
   one: no labelled held-out rows, nothing to compare with) must also pass a
   cross-validation on the verdicts and flag a sane share of the replayed stream
   (:func:`check_verdict_classifier`).

Both versions are evaluated in the same run on the same rows, so the comparison never
depends on figures stored by an older release. A retrain with no new verdict is refused
unless asked for explicitly (:func:`require_new_verdicts`): it would store a copy.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold

from hitl_core.classifier import FraudClassifier
from hitl_core.config import (
    EXPERT_WEIGHT,
    FIRST_CV_FLOOR,
    FLAGGED_SHARE_BOUNDS,
    FRAUD_THRESHOLD,
    GATE_CONFIDENCE,
    GATE_RESAMPLES,
    GATE_SEED,
    KNN_K,
    MAX_REFERENCE_ROWS,
    MIN_HOLDOUT_PER_CLASS,
    MIN_LABELS_PER_CLASS,
    PR_AUC_TOLERANCE,
    RECALL_TOLERANCE,
    UNKNOWN_QUANTILE,
)
from hitl_core.datasets import PreparedDataset
from hitl_core.detector import NoveltyDetector
from hitl_core.errors import InvalidInput
from hitl_core.models import ModelSet, Scores

Progress = Callable[[float, str], None]


def _quiet(fraction: float, message: str) -> None:
    pass


@dataclass(frozen=True)
class TrainingSet:
    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    base_rows: int
    verified: pd.DataFrame  # point_id, label (+ event metadata) of the expert labels used

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for arr in (self.X, self.y, self.weight):
            digest.update(np.ascontiguousarray(arr).tobytes())
        return digest.hexdigest()

    def replicated(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``rows`` of the set with each row repeated ``weight`` times (weights rounded).

        A verdict of weight 10 enters the classifier as ten identical rows rather than
        one row of weight 10. LightGBM counts rows, not weight, against its smallest
        leaf (20 rows) and samples rows, not weight, when bagging: as one heavy row, two
        of thirty honest verdicts on the 30-feature benchmark data were outvoted; as
        ten rows each, every verdict was followed.
        """
        reps = np.maximum(1, np.round(self.weight[rows]).astype(np.int64))
        return np.repeat(self.X[rows], reps, axis=0), np.repeat(self.y[rows], reps)


def build_training_set(
    dataset: PreparedDataset, verified: pd.DataFrame, expert_weight: float = EXPERT_WEIGHT
) -> TrainingSet:
    """The base training rows (weight 1) plus every verified point (``expert_weight``).

    ``verified`` holds the labels in force (one row per point, columns ``point_id`` and
    ``label``). Only stream points can carry verdicts; held-out rows never train.
    """
    if expert_weight <= 0:
        raise InvalidInput("the expert weight must be positive")
    verified = verified.sort_values("point_id").reset_index(drop=True)
    ids = verified["point_id"].to_numpy(np.int64)
    if len(ids) and (ids.min() < dataset.n_base or ids.max() >= len(dataset)):
        raise InvalidInput("verdicts may only refer to stream points")
    X = np.vstack([dataset.X[dataset.train], dataset.X[ids]])
    y = np.concatenate([dataset.y[dataset.train], (verified["label"] == "abnormal").to_numpy(np.int8)])
    weight = np.concatenate([np.ones(dataset.n_train), np.full(len(ids), float(expert_weight))])
    known = y >= 0  # unlabelled base rows (detector-only data) cannot train a classifier
    return TrainingSet(X, np.where(known, y, -1).astype(np.int8), weight, dataset.n_train, verified)


def fit_models(
    dataset: PreparedDataset,
    ts: TrainingSet,
    base: FraudClassifier | None = None,
    progress: Progress = _quiet,
) -> ModelSet:
    """Fit one version's models (see :mod:`hitl_core.models`).

    ``base`` — the classifier of the base data alone — is reused when given: the base
    data never changes, so neither does it.
    """
    features = list(dataset.features)
    n_base = ts.base_rows
    known = ts.y >= 0
    if base is None and known[:n_base].any() and len(np.unique(ts.y[:n_base][known[:n_base]])) == 2:
        progress(0.15, f"Training the base classifier on {int(known[:n_base].sum()):,} rows…")
        base = FraudClassifier().fit(
            ts.X[:n_base][known[:n_base]], ts.y[:n_base][known[:n_base]], feature_names=features
        )
    adjusted = None
    if len(ts.verified) and known.any() and len(np.unique(ts.y[known])) == 2:
        needed = labels_needed(ts.verified) if base is None else {}
        if not any(needed.values()):
            progress(
                0.3, f"Training the classifier with {len(ts.verified)} verified labels on {int(known.sum()):,} rows…"
            )
            adjusted = _fit_adjusted(ts, np.flatnonzero(known), features, verdicts_only=base is None)
    verdict = np.arange(len(ts.X)) >= n_base
    high_dim = ts.X.shape[1] > 15
    reference = min(len(ts.X), MAX_REFERENCE_ROWS) if high_dim else len(ts.X)
    progress(0.5, f"Fitting the novelty detector on {reference:,} reference rows…")
    detector = NoveltyDetector(
        k=KNN_K, quantile=UNKNOWN_QUANTILE, max_reference=MAX_REFERENCE_ROWS if high_dim else None
    ).fit(ts.X, verdict=verdict, keep=ts.y == 1)
    return ModelSet(base, adjusted, detector)


def _fit_adjusted(ts: TrainingSet, rows: np.ndarray, features: list[str], verdicts_only: bool) -> FraudClassifier:
    """The verdict-aware classifier on ``rows`` of the training set (each verdict replicated)."""
    # Trained on verdicts alone (detector-only data), the classifier sees tens of
    # rows: LightGBM's default smallest leaf (20 rows) would forbid any split.
    leaf = max(2, min(20, len(rows) // 10)) if verdicts_only else 20
    X_fit, y_fit = ts.replicated(rows)
    return FraudClassifier(min_child_samples=leaf).fit(X_fit, y_fit, feature_names=features)


def labels_needed(verified: pd.DataFrame) -> dict[str, int]:
    """How many more verdicts of each class a detector-only workspace needs for its first classifier."""
    counts = verified["label"].value_counts() if len(verified) else pd.Series(dtype=int)
    return {lab: max(0, MIN_LABELS_PER_CLASS - int(counts.get(lab, 0))) for lab in ("normal", "abnormal")}


def evaluate(
    models: ModelSet, dataset: PreparedDataset, verified: pd.DataFrame, held: Scores | None = None
) -> dict[str, Any]:
    """Held-out metrics and agreement with the verdicts, for one version's models.

    ``held``: the version's scores of the held-out rows, when already computed.
    """
    return {**holdout_metrics(models, dataset, held), **verdict_metrics(models, dataset, verified)}


HOLDOUT_KEYS = (
    "holdout_rows",
    "holdout_frauds",
    "holdout_unknown_rate",
    "holdout_recall",
    "holdout_precision",
    "holdout_pr_auc",
    "holdout_roc_auc",
)


def holdout_metrics(models: ModelSet, dataset: PreparedDataset, held: Scores | None = None) -> dict[str, Any]:
    """PR-AUC, ROC-AUC, precision and recall at the operating threshold, unknown rate.

    The held-out rows and a version's models never change, so these figures are
    stored with the version when it is trained (``held``: its held-out scores, when
    already computed).
    """
    Xh, yh = dataset.X[dataset.holdout], dataset.y[dataset.holdout]
    held = models.score(Xh) if held is None else held
    metrics: dict[str, Any] = {
        "holdout_rows": len(yh),
        "holdout_frauds": int((yh == 1).sum()),
        "holdout_unknown_rate": float(held.unknown.mean()) if len(Xh) else float("nan"),
        "holdout_recall": None,
        "holdout_precision": None,
        "holdout_pr_auc": None,
        "holdout_roc_auc": None,
    }
    labelled = yh >= 0
    if not models.has_classifier or not labelled.any():
        return metrics
    p = held.p[labelled]
    yk = yh[labelled]
    flagged = p >= FRAUD_THRESHOLD
    positives = int((yk == 1).sum())
    metrics["holdout_recall"] = float((flagged & (yk == 1)).sum() / positives) if positives else None
    metrics["holdout_precision"] = float((flagged & (yk == 1)).sum() / flagged.sum()) if flagged.any() else None
    if positives and positives < len(yk):
        metrics["holdout_pr_auc"] = float(average_precision_score(yk, p))
        metrics["holdout_roc_auc"] = float(roc_auc_score(yk, p))
    return metrics


def verdict_metrics(models: ModelSet, dataset: PreparedDataset, verified: pd.DataFrame) -> dict[str, Any]:
    """How a version treats today's verified points: agreement, disagreements, still unknown."""
    ids = verified["point_id"].to_numpy(np.int64)
    expected = (verified["label"] == "abnormal").to_numpy()
    ver = models.score(dataset.X[ids])
    metrics: dict[str, Any] = {"verified_points": len(ids), "verified_unknown": int(ver.unknown.sum())}
    if not models.has_classifier or not len(ids):
        metrics.update(verified_agreement=None, verified_disagreements=[])
        return metrics
    wrong = ids[(ver.p >= FRAUD_THRESHOLD) != expected]
    metrics["verified_agreement"] = float(1 - len(wrong) / len(ids))
    metrics["verified_disagreements"] = [int(i) for i in wrong]
    return metrics


@dataclass(frozen=True)
class GateCondition:
    name: str
    passed: bool
    detail: str


def require_new_verdicts(new_labels: int, current: int | None, anyway: bool = False) -> None:
    """Refuse a retrain that has nothing new to learn, unless asked for ``anyway``.

    With no verdict added, changed or withdrawn since the current version was trained,
    a retrain fits the same training set again and stores a copy of that version.
    """
    if new_labels or anyway:
        return
    since = f"version {current} was trained" if current is not None else "the workspace was set up"
    raise InvalidInput(
        f"nothing new to learn: no verdict has been added, changed or withdrawn since {since}, so a retrain "
        "would build the same models again; label points first, or retrain anyway (--anyway in the CLI)"
    )


# -- candidate vs current on the same held-out rows ------------------------------------------

#: Held-out rows x resamples drawn at once (bounds the draw matrices to ~8 MB each).
_CHUNK_DRAWS = 1_000_000
METRIC_LABELS = {"recall": "recall", "pr_auc": "PR-AUC"}


def _signed(x: float) -> str:
    return f"{x:+.3f}".replace("-", "−")


@dataclass(frozen=True)
class Difference:
    """Candidate minus current on one held-out metric, with its interval and what decided.

    ``low``/``high`` bound a paired bootstrap interval of the difference at
    ``confidence``. ``significant``: the loss is beyond the noise (the whole interval
    lies below 0, or the sign test says so on a small set). The candidate is *worse*
    (refused) only when the loss is significant and larger than ``tolerance``.
    """

    metric: str  # "recall" | "pr_auc"
    candidate: float
    current: float
    difference: float
    low: float
    high: float
    confidence: float
    resamples: int
    positives: int
    negatives: int
    decided_by: str  # "paired bootstrap" | "exact sign test" | "not decided"
    significant: bool
    tolerance: float
    note: str = ""

    @property
    def worse(self) -> bool:
        return self.significant and self.difference < -self.tolerance - 1e-12

    @property
    def interval(self) -> str:
        """``−0.010 [−0.031, +0.000]``: the difference and its interval."""
        return f"{_signed(self.difference)} [{_signed(self.low)}, {_signed(self.high)}]"

    def describe(self, abnormal: str = "abnormal") -> str:
        """``recall −0.010 [−0.031, +0.000] 95% paired bootstrap, 97 held-out fraud cases``."""
        return (
            f"{METRIC_LABELS[self.metric]} {self.interval} {self.confidence:.0%} paired bootstrap, "
            f"{self.positives} held-out {abnormal} cases"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "worse": self.worse}


@dataclass(frozen=True)
class RankCurve:
    """One version's ranking of the held-out rows, reduced to what average precision needs.

    The rows are sorted by score once. Only a group of tied scores that holds a
    positive adds to average precision, so each positive is mapped to its group and
    each negative to the first such group at or after it. The average precision of
    any resample is then two bincounts and a cumulative sum over those groups (never
    over all rows), and equals scikit-learn's ``average_precision_score`` with the
    resample's draw counts as ``sample_weight`` (tied scores form one threshold).

    >>> curve = RankCurve.of(np.array([0.9, 0.4]), np.array([0.8, 0.1]))
    >>> curve.average_precision(np.array([[0, 1]]), np.array([[0, 1]])).round(4).tolist()
    [0.8333]
    """

    group_of_positive: np.ndarray
    bin_of_negative: np.ndarray  # ``groups`` = after the last group that holds a positive
    groups: int

    @classmethod
    def of(cls, p_positive: np.ndarray, p_negative: np.ndarray) -> RankCurve:
        p = np.concatenate([p_positive, p_negative]).astype(np.float64)
        order = np.argsort(-p, kind="stable")
        ranked = p[order]
        group = np.empty(len(p), dtype=np.int64)
        group[order] = np.cumsum(np.r_[True, ranked[1:] != ranked[:-1]]) - 1
        held = np.unique(group[: len(p_positive)])
        return cls(
            np.searchsorted(held, group[: len(p_positive)]), np.searchsorted(held, group[len(p_positive) :]), len(held)
        )

    def average_precision(self, draws_positive: np.ndarray, draws_negative: np.ndarray) -> np.ndarray:
        """Average precision of each resample; row ``i`` of each argument indexes the positives
        (resp. negatives) drawn in resample ``i``."""
        size, width = len(draws_positive), self.groups + 1
        offsets = (np.arange(size, dtype=np.int64) * width)[:, None]

        def per_group(bins: np.ndarray) -> np.ndarray:
            return np.bincount((bins + offsets).ravel(), minlength=size * width).reshape(size, width)[:, :-1]

        gained = per_group(self.group_of_positive[draws_positive])
        tp = np.cumsum(gained, axis=1)
        seen = tp + np.cumsum(per_group(self.bin_of_negative[draws_negative]), axis=1)
        precision = np.divide(tp, seen, out=np.zeros(tp.shape), where=seen > 0)
        return (gained * precision).sum(axis=1) / draws_positive.shape[1]


def paired_differences(
    y: np.ndarray,
    p_candidate: np.ndarray,
    p_current: np.ndarray,
    threshold: float = FRAUD_THRESHOLD,
    confidence: float = GATE_CONFIDENCE,
    resamples: int = GATE_RESAMPLES,
    seed: int = GATE_SEED,
    min_per_class: int = MIN_HOLDOUT_PER_CLASS,
    tolerances: dict[str, float] | None = None,
) -> dict[str, Difference]:
    """Candidate minus current in recall at ``threshold`` and in PR-AUC, on the same rows.

    A paired, stratified bootstrap: each resample redraws the held-out positives and
    negatives with replacement (the class counts stay as they are, as in pROC's
    stratified bootstrap), scores both versions on that same resample, and keeps the
    difference. The interval is the central ``confidence`` share of the resampled
    differences. A loss is *significant* only when the interval's upper bound lies
    below 0: one flipped positive out of 97 is a drop of 0.010, yet it is absent from
    37% of the resamples, so its interval reaches 0. The candidate is *worse* when
    the loss is significant and larger than the metric's tolerance (``tolerances``;
    default :data:`~hitl_core.config.RECALL_TOLERANCE` and
    :data:`~hitl_core.config.PR_AUC_TOLERANCE`): the paired comparison is so precise
    that it also finds losses too small to matter.

    With fewer than ``min_per_class`` rows of a class the bootstrap does not decide:
    recall is decided by an exact one-sided sign test on the positives whose outcome
    changed (at the level of the interval's upper bound), PR-AUC not at all. Rows with
    an unknown label (``y < 0``) are left out. Recall needs a positive, PR-AUC both
    classes; a metric that cannot be measured is absent from the result.
    """
    y = np.asarray(y)
    p_candidate = np.asarray(p_candidate, dtype=np.float64)
    p_current = np.asarray(p_current, dtype=np.float64)
    if not (len(y) == len(p_candidate) == len(p_current)):
        raise InvalidInput(
            f"labels and both versions' scores must cover the same rows; got {len(y)}, "
            f"{len(p_candidate)} and {len(p_current)}"
        )
    if not 0 < confidence < 1:
        raise InvalidInput(f"the confidence level must lie between 0 and 1, not {confidence}")
    if resamples < 100:
        raise InvalidInput(f"a bootstrap needs at least 100 resamples, not {resamples}")
    known = y >= 0
    y, p_candidate, p_current = y[known], p_candidate[known], p_current[known]
    if not (np.isfinite(p_candidate).all() and np.isfinite(p_current).all()):
        raise InvalidInput("both versions need a finite score on every labelled held-out row")
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if not len(pos):
        return {}
    flag_cand, flag_cur = p_candidate >= threshold, p_current >= threshold
    change = flag_cand[pos].astype(np.float64) - flag_cur[pos]  # per positive: +1 gained, -1 lost
    curves = [RankCurve.of(p[pos], p[neg]) for p in (p_candidate, p_current)] if len(neg) else None
    rng = np.random.default_rng(seed)
    recall_diff = np.empty(resamples)
    ap_diff = np.empty(resamples)
    chunk = max(1, _CHUNK_DRAWS // len(y))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        draws_pos = rng.integers(0, len(pos), (size, len(pos)), dtype=np.int32)
        recall_diff[start : start + size] = change[draws_pos].mean(axis=1)
        if curves is not None:
            draws_neg = rng.integers(0, len(neg), (size, len(neg)), dtype=np.int32)
            cand_ap, cur_ap = (curve.average_precision(draws_pos, draws_neg) for curve in curves)
            ap_diff[start : start + size] = cand_ap - cur_ap

    tail = (1 - confidence) / 2
    small = len(pos) < min_per_class or len(neg) < min_per_class
    too_small = (
        f"the held-out set is too small to decide ({len(pos)} positive and {len(neg)} negative rows; "
        f"the bootstrap needs {min_per_class} of each)"
    )

    tolerance = {"recall": RECALL_TOLERANCE, "pr_auc": PR_AUC_TOLERANCE, **(tolerances or {})}

    def difference(
        metric: str,
        values: tuple[float, float],
        diffs: np.ndarray,
        decided_by: str,
        significant: bool | None,
        note: str,
    ) -> Difference:
        low, high = (float(q) for q in np.quantile(diffs, [tail, 1 - tail]))
        if significant is None:  # the bootstrap decides: a loss only if the whole interval lies below 0
            significant = high < -1e-12
        cand, cur = values
        return Difference(
            metric,
            cand,
            cur,
            cand - cur,
            low,
            high,
            confidence,
            resamples,
            len(pos),
            len(neg),
            decided_by,
            significant,
            tolerance[metric],
            note,
        )

    out = {}
    recall = float(flag_cand[pos].mean()), float(flag_cur[pos].mean())
    if small:
        lost = int((flag_cur & ~flag_cand)[pos].sum())
        gained = int((flag_cand & ~flag_cur)[pos].sum())
        p_value = float(binomtest(lost, lost + gained, 0.5, alternative="greater").pvalue) if lost else 1.0
        note = (
            f"{too_small}: decided by an exact sign test on the positives whose outcome changed "
            f"({lost} lost, {gained} gained; one-sided p = {p_value:.3f}, refused below {tail:.3f})"
        )
        out["recall"] = difference("recall", recall, recall_diff, "exact sign test", p_value < tail, note)
    else:
        out["recall"] = difference("recall", recall, recall_diff, "paired bootstrap", None, "")
    if curves is not None:
        every = np.arange(len(pos))[None], np.arange(len(neg))[None]
        ap = float(curves[0].average_precision(*every)[0]), float(curves[1].average_precision(*every)[0])
        if small:
            out["pr_auc"] = difference("pr_auc", ap, ap_diff, "not decided", False, f"{too_small}: shown, not used")
        else:
            out["pr_auc"] = difference("pr_auc", ap, ap_diff, "paired bootstrap", None, "")
    return out


# -- a classifier trained from verdicts alone ------------------------------------------------


@dataclass(frozen=True)
class VerdictClassifierCheck:
    """How a classifier trained from verdicts alone fares where it can be measured.

    Such a classifier (the first one of a detector-only workspace) has no labelled
    held-out rows and no earlier classifier to be compared with, so it is checked on
    its own: cross-validated on the verdicts, and by the share of the replayed stream
    it would flag.
    """

    folds: int
    balanced_accuracy: float | None  # out-of-fold, over the verdicts
    floor: float
    verdicts: int
    flagged: int
    measured: int  # replayed stream rows without a verdict
    bounds: tuple[float, float]

    @property
    def share(self) -> float | None:
        return self.flagged / self.measured if self.measured else None

    def conditions(self, abnormal: str = "abnormal") -> list[GateCondition]:
        if self.balanced_accuracy is None:
            cv = GateCondition(
                "cross-validation",
                False,
                f"too few verdicts of a class to cross-validate the classifier ({self.verdicts} verdicts)",
            )
        else:
            ok = self.balanced_accuracy >= self.floor
            cv = GateCondition(
                "cross-validation",
                ok,
                f"{self.folds}-fold cross-validation on the {self.verdicts} verdicts: balanced accuracy "
                f"{self.balanced_accuracy:.2f} on verdicts each fold's model had not seen "
                f"({'at least' if ok else 'below'} the floor of {self.floor:.2f}; chance is 0.50)"
                + ("" if ok else ": the verdicts do not teach a rule that carries over to new points"),
            )
        low, high = self.bounds
        if self.share is None:
            share = GateCondition("flagged share", True, "no replayed point without a verdict to measure on")
        else:
            ok = low <= self.share <= high
            why = ""
            if self.share > high:
                why = f": it would flag more than {high:.0%} of the traffic"
            elif self.share < low:
                why = ": it flags next to nothing beyond the verdict points"
            share = GateCondition(
                "flagged share",
                ok,
                f"flags {self.flagged:,} of the {self.measured:,} replayed points without a verdict as {abnormal} "
                f"({self.share:.2%}; allowed {low:.2%}–{high:.0%}){why}",
            )
        return [cv, share]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "share": self.share, "bounds": list(self.bounds)}


def check_verdict_classifier(
    dataset: PreparedDataset,
    ts: TrainingSet,
    models: ModelSet,
    replayed: int,
    floor: float = FIRST_CV_FLOOR,
    bounds: tuple[float, float] = FLAGGED_SHARE_BOUNDS,
    seed: int = GATE_SEED,
) -> VerdictClassifierCheck:
    """Cross-validate a classifier trained from verdicts alone and measure its flagged share.

    Stratified k-fold over the verdicts (k = min(5, smallest class)): each fold's
    classifier is fitted exactly as :func:`fit_models` fits it (labelled base rows, if
    any, always train) and predicts the verdicts it has not seen; the pooled
    out-of-fold predictions give the balanced accuracy at the operating threshold.
    The flagged share is measured on the first ``replayed`` stream rows, less those
    with a verdict (the classifier was trained on them).
    """
    if models.adjusted is None or models.base is not None:
        raise InvalidInput("only a classifier trained from verdicts alone is checked this way")
    features = list(dataset.features)
    rows = np.arange(len(ts.y))
    known = ts.y >= 0
    fixed, voted = rows[known & (rows < ts.base_rows)], rows[known & (rows >= ts.base_rows)]
    yv = ts.y[voted]
    k = int(min(5, np.bincount(yv, minlength=2).min()))
    balanced = None
    if k >= 2:
        out_of_fold = np.empty(len(voted))
        for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(voted, yv):
            clf = _fit_adjusted(ts, np.concatenate([fixed, voted[train]]), features, verdicts_only=True)
            out_of_fold[test] = clf.predict_proba(ts.X[voted[test]])
        balanced = float(balanced_accuracy_score(yv, out_of_fold >= FRAUD_THRESHOLD))
    ids = dataset.n_base + np.arange(max(0, min(int(replayed), dataset.stream_len)))
    ids = ids[~np.isin(ids, ts.verified["point_id"].to_numpy(np.int64))]
    # Without a base classifier every row is scored by the verdict classifier alone
    # (see ModelSet.score), so the detector need not run over the whole stream.
    flagged = int((models.adjusted.predict_proba(dataset.X[ids]) >= FRAUD_THRESHOLD).sum()) if len(ids) else 0
    return VerdictClassifierCheck(k, balanced, floor, len(voted), flagged, len(ids), tuple(bounds))


# -- the gate -------------------------------------------------------------------------------


def _held_out_detail(d: Difference, abnormal: str) -> str:
    what = f"{abnormal} recall" if d.metric == "recall" else "PR-AUC"
    head = f"held-out {what} {d.candidate:.3f} vs {d.current:.3f} now: {d.describe(abnormal)}"
    if d.decided_by == "not decided":
        return f"{head}; {d.note}"
    beyond = "the whole interval lies below 0" if d.decided_by == "paired bootstrap" else "the sign test shows it"
    if d.worse:
        loses = (
            f"loses {abnormal} cases the current version catches"
            if d.metric == "recall"
            else f"ranks the known {abnormal} cases below normal ones more often"
        )
        verdict = f"the candidate {loses}: {beyond}, and the drop exceeds the allowed {d.tolerance:.3f}"
    elif d.significant:
        verdict = f"a loss beyond the noise ({beyond}), but within the allowed {d.tolerance:.3f}"
    else:
        verdict = "no loss beyond the noise"
    return f"{head}; {verdict}" + (f"; {d.note}" if d.note else "")


def gate(
    candidate: dict[str, Any],
    current: dict[str, Any] | None,
    tolerance: float = RECALL_TOLERANCE,
    abnormal: str = "abnormal",
    *,
    differences: dict[str, Difference] | None = None,
    verdict_check: VerdictClassifierCheck | None = None,
) -> list[GateCondition]:
    """The promotion conditions, each with a sentence saying why it passed or failed.

    ``differences`` (from :func:`paired_differences`) compare the two versions on the
    same held-out rows: recall and PR-AUC each fail only when the candidate is worse
    beyond the noise. Without them (stored figures only) recall may drop by at most
    ``tolerance``. ``verdict_check`` adds the checks of a classifier trained from
    verdicts alone. ``abnormal`` is the dataset's word for its abnormal class
    ("fraud", "malignant").
    """
    conditions = []
    cand_recall = candidate.get("holdout_recall")
    cur_recall = current.get("holdout_recall") if current else None
    if cand_recall is None and current is not None and cur_recall is not None:
        conditions.append(GateCondition("recall", False, "the candidate has no classifier to measure recall with"))
    elif cand_recall is None or cur_recall is None:
        conditions.append(GateCondition("recall", True, "no earlier recall to compare with"))
    elif differences is not None and "recall" in differences:
        d = differences["recall"]
        conditions.append(GateCondition("recall", not d.worse, _held_out_detail(d, abnormal)))
    else:
        ok = cand_recall >= cur_recall - tolerance - 1e-12
        verb = "keeps" if ok else "loses"
        conditions.append(
            GateCondition(
                "recall",
                ok,
                f"held-out {abnormal} recall {cand_recall:.3f} vs {cur_recall:.3f} now: "
                f"the candidate {verb} the known {abnormal} cases (allowed drop {tolerance:.2f}; "
                "stored figures only, no per-row comparison)",
            )
        )
    if differences is not None and "pr_auc" in differences and cand_recall is not None:
        d = differences["pr_auc"]
        conditions.append(GateCondition("pr_auc", not d.worse, _held_out_detail(d, abnormal)))
    n = candidate.get("verified_points", 0)
    wrong = candidate.get("verified_disagreements", [])
    if n == 0:
        conditions.append(GateCondition("verdicts", True, "no verified points yet"))
    elif (
        candidate.get("verified_agreement") is None
        and (current or {}).get("verified_agreement") is None
        and (current is None or current.get("holdout_recall") is None)
    ):
        conditions.append(
            GateCondition("verdicts", True, "no classifier yet (detector-only): the verdicts refit the detector")
        )
    elif candidate.get("verified_agreement") is None:
        conditions.append(GateCondition("verdicts", False, "the candidate has no classifier to follow the verdicts"))
    else:
        shown = ", ".join(map(str, wrong[:10])) + (" …" if len(wrong) > 10 else "")
        conditions.append(
            GateCondition(
                "verdicts",
                not wrong,
                f"all {n} verified points classified as the experts said"
                if not wrong
                else f"{len(wrong)} of {n} verified points still classified against the experts' verdict: {shown}",
            )
        )
    if verdict_check is not None:
        conditions.extend(verdict_check.conditions(abnormal))
    return conditions


@dataclass(frozen=True)
class Assessment:
    """Everything the gate looked at for one candidate, and its conditions."""

    candidate_metrics: dict[str, Any]
    current_metrics: dict[str, Any] | None
    differences: dict[str, Difference]
    verdict_check: VerdictClassifierCheck | None
    conditions: list[GateCondition]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.conditions)

    def record(self) -> dict[str, Any]:
        """The gate as stored in the candidate's sidecar."""
        return {
            "passed": self.passed,
            "conditions": [c.__dict__ for c in self.conditions],
            "differences": {name: d.to_json() for name, d in self.differences.items()},
            "verdict_classifier": self.verdict_check.to_json() if self.verdict_check else None,
        }


def assess(
    models: ModelSet,
    current: ModelSet | None,
    dataset: PreparedDataset,
    ts: TrainingSet,
    replayed: int,
    abnormal: str = "abnormal",
    progress: Progress = _quiet,
) -> Assessment:
    """Evaluate the candidate and the current version on the same rows and apply the gate.

    The current version's held-out scores are computed again from its models (which
    never change) rather than read from its sidecar: the paired comparison needs them
    row by row, and scoring the held-out rows costs ~0.3 s on the credit-card data
    with all features (3,287 rows) and ~0.08 s on the demo (6,000 rows), measured on
    2 busy cores. ``replayed`` is how far
    the stream has been replayed (a classifier trained from verdicts alone is
    measured on it).
    """
    verified = ts.verified
    Xh, yh = dataset.X[dataset.holdout], dataset.y[dataset.holdout]
    held = models.score(Xh)
    cand_metrics = evaluate(models, dataset, verified, held)
    cur_metrics, differences, check = None, {}, None
    if current is not None:
        progress(0.75, f"Scoring the {len(yh):,} held-out rows with the current version…")
        cur_held = current.score(Xh)
        cur_metrics = evaluate(current, dataset, verified, cur_held)
        if models.has_classifier and current.has_classifier:
            progress(0.78, f"Comparing both versions row by row: {GATE_RESAMPLES:,} paired bootstrap resamples…")
            differences = paired_differences(yh, held.p, cur_held.p)
    if models.adjusted is not None and models.base is None:
        progress(0.8, "Cross-validating the classifier trained from verdicts alone…")
        check = check_verdict_classifier(dataset, ts, models, replayed)
    conditions = gate(cand_metrics, cur_metrics, abnormal=abnormal, differences=differences, verdict_check=check)
    return Assessment(cand_metrics, cur_metrics, differences, check, conditions)


@dataclass
class RetrainResult:
    version: int
    parent: int | None
    decision: str  # promoted | rejected | held
    conditions: list[GateCondition]
    candidate_metrics: dict[str, Any]
    current_metrics: dict[str, Any] | None
    labels_used: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    #: candidate minus current per held-out metric ("recall", "pr_auc"), with intervals
    differences: dict[str, Difference] = field(default_factory=dict)
    #: the checks of a classifier trained from verdicts alone, when the candidate is one
    verdict_check: VerdictClassifierCheck | None = None

    @property
    def promoted(self) -> bool:
        return self.decision == "promoted"

    @property
    def failed(self) -> list[GateCondition]:
        return [c for c in self.conditions if not c.passed]

    @property
    def left_current(self) -> int | None:
        """The version this retrain left current: the candidate if promoted, else its parent."""
        return self.version if self.promoted else self.parent

    def outdated(self, current: int | None) -> bool:
        """Whether the current version has changed since (a switch or another retrain)."""
        return current != self.left_current

    def summary(self, current: int | None = None) -> str:
        """What the retrain did, in one or two sentences.

        Given today's ``current`` version, the summary never claims a version is current
        when it no longer is (after a switch to another version, say).
        """
        if current is not None and self.outdated(current):
            what = {"promoted": "promoted", "held": "stored without promotion", "rejected": "rejected"}
            return (
                f"Version {self.version} was trained with {self.labels_used} verified labels and "
                f"{what[self.decision]}; version {current} has been made current since."
            )
        if self.decision == "promoted":
            return (
                f"Version {self.version} trained with {self.labels_used} verified labels and promoted: "
                "it is now current."
            )
        if self.decision == "held":
            return (
                f"Version {self.version} trained and stored, not promoted (as asked); "
                f"version {self.parent} stays current."
            )
        why = "; ".join(c.detail for c in self.failed)
        return f"Version {self.version} was rejected and version {self.parent} stays current: {why}."


def verified_table(verified: pd.DataFrame) -> bytes:
    columns = ["point_id", "label", "event_id", "reviewer", "created_at"]
    buffer = io.BytesIO()
    verified[columns].to_parquet(buffer, index=False)
    return buffer.getvalue()


def train_version(
    dataset: PreparedDataset,
    verified: pd.DataFrame,
    base: FraudClassifier | None = None,
    progress: Progress = _quiet,
) -> tuple[ModelSet, TrainingSet, float]:
    """Build the training set and fit the models; returns them with the fit time."""
    start = time.perf_counter()
    progress(0.05, f"Building the training set: {dataset.n_train:,} base rows + {len(verified)} verified labels…")
    ts = build_training_set(dataset, verified)
    models = fit_models(dataset, ts, base, progress)
    return models, ts, time.perf_counter() - start


def _classifier_meta(clf: FraudClassifier | None) -> dict[str, Any] | None:
    if clf is None:
        return None
    return {
        "kind": "lightgbm",
        "n_estimators": clf.n_estimators,
        "learning_rate": clf.learning_rate,
        "num_leaves": clf.num_leaves,
        "min_child_samples": clf.min_child_samples,
    }


def version_meta(
    dataset: PreparedDataset,
    ts: TrainingSet,
    models: ModelSet,
    metrics: dict[str, Any],
    **fields: Any,
) -> dict[str, Any]:
    """The sidecar content describing one trained version (the registry adds the rest)."""
    labels = ts.verified["label"] if len(ts.verified) else pd.Series([], dtype=object)
    return {
        **fields,
        "features": list(dataset.features),
        "dataset": {"name": dataset.spec.name, "fingerprint": dataset.fingerprint, "rows": len(dataset)},
        "training_data": {
            "fingerprint": ts.fingerprint,
            "rows": len(ts.X),
            "base_rows": ts.base_rows,
            "expert_labels": len(ts.verified),
            "expert_normal": int((labels == "normal").sum()),
            "expert_abnormal": int((labels == "abnormal").sum()),
            "expert_weight": EXPERT_WEIGHT,
        },
        "labels_used": len(ts.verified),
        "metrics": metrics,
        "classifier": {
            part: _classifier_meta(clf) for part, clf in (("base", models.base), ("adjusted", models.adjusted))
        },
        "detector": {
            "kind": "knn" + ("+feature tails" if getattr(models.detector, "per_feature", False) else ""),
            "per_feature": bool(getattr(models.detector, "per_feature", False)),
            "k": models.detector.k,
            "quantile": models.detector.quantile,
            "threshold": models.detector.threshold_,
            "backend": models.detector.backend_,
            "reference_rows": models.detector.n_reference_,
        },
    }
