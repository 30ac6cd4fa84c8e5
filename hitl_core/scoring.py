"""From two model outputs to one status per point, and the review queue.

Statuses, by precedence:

* ``unknown``   — the detector flags the point: unlike anything in training data;
* ``uncertain`` — the classifier is inside the review band (0.1 < p < 0.9);
* ``fraud``     — the classifier says abnormal (p >= 0.5) with confidence;
* ``normal``    — everything else.

The review queue holds, unlabelled and in this order: points a person picked for
review, unknown points (most novel first), uncertain points (closest to 0.5 first),
and a small deterministic audit sample of confident points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hitl_core.config import AUDIT_SHARE, FRAUD_THRESHOLD, UNCERTAIN_BAND

NORMAL, FRAUD, UNCERTAIN, UNKNOWN = 0, 1, 2, 3
STATUS_NAMES = ("normal", "fraud", "uncertain", "unknown")

REASONS = ("picked for review", "unknown", "uncertain", "audit sample")


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


def audit_flags(point_ids: np.ndarray, share: float = AUDIT_SHARE) -> np.ndarray:
    """A deterministic pseudo-random ``share`` of points (stable across restarts)."""
    ids = np.asarray(point_ids, dtype=np.uint64)
    mixed = (ids * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)  # Fibonacci hashing
    return (mixed.astype(np.float64) / float(1 << 24)) < share


def queue_reasons(p: np.ndarray, unknown: np.ndarray, requested: np.ndarray, audit: np.ndarray) -> np.ndarray:
    """Why each point would be queued: an index into :data:`REASONS`, or -1 for "not queued"."""
    unknown = np.asarray(unknown, dtype=bool)
    uncertain = uncertain_flags(p, unknown)
    masks = (
        np.asarray(requested, dtype=bool),
        unknown,
        uncertain,
        np.asarray(audit, dtype=bool) & ~unknown & ~uncertain,
    )
    reason = np.full(len(unknown), -1, dtype=np.int8)
    for code, mask in reversed(list(enumerate(masks))):
        reason[mask] = code
    return reason


def review_queue(
    point_ids: np.ndarray,
    p: np.ndarray,
    novelty: np.ndarray,
    threshold: np.ndarray,
    unknown: np.ndarray,
    requested: np.ndarray,
    labelled: np.ndarray,
    audit: np.ndarray | None = None,
) -> pd.DataFrame:
    """Rank the points that need a human, best first.

    All arguments are aligned arrays over the streamed points; ``threshold`` is the
    detector threshold that applied when each point was scored, ``labelled`` marks
    points that already carry an expert label (they leave the queue) and ``audit``
    the audit sample (default: :func:`audit_flags` of the point ids).
    """
    point_ids = np.asarray(point_ids, dtype=np.int64)
    unknown = np.asarray(unknown, dtype=bool)
    audit = audit_flags(point_ids) if audit is None else audit
    reason = queue_reasons(p, unknown, requested, audit)
    keep = (reason >= 0) & ~np.asarray(labelled, dtype=bool)
    idx = np.flatnonzero(keep)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.asarray(novelty)[idx] / np.asarray(threshold)[idx]
    closeness = np.abs(np.asarray(p)[idx] - 0.5)
    # Sort key within each reason: unknown by novelty (desc), uncertain by closeness
    # to 0.5 (asc), picked and audit points in stream order.
    within = np.select(
        [reason[idx] == 1, reason[idx] == 2],
        [-np.nan_to_num(ratio, nan=0.0), closeness],
        default=idx.astype(np.float64),
    )
    order = np.lexsort((idx, within, reason[idx]))
    idx = idx[order]
    return pd.DataFrame(
        {
            "point_id": point_ids[idx],
            "reason": np.asarray(REASONS, dtype=object)[reason[idx]],
            "p": np.asarray(p)[idx],
            "novelty": np.asarray(novelty)[idx],
            "threshold": np.asarray(threshold)[idx],
            "status": status_names(statuses(np.asarray(p)[idx], unknown[idx])),
        }
    )
