"""The promotion gate: paired comparison on the held-out rows, verdict-only classifiers.

Unit tests drive :func:`hitl_core.retrain.paired_differences` and :func:`gate` with
per-row scores built so that the answer is known; end-to-end tests retrain real
workspaces (the demo, breast cancer, detector-only tables, the credit-card data).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score
from streamlit.testing.v1 import AppTest

from hitl_app.state import StateKeys
from hitl_core import Workspace, demo, retrain
from hitl_core.config import FRAUD_THRESHOLD, GATE_RESAMPLES, MIN_HOLDOUT_PER_CLASS
from hitl_core.errors import InvalidInput
from tests.conftest import REPO, SHARED_DATA, run_cli, scenario_points

CREDITCARD = SHARED_DATA / "creditcard_subset.parquet"


def _held_out(positives: int = 97, negatives: int = 3_190, missed: int = 20, seed: int = 0):
    """Labels and the current version's scores: ``missed`` positives below the threshold."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(positives, dtype=np.int8), np.zeros(negatives, dtype=np.int8)]
    p_pos = rng.uniform(0.6, 0.99, positives)
    p_pos[:missed] = rng.uniform(0.05, 0.45, missed)
    p_neg = np.r_[rng.uniform(0.0, 0.45, negatives - 40), rng.uniform(0.5, 0.7, 40)]  # 40 false alarms
    return y, np.r_[p_pos, p_neg]


def _figures(y: np.ndarray, p: np.ndarray) -> dict:
    """The scalar figures the gate reads, as :func:`retrain.holdout_metrics` computes them."""
    flagged = p >= FRAUD_THRESHOLD
    return {
        "holdout_recall": float(flagged[y == 1].mean()),
        "holdout_pr_auc": float(average_precision_score(y, p)),
        "verified_points": 0,
    }


def _judge(y, cand, cur, **kwargs):
    differences = retrain.paired_differences(y, cand, cur, **kwargs)
    conditions = retrain.gate(_figures(y, cand), _figures(y, cur), abnormal="fraud", differences=differences)
    return differences, {c.name: c for c in conditions}


# -- the paired comparison ------------------------------------------------------------------


def test_one_flipped_held_out_fraud_is_noise_and_the_candidate_is_promoted():
    y, cur = _held_out()
    cand = cur.copy()
    cand[30] = 0.3  # one caught fraud (p 0.6-0.99) now scored below the threshold
    # The fixed tolerance alone would refuse it: the drop is 1/97 = 0.0103 > 0.01.
    figures_only = {c.name: c for c in retrain.gate(_figures(y, cand), _figures(y, cur), abnormal="fraud")}
    assert not figures_only["recall"].passed
    differences, conditions = _judge(y, cand, cur)
    recall = differences["recall"]
    assert recall.difference == pytest.approx(-1 / 97)
    assert recall.low < recall.difference and recall.high == 0  # absent from ~37% of the resamples
    assert not recall.significant and not recall.worse and recall.decided_by == "paired bootstrap"
    assert conditions["recall"].passed and conditions["pr_auc"].passed
    detail = conditions["recall"].detail
    assert "recall −0.010 [" in detail and "95% paired bootstrap, 97 held-out fraud cases" in detail
    assert "no loss beyond the noise" in detail


def test_a_clearly_worse_candidate_is_refused_with_the_reason():
    y, cur = _held_out()
    cand = cur.copy()
    cand[20:40] = 0.3  # twenty caught frauds lost: recall drops by 0.206
    differences, conditions = _judge(y, cand, cur)
    recall = differences["recall"]
    assert recall.difference == pytest.approx(-20 / 97) and recall.high < 0 and recall.worse
    assert not conditions["recall"].passed
    detail = conditions["recall"].detail
    assert "held-out fraud recall 0.588 vs 0.794 now" in detail
    assert "loses fraud cases the current version catches" in detail and "whole interval lies below 0" in detail


def test_a_clearly_lower_pr_auc_is_refused_even_with_recall_equal():
    y, cur = _held_out()
    cand = cur.copy()
    caught = np.flatnonzero((y == 1) & (cur >= FRAUD_THRESHOLD))
    cand[caught] = np.random.default_rng(1).uniform(0.5, 0.52, len(caught))  # still flagged, below 40 false alarms
    assert ((cand >= FRAUD_THRESHOLD) == (cur >= FRAUD_THRESHOLD)).all()
    differences, conditions = _judge(y, cand, cur)
    assert differences["recall"].difference == 0 and conditions["recall"].passed
    pr = differences["pr_auc"]
    assert pr.difference < -0.1 and pr.high < 0 and pr.worse
    assert not conditions["pr_auc"].passed
    detail = conditions["pr_auc"].detail
    assert detail.startswith("held-out PR-AUC") and "ranks the known fraud cases below normal ones" in detail


def test_a_significant_but_negligible_pr_auc_loss_passes_within_its_tolerance():
    y, cur = _held_out()
    caught = np.flatnonzero((y == 1) & (cur >= FRAUD_THRESHOLD))
    caught = caught[np.argsort(cur[caught])][:20]  # the twenty lowest-scored caught frauds
    shadows = np.flatnonzero(y == 0)[:20]
    cur[shadows] = cur[caught] - 0.0005  # each with a normal row scored just below it ...
    cand = cur.copy()
    cand[caught] -= 0.001  # ... which the candidate ranks just above it: many tiny swaps
    differences, conditions = _judge(y, cand, cur)
    pr = differences["pr_auc"]
    assert pr.high < 0 and pr.significant  # real, as far as the held-out rows can tell ...
    assert -pr.tolerance < pr.difference and not pr.worse  # ... but too small to matter
    assert conditions["pr_auc"].passed and "within the allowed 0.005" in conditions["pr_auc"].detail


def test_identical_versions_differ_by_nothing():
    y, cur = _held_out()
    differences, conditions = _judge(y, cur.copy(), cur)
    for d in differences.values():
        assert d.difference == 0 and d.low == 0 and d.high == 0 and not d.worse
    assert all(c.passed for c in conditions.values())


def test_average_precision_of_each_resample_equals_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    y = (rng.random(2_000) < 0.05).astype(int)
    p = np.round(np.clip(rng.normal(0.2 + 0.4 * y, 0.2), 0, 1), 2)  # rounded: many tied scores
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    curve = retrain.RankCurve.of(p[pos], p[neg])
    draws_pos = rng.integers(0, len(pos), (20, len(pos)))
    draws_neg = rng.integers(0, len(neg), (20, len(neg)))
    ours = curve.average_precision(draws_pos, draws_neg)
    for i in range(20):
        weight = np.bincount(pos[draws_pos[i]], minlength=len(y)) + np.bincount(neg[draws_neg[i]], minlength=len(y))
        assert ours[i] == pytest.approx(average_precision_score(y, p, sample_weight=weight), abs=1e-12)
    everything = curve.average_precision(np.arange(len(pos))[None], np.arange(len(neg))[None])[0]
    assert everything == pytest.approx(average_precision_score(y, p), abs=1e-12)


def test_the_bootstrap_is_seeded_and_costs_well_under_a_second_on_5000_rows():
    y, cur = _held_out(positives=150, negatives=4_850)
    cand = np.clip(cur + np.random.default_rng(2).normal(0, 0.05, len(cur)), 0, 1)
    start = time.perf_counter()
    first = retrain.paired_differences(y, cand, cur)
    seconds = time.perf_counter() - start
    assert first == retrain.paired_differences(y, cand, cur)  # the same decision every time
    assert first["recall"].resamples == GATE_RESAMPLES
    assert seconds < 2.0  # ~0.3 s measured on 2 busy cores; generous for a shared machine


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.array([1, 0]), np.array([0.9]), np.array([0.9, 0.1])), "same rows"),
        ((np.array([1, 0]), np.array([np.nan, 0.1]), np.array([0.9, 0.1])), "finite score"),
    ],
)
def test_bad_scores_are_refused_with_a_message(args, message):
    with pytest.raises(InvalidInput, match=message):
        retrain.paired_differences(*args)


def test_a_small_held_out_set_says_it_cannot_decide_and_falls_back_to_a_sign_test():
    y, cur = _held_out(positives=17, negatives=51, missed=2)
    assert (y == 1).sum() < MIN_HOLDOUT_PER_CLASS
    one = cur.copy()
    one[5] = 0.3
    differences, conditions = _judge(y, one, cur)
    assert differences["recall"].decided_by == "exact sign test" and not differences["recall"].worse
    assert differences["pr_auc"].decided_by == "not decided"
    for name in ("recall", "pr_auc"):
        assert conditions[name].passed and "too small to decide" in conditions[name].detail
    lost = cur.copy()
    lost[2:17] = 0.3  # every caught case lost: visible even on 17 rows
    differences, conditions = _judge(y, lost, cur)
    assert differences["recall"].worse and not conditions["recall"].passed
    assert "15 lost, 0 gained" in conditions["recall"].detail


# -- end to end on the demo -------------------------------------------------------------------


def test_retrain_compares_both_versions_on_the_same_rows_and_stores_the_intervals(ws: Workspace):
    ws.stream.pause()
    ws.replay(1_400)
    ws.label_many(scenario_points(ws, "b", below=1_400).tolist(), "abnormal", "ana")
    result = ws.retrain()
    assert result.promoted
    assert set(result.differences) == {"recall", "pr_auc"}
    assert {c.name for c in result.conditions} == {"recall", "pr_auc", "verdicts"}
    # The current version's held-out figures, recomputed from its models, are the stored ones.
    stored = ws.registry.meta(1)["metrics"]
    for key in retrain.HOLDOUT_KEYS:
        assert result.current_metrics[key] == pytest.approx(stored[key])
    gate = ws.registry.meta(result.version)["gate"]
    assert gate["differences"]["recall"]["decided_by"] == "paired bootstrap"
    assert gate["differences"]["pr_auc"]["difference"] == pytest.approx(result.differences["pr_auc"].difference)


def test_cli_retrain_json_gives_each_difference_with_its_interval(home: Path):
    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(1_400)
    ws.label_many(scenario_points(ws, "b", below=1_400).tolist(), "abnormal", "ana")
    proc = run_cli(home, "retrain", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["decision"] == "promoted"
    for metric in ("recall", "pr_auc"):
        d = out["differences"][metric]
        keys = {"candidate", "current", "difference", "low", "high", "confidence", "resamples", "decided_by"}
        assert keys <= set(d)
        assert d["low"] <= d["difference"] <= d["high"] or d["low"] <= d["high"]
        assert d["confidence"] == 0.95 and d["resamples"] == GATE_RESAMPLES and d["decided_by"] == "paired bootstrap"
        assert d["difference"] == pytest.approx(d["candidate"] - d["current"])
    text = run_cli(home, "retrain", "--anyway")
    assert text.returncode == 0, text.stderr
    assert "pass  recall: held-out fraud recall" in text.stdout and "95% paired bootstrap" in text.stdout
    assert "pass  pr_auc: held-out PR-AUC" in text.stdout


def test_the_retrain_page_shows_each_difference_with_its_interval(ws: Workspace):
    ws.stream.pause()
    ws.replay(1_400)
    ws.label_many(scenario_points(ws, "b", below=1_400).tolist(), "abnormal", "ana")
    result = ws.retrain()
    at = AppTest.from_file(str(REPO / "Home.py"), default_timeout=120)
    at.session_state[StateKeys.REVIEWER] = "Ana Ruiz"
    at.session_state[StateKeys.LAST_RETRAIN] = result
    at.switch_page("app_pages/retrain.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value.set_index("metric")
    assert table.loc["Fraud recall (held-out)", "difference [interval]"] == result.differences["recall"].interval
    assert table.loc["PR-AUC (held-out)", "difference [interval]"] == result.differences["pr_auc"].interval
    assert table.loc["Precision (held-out)", "difference [interval]"] == "—"
    assert any("paired bootstrap" in c.value and "whole interval lies below 0" in c.value for c in at.caption)
    gate = "\n".join(m.value for m in at.markdown)
    assert "**recall** — held-out fraud recall" in gate and "95% paired bootstrap" in gate


# -- a held-out set too small to decide ---------------------------------------------------------


def test_breast_cancer_held_out_set_is_named_too_small(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.init("breast_cancer")
    ws.stream.pause()
    ws.replay(100)
    queue = ws.queue().head(15)
    truth = ws.dataset.y[queue["point_id"].to_numpy()]
    for verdict in ("normal", "abnormal"):
        ids = queue["point_id"][truth == (verdict == "abnormal")].tolist()
        if ids:
            ws.label_many(ids, verdict, "expert")
    result = ws.retrain()
    recall, pr = result.differences["recall"], result.differences["pr_auc"]
    assert recall.positives + recall.negatives == 68 and recall.positives < MIN_HOLDOUT_PER_CLASS
    assert recall.decided_by == "exact sign test" and pr.decided_by == "not decided"
    conditions = {c.name: c for c in result.conditions}
    assert "too small to decide" in conditions["recall"].detail
    assert "malignant" in conditions["recall"].detail and "shown, not used" in conditions["pr_auc"].detail


# -- a classifier trained from verdicts alone ---------------------------------------------------


@pytest.fixture(scope="module")
def detector_only(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A workspace on the demo data without its label column (and the labels it lost)."""
    folder = tmp_path_factory.mktemp("detector-only")
    frame = demo.generate(20_000)
    truth = frame.pop("Class").to_numpy()
    frame.drop(columns="Scenario").to_parquet(folder / "unlabelled.parquet")
    Workspace(folder / "ws").init("table", folder / "unlabelled.parquet", "V4,V14", label=None, time="Time")
    return folder / "ws", truth


def _verdicts_only(detector_only, tmp_path, choose) -> retrain.RetrainResult:
    template, truth = detector_only
    shutil.copytree(template, tmp_path / "ws")
    ws = Workspace(tmp_path / "ws")
    assert ws.mode == "detector-only"
    ws.stream.pause()
    ws.replay(5_000)
    ids = ws.scored()["point_id"].to_numpy()
    normal, abnormal = choose(np.random.default_rng(0), ids, truth[ids])
    ws.label_many(normal.tolist(), "normal", "ana")
    ws.label_many(abnormal.tolist(), "abnormal", "ana")
    result = ws.retrain()
    assert result.verdict_check is not None and result.verdict_check.verdicts == 20
    assert ws.current_version() == (result.version if result.promoted else result.parent)
    return result


def test_an_honest_first_classifier_passes_its_own_checks(detector_only, tmp_path):
    def honest(rng, ids, truth):
        return rng.choice(ids[truth == 0], 10, replace=False), rng.choice(ids[truth == 1], 10, replace=False)

    result = _verdicts_only(detector_only, tmp_path, honest)
    assert result.promoted, result.summary()
    conditions = {c.name: c for c in result.conditions}
    assert conditions["cross-validation"].passed and result.verdict_check.balanced_accuracy >= 0.7
    assert conditions["flagged share"].passed and 0.0001 <= result.verdict_check.share <= 0.5
    assert "5-fold cross-validation on the 20 verdicts" in conditions["cross-validation"].detail
    assert "of the 4,980 replayed points without a verdict" in conditions["flagged share"].detail


def test_a_first_classifier_from_random_verdicts_fails_cross_validation(detector_only, tmp_path):
    def random_verdicts(rng, ids, truth):  # a reviewer clicking without looking
        pick = rng.choice(ids[truth == 0], 20, replace=False)
        return pick[:10], pick[10:]

    result = _verdicts_only(detector_only, tmp_path, random_verdicts)
    assert result.decision == "rejected"
    failed = {c.name: c for c in result.failed}
    assert "cross-validation" in failed and "verdicts" not in failed  # it fits them, but learns nothing
    assert result.verdict_check.balanced_accuracy < 0.7
    assert "do not teach a rule" in failed["cross-validation"].detail and "stays current" in result.summary()


def test_a_first_classifier_that_flags_most_of_the_stream_is_refused(detector_only, tmp_path):
    def swapped(rng, ids, truth):  # the two verdict buttons swapped: fraud "normal", normal "abnormal"
        return rng.choice(ids[truth == 1], 10, replace=False), rng.choice(ids[truth == 0], 10, replace=False)

    result = _verdicts_only(detector_only, tmp_path, swapped)
    assert result.decision == "rejected"
    assert [c.name for c in result.failed] == ["flagged share"]  # consistent verdicts: CV and verdicts pass
    assert result.verdict_check.share > 0.5
    assert "it would flag more than 50% of the traffic" in result.failed[0].detail


# -- real data: the credit-card subset with every feature ---------------------------------------


@pytest.fixture(scope="module")
def creditcard_file() -> Path:
    if not CREDITCARD.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CREDITCARD} must be present in CI")
        pytest.skip(f"{CREDITCARD} is not present (the shared data folder sits beside the project in CI)")
    return CREDITCARD


@pytest.mark.slow
def test_oracle_verdicts_on_the_creditcard_data_are_promoted(creditcard_file, tmp_path):
    home = tmp_path / "ws"
    proc = run_cli(home, "init", "--dataset", "creditcard", "--data", str(creditcard_file), "--features", "all")
    assert proc.returncode == 0, proc.stderr
    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(3_000)
    queue = ws.queue().head(30)
    ids = queue["point_id"].to_numpy()
    truth = ws.dataset.y[ids]  # the recorded Class: an oracle reviewer
    assert 0 < truth.sum() < len(ids)
    ws.label_many(ids[truth == 1].tolist(), "abnormal", "oracle")
    ws.label_many(ids[truth == 0].tolist(), "normal", "oracle")
    proc = run_cli(home, "retrain", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["decision"] == "promoted", out["conditions"]
    recall = out["differences"]["recall"]
    assert recall["positives"] == 97 and recall["decided_by"] == "paired bootstrap"
    assert recall["high"] >= 0 and out["differences"]["pr_auc"]["high"] >= -out["differences"]["pr_auc"]["tolerance"]
    assert pd.Series([c["passed"] for c in out["conditions"]]).all()
