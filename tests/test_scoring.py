"""Statuses (the queue itself is tested in tests/test_policy.py)."""

from __future__ import annotations

import numpy as np

from hitl_core import scoring


def test_status_precedence():
    p = np.array([0.01, 0.95, 0.6, 0.3, 0.95, np.nan])
    unknown = np.array([False, False, False, False, True, False])
    names = scoring.status_names(scoring.statuses(p, unknown)).tolist()
    assert names == ["normal", "fraud", "uncertain", "uncertain", "unknown", "normal"]
    assert scoring.fraud_flags(p).tolist() == [False, True, True, False, True, False]
