"""The unsupervised novelty detector: distance to the k-th nearest training neighbour.

Follows PyOD's KNN detector: ``decision_function`` is higher for more anomalous
points, ``threshold_`` comes from the training scores, ``predict`` gives the flag
("unknown"). Features are standardised with the training statistics so that no
feature dominates by its units.

The detector also knows which of its reference rows are expert verdicts, and says for
each scored point whether a verdict is among its k nearest neighbours: that is where
the verdict-aware classifier takes over (see :mod:`hitl_core.models`).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from hitl_core.errors import InvalidInput, NotReady


class NoveltyDetector:
    """Flags points unlike anything in the training data.

    >>> rng = np.random.default_rng(0)
    >>> det = NoveltyDetector(k=5).fit(rng.normal(size=(2000, 2)))
    >>> det.predict(np.array([[0.0, 0.0], [8.0, 8.0]])).tolist()
    [False, True]
    """

    def __init__(self, k: int = 5, quantile: float = 0.995, algorithm: str = "auto") -> None:
        self.k = k
        self.quantile = quantile
        self.algorithm = algorithm

    def _backend(self, n_features: int) -> str:
        # A KD-tree is the fastest exact index in low dimension (measured: 284,807
        # queries against as many 2-D reference rows in ~1 s); its pruning stops
        # working beyond ~15 dimensions, where brute force wins.
        if self.algorithm != "auto":
            return self.algorithm
        return "kd_tree" if n_features <= 15 else "brute"

    def fit(self, X: np.ndarray, verdict: np.ndarray | None = None) -> NoveltyDetector:
        """Fit on the rows of ``X``; ``verdict`` marks the rows that are expert verdicts."""
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
        reference = (X - self.mean_) / self.scale_
        self.backend_ = self._backend(X.shape[1])
        self.index_ = NearestNeighbors(n_neighbors=self.k, algorithm=self.backend_).fit(reference)
        self.is_verdict_ = verdict
        # Leave-one-out training scores: each row's own zero distance is skipped.
        dist, _ = self.index_.kneighbors(reference, n_neighbors=self.k + 1)
        self.train_scores_ = dist[:, self.k]
        self.threshold_ = float(np.quantile(self.train_scores_, self.quantile))
        self.n_features_in_ = X.shape[1]
        self.n_reference_ = len(X)
        return self

    def _neighbours(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "index_"):
            raise NotReady("the detector has not been fitted")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.shape[1] != self.n_features_in_:
            raise InvalidInput(f"expected {self.n_features_in_} features, got {X.shape[1]}")
        if len(X) == 0:
            return np.empty((0, self.k)), np.empty((0, self.k), dtype=np.int64)
        return self.index_.kneighbors((X - self.mean_) / self.scale_, n_neighbors=self.k)

    def score(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Novelty score and "a verdict is among the k nearest reference rows", per row."""
        dist, idx = self._neighbours(X)
        near_verdict = self.is_verdict_[idx].any(axis=1) if len(idx) else np.empty(0, dtype=bool)
        return dist[:, self.k - 1] if len(dist) else np.empty(0), near_verdict

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Distance (in standardised units) to the k-th nearest training row."""
        return self.score(X)[0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where a point is unknown (its score exceeds ``threshold_``)."""
        return self.decision_function(X) > self.threshold_
