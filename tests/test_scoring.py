"""Statuses and the review queue order."""

from __future__ import annotations

import numpy as np

from hitl_core import scoring


def test_status_precedence():
    p = np.array([0.01, 0.95, 0.6, 0.3, 0.95, np.nan])
    unknown = np.array([False, False, False, False, True, False])
    names = scoring.status_names(scoring.statuses(p, unknown)).tolist()
    assert names == ["normal", "fraud", "uncertain", "uncertain", "unknown", "normal"]
    assert scoring.fraud_flags(p).tolist() == [False, True, True, False, True, False]


def test_queue_order_picked_then_unknown_by_novelty_then_uncertain_by_closeness():
    ids = np.arange(100, 108)
    p = np.array([0.02, 0.55, 0.2, 0.48, 0.99, 0.01, 0.7, 0.3])
    novelty = np.array([0.1, 0.1, 0.1, 0.1, 5.0, 9.0, 0.1, 0.1])
    threshold = np.full(8, 1.0)
    unknown = novelty > threshold
    requested = np.zeros(8, bool)
    requested[0] = True
    labelled = np.zeros(8, bool)
    labelled[7] = True  # p=0.3 would be uncertain but is already labelled
    q = scoring.review_queue(ids, p, novelty, threshold, unknown, requested, labelled)
    assert q["point_id"].tolist()[:7] == [100, 105, 104, 103, 101, 106, 102]
    assert q["reason"].tolist()[:7] == ["picked for review", "unknown", "unknown"] + ["uncertain"] * 4
    assert 107 not in q["point_id"].tolist()


def test_audit_sample_is_deterministic_and_small():
    ids = np.arange(200_000)
    a = scoring.audit_flags(ids, 0.002)
    assert np.array_equal(a, scoring.audit_flags(ids, 0.002))
    assert 0.0015 < a.mean() < 0.0025
