"""Retraining: the gate, the verdict weight, local verdicts, held candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hitl_core import Workspace, retrain
from hitl_core.config import EXPERT_WEIGHT
from hitl_core.datasets import DatasetSpec, PreparedDataset
from tests.conftest import scenario_points


def test_gate_conditions_explain_themselves():
    cand = {"holdout_recall": 0.80, "verified_points": 3, "verified_agreement": 2 / 3, "verified_disagreements": [7]}
    cur = {"holdout_recall": 0.82}
    conditions = {c.name: c for c in retrain.gate(cand, cur)}
    assert not conditions["recall"].passed and "0.800 vs 0.820" in conditions["recall"].detail
    assert (
        not conditions["verdicts"].passed
        and "1 of 3" in conditions["verdicts"].detail
        and "7" in conditions["verdicts"].detail
    )
    ok = retrain.gate({**cand, "holdout_recall": 0.811, "verified_agreement": 1.0, "verified_disagreements": []}, cur)
    assert all(c.passed for c in ok)  # a drop of 0.009 is within the 0.01 tolerance
    assert all(c.passed for c in retrain.gate({"holdout_recall": 0.5, "verified_points": 0}, None))


def test_a_candidate_that_loses_known_fraud_is_rejected_and_current_stays(ws: Workspace):
    ws.stream.pause()
    ws.replay(6_000)
    frauds = ws.scored().query("status == 'fraud'")["point_id"].tolist()
    assert len(frauds) > 20
    ws.label_many(frauds, "normal", "mallory")  # a reviewer clearing real fraud
    result = ws.retrain()
    assert result.decision == "rejected"
    names = [c.name for c in result.failed]
    assert "recall" in names and "verdicts" not in names  # it loses PR-AUC too
    assert result.candidate_metrics["holdout_recall"] < result.current_metrics["holdout_recall"] - 0.01
    assert ws.current_version() == 1
    history = ws.history().set_index("version")
    assert history.loc[2, "decision"] == "rejected" and not history.loc[2, "current"]
    assert "stays current" in result.summary()


def test_no_promote_keeps_a_passing_candidate_out(ws: Workspace):
    ws.stream.pause()
    ws.replay(1_400)
    ws.label_many(scenario_points(ws, "b", below=1_400).tolist(), "abnormal", "ana")
    result = ws.retrain(promote=False)
    assert result.decision == "held" and all(c.passed for c in result.conditions)
    assert ws.current_version() == 1
    assert ws.new_labels() == len(scenario_points(ws, "b", below=1_400))
    ws.rollback(result.version)  # a held candidate can still be made current by hand
    assert ws.current_version() == result.version and ws.new_labels() == 0


def test_verdicts_act_only_near_themselves(ws: Workspace):
    ws.stream.pause()
    ws.replay(1_400)
    b = scenario_points(ws, "b", below=1_400)
    ws.label_many(b.tolist(), "abnormal", "ana")
    result = ws.retrain()
    v1, v2 = ws.models(1).models, ws.models(result.version).models
    held = ws.dataset.X[ws.dataset.holdout]
    scores = v2.score(held)
    # Away from the verdicts the new version scores exactly like the old one.
    np.testing.assert_array_equal(scores.p[~scores.near_verdict], v1.score(held).p[~scores.near_verdict])
    assert scores.near_verdict.sum() < 5
    assert v2.score(ws.dataset.X[b]).near_verdict.all()
    # The base classifier is carried over, not refitted: the base data never changes.
    assert v2.base.booster_.model_to_string() == v1.base.booster_.model_to_string()


def _overruled_cluster(k: int) -> tuple[PreparedDataset, pd.DataFrame]:
    """A dense fraud cluster in which an expert marks ``k`` points normal (a known merchant, say)."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (20_000, 2)), rng.normal([3, 3], 0.5, (600, 2))])
    y = np.r_[np.zeros(20_000), np.ones(600)].astype(np.int8)
    order = rng.permutation(len(X))
    stream = np.vstack([rng.normal([3, 3], 0.05, (k, 2)), rng.normal(0, 1, (2_000, 2))])
    Xall = np.vstack([X[order], stream])
    yall = np.r_[y[order], np.ones(k), np.zeros(2_000)].astype(np.int8)
    spec = DatasetSpec("synthetic", ("f0", "f1"), "y", None, "test", base_fraction=len(X) / len(Xall))
    ds = PreparedDataset(spec, Xall, yall, np.arange(len(Xall), dtype=float))
    return ds, pd.DataFrame({"point_id": ds.n_base + np.arange(k), "label": ["normal"] * k})


@pytest.mark.parametrize("k", [3, 5])
def test_expert_weight_lets_a_few_verdicts_overrule_their_neighbours(k):
    ds, verdicts = _overruled_cluster(k)
    ids = verdicts["point_id"].to_numpy()

    def fit(weight):
        models = retrain.fit_models(ds, retrain.build_training_set(ds, verdicts, weight))
        return models.score(ds.X[ids]).p

    at_one, at_default = fit(1.0), fit(EXPERT_WEIGHT)
    assert (at_one > 0.1).any()  # weight 1: some verdicts outvoted or still in the review band
    assert (at_default < 0.5).all()  # the default: every verdict followed
    assert (at_default <= 0.11).mean() >= 0.8  # and nearly all leave the review band
