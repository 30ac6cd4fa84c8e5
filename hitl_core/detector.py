"""The unsupervised novelty detector: k-NN distance, plus each feature on its own.

Follows PyOD's KNN detector: ``decision_function`` is higher for more anomalous
points, ``threshold_`` comes from the training scores, ``predict`` gives the flag
("unknown"). Features are standardised with the training statistics so that no
feature dominates by its units.

**Why each feature is scored on its own too.** In many dimensions the distance to the
k-th nearest training row dilutes novelty confined to a few features: on the 29
credit-card features (V1..V28 + Amount), clusters of 35 real normal rows moved 1-1.5
standard deviations beyond the training range in two features were 0, 1 and 2 of 35
unknown by that distance alone (tests/test_detector.py; now 35 of 35 each). So the
novelty combines two kinds of evidence:

* the full-space k-NN distance (the classic detector);
* each feature's own tail: how rare the value is among the training values of that
  feature, on either side (empirical, with an exponential tail beyond the extremes;
  see :data:`TAIL_SCALE` and :data:`TAIL_MARGIN`).

The false-alarm budget is split Bonferroni-style: half to the full-space distance,
half shared equally by the features' 2 x d tails. A feature counts only when its tail
probability alone is an alarm on that share (p x 4d < 1 - quantile); it then lifts
the novelty to the full-space distance that is as rare. So for every point no single
feature makes extreme the novelty is still the k-NN distance in standard deviations,
and rankings inside the data are the classic detector's. The threshold — the training
quantile of the combined leave-one-out novelties, each row scored as if it were new —
holds the configured false-alarm rate for the combination. :meth:`~NoveltyDetector.reasons`
says which features make a point novel.

What it costs and gains elsewhere: on the ODDS benchmark sets, fitted unsupervised on
training splits that hold their outliers (docs/ODDS.md), a feature rarely lies that far
beyond its training range, and the ROC-AUC is the plain k-NN distance's on nearly every
set. ``per_feature=False`` is the plain k-NN detector.

The detector also knows which of its reference rows are expert verdicts, and says for
each scored point whether a verdict is among its k nearest neighbours: that is where
the verdict-aware classifier takes over (see :mod:`hitl_core.models`).
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.neighbors import KDTree, NearestNeighbors
from threadpoolctl import ThreadpoolController

from hitl_core.errors import InvalidInput, NotReady

#: Share of the false-alarm budget given to the full-space distance; the rest is split
#: equally between the features.
FULL_SPACE_SHARE = 0.5
#: Knots of each score -> tail-probability map (a pickled detector holds
#: (2 x features + 1) x this many pairs, not every training value).
MAP_KNOTS = 256
#: Beyond its training range a feature's tail decays no faster than exponentially
#: with this scale (in standard deviations: each one further makes a value e times
#: rarer), however sharp the training values' edge. Without it a feature whose values
#: pile up against an edge calls any step past it impossible.
TAIL_SCALE = 1.0
#: ... and the first half standard deviation beyond the training range does not count
#: at all: a sample's extremes are not its distribution's bounds. On the credit-card
#: data, day 2 moved V1's upper edge 0.37 sd past day 1's. Trained on the first 70% of
#: the normals (time order), the detector flagged 19.7% of the other 8,076 without the
#: margin, 0.82% with it (the plain k-NN distance: 0.77%).
TAIL_MARGIN = 0.5


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def _one_thread():
    """scikit-learn's k-NN search runs OpenMP threads that spin while they wait. Next to
    a web server on two cores, a 10-row query against 20,000 reference rows took 25 ms
    (p90 110 ms) with them and 4 ms (p90 8 ms) on one thread: scoring uses one."""
    return _controller().limit(limits=1, user_api="openmp")


class _TailMap:
    """Score <-> log tail probability among training scores: knots of a monotone map.

    Between the training scores the map interpolates the empirical tail probability
    (a score equal to the i-th largest of n has probability i / (n + 1)). Beyond the
    largest it decays exponentially, with the scale estimated from the largest scores'
    excesses (exponential tails have exponential spacings; never below
    ``least_scale``) — when those are distinct values. A tail made of ties (a feature
    with few distinct values) carries no such evidence: beyond it the probability
    stays at the empirical bound 1 / (n + 1).
    """

    def __init__(self, scores: np.ndarray, least_scale: float = 0.0) -> None:
        s = np.sort(scores)
        n = len(s)
        levels = np.unique(np.round(np.geomspace(1, n, MAP_KNOTS)).astype(np.int64))  # i-th largest
        xs = s[n - levels[::-1]]
        lp = np.log(levels[::-1] / (n + 1.0))
        xs, first = np.unique(xs, return_index=True)  # a tie takes its most probable level
        lp = lp[first]
        if xs[0] > 0:  # scores are distances from the least novel value, zero
            xs, lp = np.r_[0.0, xs], np.r_[0.0, lp]
        self.xs, self.lp, self.n = xs, lp, n
        m = int(np.clip(n // 20, 5, 50))
        tail = s[n - m - 1 :]
        self.extrapolates = len(np.unique(tail)) * 2 >= len(tail)
        spread = float(np.mean(np.abs(s))) or 1.0
        self.beta = max(float((tail[1:] - tail[0]).mean()), least_scale, 1e-3 * spread, 1e-12)
        self.top_gap = float(s[-1] - s[-2])

    def score(self, lp: np.ndarray) -> np.ndarray:
        """The inverse of ``log_p``: the score with tail probability ``exp(lp)``."""
        out = np.interp(-lp, -self.lp, self.xs)
        beyond = lp < self.lp[-1]
        out[beyond] = self.xs[-1] + (self.lp[-1] - lp[beyond]) * self.beta
        return out


class _FeatureTails:
    """Both tails of every feature as :class:`_TailMap` s, evaluated for all at once.

    The maps' knots are laid end to end on one axis (map j shifted to start at j times
    a span wider than any map), so one ``searchsorted`` serves every feature: for the
    ten rows of a Monitor tick, a Python loop over 2 x 29 ``np.interp`` calls cost more
    than the k-NN query it sat beside. Scoring only needs the values rare enough to
    count (see :meth:`rare_log_p`): a batch of 50,000 rows compares each value with two
    limits and evaluates the maps for the few rows beyond them.
    """

    def __init__(self, Z: np.ndarray) -> None:
        self.low, self.high = Z.min(axis=0), Z.max(axis=0)
        maps = [_TailMap(Z[:, j] - self.low[j], TAIL_SCALE) for j in range(Z.shape[1])]
        maps += [_TailMap(self.high[j] - Z[:, j], TAIL_SCALE) for j in range(Z.shape[1])]
        self.knots = max(len(m.xs) for m in maps)
        xs = np.array([np.pad(m.xs, (0, self.knots - len(m.xs)), mode="edge") for m in maps])
        lp = np.array([np.pad(m.lp, (0, self.knots - len(m.lp)), mode="edge") for m in maps])
        self.top, self.top_lp = xs[:, -1], lp[:, -1]
        self.offset = np.arange(len(maps)) * (float(self.top.max()) + 1.0)
        self.flat_x, self.flat_lp = (xs + self.offset[:, None]).ravel(), lp.ravel()
        self.rate = np.array([1.0 / m.beta if m.extrapolates else 0.0 for m in maps])
        # Leave-one-out for the training rows: a new point may land beyond every training
        # value, a training row scored by a map that contains itself never can. So a
        # map's unique top row is scored against the others: beyond the second largest,
        # on the exponential tail. Without this a feature's most extreme training row
        # would never count, and new points would raise more alarms than the training
        # rows say. (The others move by a rank at most.)
        gap = np.array([m.top_gap for m in maps])
        fair = np.log(1.0 / len(Z)) - np.maximum(gap - TAIL_MARGIN, 0.0) * self.rate
        self.top_fair = np.where((gap > 0) & (self.rate > 0), np.minimum(self.top_lp, fair), self.top_lp)
        self.lower_limit, self.upper_limit = self.low - np.inf, self.high + np.inf

    def limit(self, level: float) -> None:
        """Values between the limits have a log tail probability of at least ``level``."""
        d = len(self.low)
        below = self.flat_lp.reshape(len(self.top), self.knots) < level
        first = np.where(below.any(axis=1), below.argmax(axis=1), self.knots)
        flat = self.flat_x.reshape(below.shape) - self.offset[:, None]
        # lp falls below the level after the knot before the first one below it ...
        cut = flat[np.arange(len(first)), np.maximum(first - 1, 0)]
        # ... or, if none is, out on the exponential tail (never without one).
        with np.errstate(divide="ignore", invalid="ignore"):
            beyond = self.top + TAIL_MARGIN + np.maximum(self.top_lp - level, 0.0) / self.rate
        cut = np.where(first < self.knots, cut, beyond)
        self.upper_limit, self.lower_limit = self.low + cut[:d], self.high - cut[d:]

    def rare_log_p(self, values: np.ndarray, training: bool = False) -> np.ndarray:
        """``log_p`` where it is below the :meth:`limit` level, 0 (probability 1) elsewhere."""
        out = np.zeros_like(values)
        rare = (values > self.upper_limit) | (values < self.lower_limit)
        if training:  # a top row scored against the others may be rarer than the map says
            rare |= (values >= self.high) | (values <= self.low)
        rows = np.flatnonzero(rare.any(axis=1))
        if len(rows):
            out[rows] = self.log_p(values[rows], training)
        return out

    def log_p(self, Z: np.ndarray, training: bool = False) -> np.ndarray:
        """Per row and feature: the log tail probability of the value, the rarer side."""
        x = np.hstack([Z - self.low, self.high - Z])
        q = np.clip(x, 0.0, self.top) + self.offset
        first = np.arange(x.shape[1]) * self.knots
        pos = np.clip(np.searchsorted(self.flat_x, q, side="right") - 1, first, first + self.knots - 2)
        x0, x1 = self.flat_x[pos], self.flat_x[pos + 1]
        width = x1 - x0
        t = np.divide(q - x0, width, out=np.zeros_like(q), where=width > 0)
        out = self.flat_lp[pos] + t * (self.flat_lp[pos + 1] - self.flat_lp[pos])
        out -= np.maximum(x - self.top - TAIL_MARGIN, 0.0) * self.rate
        if training:
            out = np.where(x >= self.top, np.minimum(out, self.top_fair), out)
        d = Z.shape[1]
        return np.minimum(out[:, :d], out[:, d:])


class NoveltyDetector:
    """Flags points unlike anything in the training data.

    >>> rng = np.random.default_rng(0)
    >>> det = NoveltyDetector(k=5).fit(rng.normal(size=(2000, 2)))
    >>> det.predict(np.array([[0.0, 0.0], [8.0, 8.0]])).tolist()
    [False, True]

    In thirty dimensions one feature far out is diluted in the full-space distance; on
    its own it is an alarm, and :meth:`reasons` names it:

    >>> X = rng.normal(size=(5000, 30))
    >>> point = np.zeros((1, 30))
    >>> point[0, 3] = 6.0
    >>> NoveltyDetector(k=5, per_feature=False).fit(X).predict(point).tolist()
    [False]
    >>> det = NoveltyDetector(k=5).fit(X)
    >>> bool(det.predict(point)[0]), int(det.reasons(point).argmax())
    (True, 3)
    """

    def __init__(
        self,
        k: int = 5,
        quantile: float = 0.995,
        algorithm: str = "auto",
        max_reference: int | None = None,
        seed: int = 0,
        per_feature: bool = True,
    ) -> None:
        self.k = k
        self.quantile = quantile
        self.algorithm = algorithm
        self.max_reference = max_reference
        self.seed = seed
        self.per_feature = per_feature

    def __getstate__(self) -> dict:
        # joblib stores each array it meets, even one the index holds too: the reference
        # rows are kept once, by the KD-tree, or as ``reference_`` for brute force (the
        # NearestNeighbors object, which only holds them, is rebuilt on loading).
        state = self.__dict__.copy()
        if isinstance(state.get("index_"), KDTree):
            state.pop("reference_", None)
        elif "reference_" in state:
            state.pop("index_", None)
        return state

    def __setstate__(self, state: dict) -> None:
        # Versions pickled before features were scored on their own keep their meaning:
        # full-space distance only.
        state.setdefault("per_feature", False)
        state.setdefault("feature_tails_", None)
        if "index_" not in state and "reference_" in state:
            state["index_"] = NearestNeighbors(n_neighbors=state["k"], algorithm=state["backend_"])
            state["index_"].fit(state["reference_"])
        elif "reference_" not in state and "index_" in state:
            index = state["index_"]
            # Before ``reference_`` existed a brute-force index was pickled whole.
            state["reference_"] = np.asarray(index.get_arrays()[0] if isinstance(index, KDTree) else index._fit_X)
        self.__dict__.update(state)

    def _backend(self, n_features: int) -> str:
        # A KD-tree is the fastest exact index in low dimension (measured: 284,807
        # queries against as many 2-D reference rows in ~1 s); its pruning stops
        # working beyond ~15 dimensions, where brute force wins.
        if self.algorithm != "auto":
            return self.algorithm
        return "kd_tree" if n_features <= 15 else "brute"

    def fit(self, X: np.ndarray, verdict: np.ndarray | None = None, keep: np.ndarray | None = None) -> NoveltyDetector:
        """Fit on the rows of ``X``; ``verdict`` marks the rows that are expert verdicts.

        With ``max_reference`` set and more rows than that, the reference set is every
        verdict and every row marked in ``keep`` (known fraud, say) plus a seeded
        uniform sample of the others: in high dimension every exact k-NN index falls
        back to brute force, whose cost grows with the reference size. The features'
        own tails are always learnt from every row (sorting is cheap).

        ``train_scores_`` are the reference rows' leave-one-out novelties (each row
        scored against the others, as a new point is) and ``threshold_`` their
        ``quantile``: the share of training rows flagged is ``1 - quantile``.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise InvalidInput(f"X must be 2-D; got shape {X.shape}")
        if len(X) <= self.k:
            raise InvalidInput(f"the detector needs more than k={self.k} training rows; got {len(X)}")
        if not np.isfinite(X).all():
            raise InvalidInput("detector training features contain NaN or infinite values")
        if not 0 < self.quantile < 1:
            raise InvalidInput(f"quantile must lie in (0, 1); got {self.quantile}")
        verdict = np.zeros(len(X), dtype=bool) if verdict is None else np.asarray(verdict, dtype=bool)
        if verdict.shape != (len(X),):
            raise InvalidInput("the verdict mask must have one entry per training row")
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        self.n_training_rows_ = len(X)
        self.n_features_in_ = X.shape[1]
        everything = (X - self.mean_) / self.scale_
        reference, ref_verdict = everything, verdict
        if self.max_reference is not None and len(X) > self.max_reference:
            always = verdict | (np.zeros(len(X), dtype=bool) if keep is None else np.asarray(keep, dtype=bool))
            others = np.flatnonzero(~always)
            budget = max(0, self.max_reference - int(always.sum()))
            sampled = np.random.default_rng(self.seed).choice(others, size=min(budget, len(others)), replace=False)
            rows = np.sort(np.concatenate([np.flatnonzero(always), sampled]))
            reference, ref_verdict = everything[rows], verdict[rows]
        self.backend_ = self._backend(X.shape[1])
        # The KD-tree is queried directly: NearestNeighbors.kneighbors adds ~2 ms of input
        # checks and joblib dispatch per call, twenty times the query itself for the few
        # rows a Monitor refresh scores.
        if self.backend_ == "kd_tree":
            self.index_ = KDTree(reference)
        else:
            self.index_ = NearestNeighbors(n_neighbors=self.k, algorithm=self.backend_).fit(reference)
        self.reference_ = reference  # the index holds this very array (see __getstate__)
        self.is_verdict_ = ref_verdict
        self.n_reference_ = len(reference)
        # Leave-one-out training scores: each row's own zero distance is skipped.
        with _one_thread():
            dist, _ = self._query(reference, self.k + 1)
        full = dist[:, self.k]
        self.feature_tails_ = None
        if self.per_feature and self.n_features_in_ > 1:
            self._fit_features(everything, full)
            self.train_scores_ = self._combine(full, self._feature_log_p(reference, training=True))[0]
        else:
            self.train_scores_ = full
        self.threshold_ = float(np.quantile(self.train_scores_, self.quantile))
        return self

    def _fit_features(self, Z: np.ndarray, full: np.ndarray) -> None:
        d = Z.shape[1]
        self.feature_tails_ = _FeatureTails(Z)
        self.full_map_ = _TailMap(full)
        # Bonferroni weights: p-values are divided by their share of the budget, and a
        # feature's two sides are two tests.
        self.full_log_weight_ = float(np.log(FULL_SPACE_SHARE))
        self.feature_log_weight_ = float(np.log((1 - FULL_SPACE_SHARE) / (2 * d)))
        # A feature counts once its weighted p-value alone would be an alarm — and, where
        # the tail model is too bold for the data, for no more than the features' share
        # of the leave-one-out training rows.
        # (Rows whose values are all inside the limits are above the gate either way.)
        self.feature_gate_ = float(np.log(1 - self.quantile))
        self.feature_tails_.limit(self.feature_gate_ + self.feature_log_weight_)
        rarest = self._feature_log_p(Z, training=True).min(axis=1)
        budget = float(np.quantile(rarest, (1 - self.quantile) * (1 - FULL_SPACE_SHARE)))
        if budget < self.feature_gate_:
            self.feature_gate_ = budget
            self.feature_tails_.limit(self.feature_gate_ + self.feature_log_weight_)

    def _feature_log_p(self, Z: np.ndarray, training: bool = False) -> np.ndarray:
        """Per row and feature: log of the weighted two-sided tail probability of the value
        (exact where it is below the gate; elsewhere a placeholder above it)."""
        return self.feature_tails_.rare_log_p(Z, training) - self.feature_log_weight_

    def _combine(self, full: np.ndarray, feature_lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Novelty from the full-space distance and the features' weighted log p-values,
        and the features that count (their weighted p-value is an alarm on its own)."""
        counts = feature_lp < self.feature_gate_
        novelty = full.copy()
        lifted = counts.any(axis=1)
        if lifted.any():
            # The full-space distance as rare as the rarest feature (p-values on one scale).
            as_rare = self.full_map_.score(feature_lp[lifted].min(axis=1) + self.full_log_weight_)
            novelty[lifted] = np.maximum(full[lifted], as_rare)
        return novelty, counts

    def _query(self, Z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(self.index_, KDTree):
            return self.index_.query(Z, k=k)
        return self.index_.kneighbors(Z, n_neighbors=k)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        if not hasattr(self, "index_"):
            raise NotReady("the detector has not been fitted")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InvalidInput(f"expected {self.n_features_in_} features, got {X.shape[-1]}")
        return (X - self.mean_) / self.scale_

    def _neighbours(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with _one_thread():
            return self._query(Z, self.k)

    def assess(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the novelty score, whether a verdict is among its k nearest reference
        rows, and the unknown flag.

        A point is unknown when its novelty exceeds ``threshold_`` — unless an expert
        verdict among its k nearest reference rows lies within ``threshold_`` of it: a
        place an expert has looked at is known, even when it is a lone outlier whose
        k-th neighbour is far away. (A feature's tail learns the verdicts as training
        values: beside a verdict, a value is no longer rare.)
        """
        Z = self._standardise(X)
        if not len(Z):
            empty = np.empty(0, dtype=bool)
            return np.empty(0), empty, empty
        dist, idx = self._neighbours(Z)
        full = dist[:, self.k - 1]
        verdict = self.is_verdict_[idx]
        near = verdict.any(axis=1)
        novelty = full if self.feature_tails_ is None else self._combine(full, self._feature_log_p(Z))[0]
        seen_by_expert = (verdict & (dist <= self.threshold_)).any(axis=1)
        return novelty, near, (novelty > self.threshold_) & ~seen_by_expert

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """The novelty score: higher is more novel.

        The distance, in standardised units, to the k-th nearest training row — or, where
        a single feature is rarer on its own, the full-space distance that is as rare.
        """
        return self.assess(X)[0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where a point is unknown (see :meth:`assess`)."""
        return self.assess(X)[2]

    def reasons(self, X: np.ndarray) -> np.ndarray:
        """Per row and feature: the part of the point's novelty the feature accounts for.

        On the novelty scale, one column per feature. Each entry is the larger of two
        views of the feature:

        * its share of the full-space k-NN distance: the distance split in proportion to
          the feature's part in the squared standardised differences to the k nearest
          reference rows (for a point novel as a combination, a row's shares add up to
          its k-NN distance);
        * where the feature's own tail counts (see the module docstring), the novelty
          that feature alone gives the point.

        So ``reasons(X)[i, j] > threshold_`` says feature j alone makes row i unknown,
        and no entry exceeds its row's novelty. Sorting a row's entries names the
        features to show a reviewer first.
        """
        Z = self._standardise(X)
        if not len(Z):
            return np.empty((0, self.n_features_in_))
        dist, idx = self._neighbours(Z)
        squared = ((Z[:, None, :] - self.reference_[idx]) ** 2).sum(axis=1)
        total = squared.sum(axis=1, keepdims=True)
        share = np.divide(squared, total, out=np.full_like(squared, 1.0 / Z.shape[1]), where=total > 0)
        out = dist[:, self.k - 1 : self.k] * share
        if self.feature_tails_ is not None:
            lp = self._feature_log_p(Z)
            counts = lp < self.feature_gate_
            if counts.any():
                alone = self.full_map_.score(lp[counts] + self.full_log_weight_)
                out[counts] = np.maximum(out[counts], alone)
        return out
