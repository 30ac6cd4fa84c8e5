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

import functools

import numpy as np
from sklearn.neighbors import KDTree, NearestNeighbors
from threadpoolctl import ThreadpoolController

from hitl_core.errors import InvalidInput, NotReady


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def _one_thread():
    """scikit-learn's k-NN search runs OpenMP threads that spin while they wait. Next to
    a web server on two cores, a 10-row query against 20,000 reference rows took 25 ms
    (p90 110 ms) with them and 4 ms (p90 8 ms) on one thread: scoring uses one."""
    return _controller().limit(limits=1, user_api="openmp")


class NoveltyDetector:
    """Flags points unlike anything in the training data.

    >>> rng = np.random.default_rng(0)
    >>> det = NoveltyDetector(k=5).fit(rng.normal(size=(2000, 2)))
    >>> det.predict(np.array([[0.0, 0.0], [8.0, 8.0]])).tolist()
    [False, True]
    """

    def __init__(
        self,
        k: int = 5,
        quantile: float = 0.995,
        algorithm: str = "auto",
        max_reference: int | None = None,
        seed: int = 0,
    ) -> None:
        self.k = k
        self.quantile = quantile
        self.algorithm = algorithm
        self.max_reference = max_reference
        self.seed = seed

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
        back to brute force, whose cost grows with the reference size.
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
        if self.max_reference is not None and len(X) > self.max_reference:
            always = verdict | (np.zeros(len(X), dtype=bool) if keep is None else np.asarray(keep, dtype=bool))
            others = np.flatnonzero(~always)
            budget = max(0, self.max_reference - int(always.sum()))
            sampled = np.random.default_rng(self.seed).choice(others, size=min(budget, len(others)), replace=False)
            rows = np.sort(np.concatenate([np.flatnonzero(always), sampled]))
            X, verdict = X[rows], verdict[rows]
        reference = (X - self.mean_) / self.scale_
        self.backend_ = self._backend(X.shape[1])
        # The KD-tree is queried directly: NearestNeighbors.kneighbors adds ~2 ms of input
        # checks and joblib dispatch per call, twenty times the query itself for the few
        # rows a Monitor refresh scores.
        if self.backend_ == "kd_tree":
            self.index_ = KDTree(reference)
        else:
            self.index_ = NearestNeighbors(n_neighbors=self.k, algorithm=self.backend_).fit(reference)
        self.is_verdict_ = verdict
        # Leave-one-out training scores: each row's own zero distance is skipped.
        with _one_thread():
            dist, _ = self._query(reference, self.k + 1)
        self.train_scores_ = dist[:, self.k]
        self.threshold_ = float(np.quantile(self.train_scores_, self.quantile))
        self.n_features_in_ = X.shape[1]
        self.n_reference_ = len(X)
        return self

    def _query(self, Z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(self.index_, KDTree):
            return self.index_.query(Z, k=k)
        return self.index_.kneighbors(Z, n_neighbors=k)

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
        with _one_thread():
            return self._query((X - self.mean_) / self.scale_, self.k)

    def assess(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: the novelty score, whether a verdict is among its k nearest reference
        rows, and the unknown flag.

        A point is unknown when its score exceeds ``threshold_`` — unless an expert
        verdict lies within ``threshold_`` of it: a place an expert has looked at is
        known, even when it is a lone outlier whose k-th neighbour is far away.
        """
        dist, idx = self._neighbours(X)
        if not len(dist):
            empty = np.empty(0, dtype=bool)
            return np.empty(0), empty, empty
        verdict = self.is_verdict_[idx]
        novelty = dist[:, self.k - 1]
        seen_by_expert = (verdict & (dist <= self.threshold_)).any(axis=1)
        return novelty, verdict.any(axis=1), (novelty > self.threshold_) & ~seen_by_expert

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Distance (in standardised units) to the k-th nearest training row."""
        return self.assess(X)[0]

    def predict(self, X: np.ndarray) -> np.ndarray:
        """True where a point is unknown (see :meth:`assess`)."""
        return self.assess(X)[2]
