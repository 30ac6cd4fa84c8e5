"""From two model outputs to one status per point.

Statuses, by precedence:

* ``unknown``   — the detector flags the point: unlike anything in training data;
* ``uncertain`` — the classifier is inside the review band (0.1 < p < 0.9);
* ``fraud``     — the classifier says abnormal (p >= 0.5) with confidence;
* ``normal``    — everything else.

Which points reach a human, and in what order, is the review policy's business
(:mod:`hitl_core.policy`).
"""

from __future__ import annotations

import numpy as np

from hitl_core.config import FRAUD_THRESHOLD, UNCERTAIN_BAND

NORMAL, FRAUD, UNCERTAIN, UNKNOWN = 0, 1, 2, 3
STATUS_NAMES = ("normal", "fraud", "uncertain", "unknown")


def fraud_flags(p: np.ndarray) -> np.ndarray:
    """True where the classifier calls a point abnormal (NaN = no classifier = False)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(p) >= FRAUD_THRESHOLD


def uncertain_flags(p: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    low, high = UNCERTAIN_BAND
    p = np.asarray(p)
    with np.errstate(invalid="ignore"):
        return (p > low) & (p < high) & ~np.asarray(unknown, dtype=bool)


def statuses(p: np.ndarray, unknown: np.ndarray) -> np.ndarray:
    """Status code per point (see module docstring for the precedence)."""
    unknown = np.asarray(unknown, dtype=bool)
    out = np.where(fraud_flags(p), FRAUD, NORMAL).astype(np.int8)
    out[uncertain_flags(p, unknown)] = UNCERTAIN
    out[unknown] = UNKNOWN
    return out


def status_names(codes: np.ndarray) -> np.ndarray:
    return np.asarray(STATUS_NAMES, dtype=object)[np.asarray(codes, dtype=np.int64)]
