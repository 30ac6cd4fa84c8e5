"""The review policy: which points reach a human, in what mix and in what order.

Every replayed point that is not labelled yet has at most one *reason* to be
reviewed, by precedence:

* ``picked for review`` — a person picked it (on the map); always first;
* ``unknown``     — the detector has seen nothing like it;
* ``alert``       — the classifier flags it (p at or above the operating threshold):
  in fraud operations the alerts are the investigators' main work, and a confident
  but wrong alert is exactly what only a human can correct;
* ``uncertain``   — the classifier is inside the review band;
* ``exploration`` — a small deterministic random share of the stream, so that what
  every model is confident about still gets looked at now and then.

The queue's head mixes the reasons by their **shares** (a smooth weighted round
robin: after any number of points each reason has had about its share of them), and
orders the points within each reason as the policy says. Alerts beyond the **daily
capacity** (per day of the data's time column; the whole stream is one day without
one) wait at the end of the queue: investigators confirm up to a capacity a day.

The default policy is :data:`hitl_core.config.REVIEW_POLICY`; a workspace keeps its
own in ``artifacts/policy.json``, changed in the app or with ``python -m hitl_core
policy``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from hitl_core.config import EXPLORATION_RATE, FRAUD_THRESHOLD, REVIEW_POLICY, UNCERTAIN_BAND
from hitl_core.errors import InvalidInput

PICKED, UNKNOWN, ALERT, UNCERTAIN, EXPLORATION = range(5)
REASONS = ("picked for review", "unknown", "alert", "uncertain", "exploration")
#: The reasons whose share of the queue the policy sets (picked points always lead).
MIXED = REASONS[1:]
#: Orderings offered within each reason; the first is the default.
ORDERINGS: dict[str, tuple[str, ...]] = {
    "unknown": ("most novel", "newest"),
    "alert": ("most confident", "least confident", "newest"),
    "uncertain": ("closest to the threshold", "newest"),
    "exploration": ("newest", "oldest"),
}
SECONDS_PER_DAY = 86_400
#: Why a point is in the queue, as the Verify card says it.
EXPLAINED = {
    "picked for review": "someone picked it on the map",
    "unknown": "the detector has seen nothing like it",
    "alert": "the classifier flags it: confirm or clear the alert",
    "uncertain": "the classifier is unsure",
    "exploration": "a random check of the stream",
}


@dataclass(frozen=True)
class ReviewPolicy:
    """Shares of the queue per reason, the daily alert capacity, and the order within each reason.

    >>> p = ReviewPolicy.default()
    >>> round(sum(p.shares.values()), 6)
    1.0
    >>> p.with_changes(shares={"alert": 2, "unknown": 1, "uncertain": 1, "exploration": 0}).shares["alert"]
    0.5
    """

    shares: dict[str, float] = field(default_factory=dict)
    alert_capacity: int = 0
    order: dict[str, str] = field(default_factory=dict)

    @classmethod
    def default(cls) -> ReviewPolicy:
        return cls.from_json(REVIEW_POLICY)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ReviewPolicy:
        if not isinstance(raw, dict):
            raise InvalidInput("a review policy must be a JSON object")
        unknown_keys = set(raw) - {"shares", "alert_capacity", "order", "schema"}
        if unknown_keys:
            raise InvalidInput(f"unknown review-policy setting(s): {', '.join(sorted(unknown_keys))}")
        base = REVIEW_POLICY
        return cls(
            shares=dict(raw.get("shares", base["shares"])),
            alert_capacity=raw.get("alert_capacity", base["alert_capacity"]),
            order={**base["order"], **dict(raw.get("order", {}))},
        ).validated()

    def to_json(self) -> dict[str, Any]:
        return {"schema": 1, **asdict(self)}

    def validated(self) -> ReviewPolicy:
        """The same policy with shares normalised to sum to 1; InvalidInput naming any problem."""
        shares = {}
        for reason, value in self.shares.items():
            if reason not in MIXED:
                raise InvalidInput(f"there is no review reason {reason!r}; reasons: {', '.join(MIXED)}")
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"the share of {reason!r} must be a number, not {value!r}") from None
            if not math.isfinite(value) or value < 0:
                raise InvalidInput(f"the share of {reason!r} must be a non-negative number, not {value!r}")
            shares[reason] = value
        total = sum(shares.values())
        if total <= 0:
            raise InvalidInput("at least one reason needs a share above zero")
        shares = {reason: round(shares.get(reason, 0.0) / total, 9) for reason in MIXED}
        capacity = self.alert_capacity
        if isinstance(capacity, bool) or not isinstance(capacity, int | float) or capacity != int(capacity):
            raise InvalidInput(f"the daily alert capacity must be a whole number, not {capacity!r}")
        if capacity < 0:
            raise InvalidInput("the daily alert capacity must not be negative (0 means no limit)")
        order = {}
        for reason, choice in self.order.items():
            if reason not in ORDERINGS:
                raise InvalidInput(f"there is no ordering for {reason!r}; reasons: {', '.join(ORDERINGS)}")
            if choice not in ORDERINGS[reason]:
                raise InvalidInput(
                    f"{reason!r} points can be ordered by {', '.join(map(repr, ORDERINGS[reason]))}, not {choice!r}"
                )
            order[reason] = choice
        for reason, choices in ORDERINGS.items():
            order.setdefault(reason, choices[0])
        return ReviewPolicy(shares=shares, alert_capacity=int(capacity), order=order)

    def with_changes(self, **changes: Any) -> ReviewPolicy:
        if "order" in changes:
            changes["order"] = {**self.order, **changes["order"]}
        return replace(self, **changes).validated()

    def describe(self) -> str:
        """One sentence a reviewer reads on the Verify page."""
        mix = ", ".join(f"{self.shares[r]:.0%} {r}" for r in MIXED if self.shares[r] > 0)
        cap = f"up to {self.alert_capacity:,} alerts a day" if self.alert_capacity else "every alert"
        order = "; ".join(f"{r}: {self.order[r]} first" for r in ORDERINGS if self.shares[r] > 0)
        return f"Picked points first, then a mix of {mix} ({cap}). Within each reason — {order}."


def exploration_flags(point_ids: np.ndarray, rate: float = EXPLORATION_RATE) -> np.ndarray:
    """A deterministic pseudo-random ``rate`` of points (stable across restarts and processes)."""
    ids = np.asarray(point_ids, dtype=np.uint64)
    mixed = (ids * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)  # Fibonacci hashing
    return (mixed.astype(np.float64) / float(1 << 24)) < rate


def alert_flags(p: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.asarray(p) >= FRAUD_THRESHOLD


def queue_reasons(p: np.ndarray, unknown: np.ndarray, requested: np.ndarray, explore: np.ndarray) -> np.ndarray:
    """Why each point would be queued: an index into :data:`REASONS`, or -1 for none."""
    p = np.asarray(p, dtype=np.float64)
    unknown = np.asarray(unknown, dtype=bool)
    low, high = UNCERTAIN_BAND
    with np.errstate(invalid="ignore"):
        uncertain = (p > low) & (p < high)
    masks = (np.asarray(requested, dtype=bool), unknown, alert_flags(p), uncertain, np.asarray(explore, dtype=bool))
    reason = np.full(len(unknown), -1, dtype=np.int8)
    for code, mask in reversed(list(enumerate(masks))):
        reason[mask] = code
    return reason


def _interleave(lanes: dict[int, np.ndarray], shares: dict[int, float]) -> np.ndarray:
    """Merge ordered lanes so that every prefix holds each lane about at its share.

    Weighted fair queuing: the k-th point of a lane with share s is due at (k + 1) / s,
    and points are taken in order of when they are due (ties by reason precedence).
    A lane that runs empty simply stops taking turns: the others fill the queue.

    >>> _interleave({1: np.array([10, 11, 12, 13]), 2: np.array([20, 21])}, {1: 0.5, 2: 0.5}).tolist()
    [10, 20, 11, 21, 12, 13]
    """
    codes, due, items = [], [], []
    for code, lane in lanes.items():
        share = shares.get(code, 0.0)
        if not len(lane) or share <= 0:
            continue
        items.append(np.asarray(lane, dtype=np.int64))
        due.append((np.arange(len(lane)) + 1) / share)
        codes.append(np.full(len(lane), code))
    if not items:
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((np.concatenate(codes), np.concatenate(due)))
    return np.concatenate(items)[order]


def build_queue(
    policy: ReviewPolicy,
    point_ids: np.ndarray,
    p: np.ndarray,
    novelty: np.ndarray,
    threshold: np.ndarray,
    unknown: np.ndarray,
    requested: np.ndarray,
    labelled: np.ndarray,
    explore: np.ndarray,
    time: np.ndarray | None = None,
) -> pd.DataFrame:
    """The review queue under ``policy``, best first.

    All arrays are aligned over the replayed points in stream order. ``threshold`` is
    the detector threshold that applied when each point was scored, ``labelled``
    marks points with a verdict in force (they leave the queue), ``explore`` the
    exploration sample and ``time`` the data's time column in seconds (for the daily
    alert capacity).
    """
    point_ids = np.asarray(point_ids, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    novelty = np.asarray(novelty, dtype=np.float64)
    unknown = np.asarray(unknown, dtype=bool)
    reason = queue_reasons(p, unknown, requested, explore)
    reason[np.asarray(labelled, dtype=bool)] = -1
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = novelty / np.asarray(threshold, dtype=np.float64)
    position = np.arange(len(point_ids))

    def lane(code: int, key: np.ndarray | None) -> np.ndarray:
        idx = np.flatnonzero(reason == code)
        if key is None:
            return idx
        return idx[np.lexsort((idx, key[idx]))]

    keys = {
        ("unknown", "most novel"): -np.nan_to_num(ratio, nan=0.0),
        ("alert", "most confident"): -np.nan_to_num(p, nan=0.0),
        ("alert", "least confident"): np.nan_to_num(p, nan=1.0),
        ("uncertain", "closest to the threshold"): np.abs(np.nan_to_num(p, nan=0.5) - FRAUD_THRESHOLD),
        ("exploration", "oldest"): position.astype(np.float64),
    }
    newest = -position.astype(np.float64)
    lanes = {
        code: lane(code, keys.get((REASONS[code], policy.order[REASONS[code]]), newest))
        for code in (UNKNOWN, ALERT, UNCERTAIN, EXPLORATION)
    }
    # Alerts over a day's capacity wait behind everything else.
    over = np.empty(0, dtype=np.int64)
    if policy.alert_capacity and len(lanes[ALERT]):
        alerts = lanes[ALERT]
        day = (
            np.floor(np.asarray(time, dtype=np.float64)[alerts] / SECONDS_PER_DAY).astype(np.int64)
            if time is not None
            else np.zeros(len(alerts), dtype=np.int64)
        )
        rank = np.zeros(len(alerts), dtype=np.int64)
        for d in np.unique(day):
            members = np.flatnonzero(day == d)
            rank[members] = np.arange(len(members))  # alerts are already in the policy's order
        within = rank < policy.alert_capacity
        lanes[ALERT], over = alerts[within], alerts[~within]
    shares = {code: policy.shares[REASONS[code]] for code in (UNKNOWN, ALERT, UNCERTAIN, EXPLORATION)}
    head = _interleave(lanes, shares)
    zero_share = [lanes[c] for c in lanes if shares[c] <= 0]  # kept, behind the mix
    order = np.concatenate([lane(PICKED, None), head, *zero_share, over]).astype(np.int64)
    over_mask = np.zeros(len(point_ids), dtype=bool)
    over_mask[over] = True
    shown_reason = np.asarray(REASONS, dtype=object)[reason[order]] if len(order) else np.empty(0, dtype=object)
    return pd.DataFrame(
        {
            "point_id": point_ids[order],
            "reason": shown_reason,
            "over_capacity": over_mask[order],
            "p": p[order],
            "novelty": novelty[order],
            "threshold": np.asarray(threshold, dtype=np.float64)[order],
        }
    )
