"""What the Monitor page shows, computed from the workspace in bounded time.

Each refresh touches only: the rows new since the last refresh (scored by
:meth:`Workspace.tick`), a bounded window of the latest rows for the charts, and
whole-history counts and per-feature histograms from a running tally that adds only
the new rows (:mod:`hitl_core.tally`). The decision-region grid is cached per model
version and plotting range.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hitl_core import scoring
from hitl_core.config import CHART_WINDOW
from hitl_core.replay import StreamState
from hitl_core.tally import BANDS
from hitl_core.workspace import Counts, Workspace

GRID_RESOLUTION = 60
# Per-process caches of things that depend only on immutable inputs (a dataset's
# fingerprint, a model version): recomputing them on every refresh was most of its cost.
_grid_cache: dict[tuple, DecisionGrid] = {}
_static_cache: dict[tuple, object] = {}
_grid_lock = threading.Lock()


def _cached(key: tuple, build):
    with _grid_lock:
        if key in _static_cache:
            return _static_cache[key]
    value = build()
    with _grid_lock:
        if len(_static_cache) > 256:
            _static_cache.clear()
        _static_cache[key] = value
    return value


@dataclass(frozen=True)
class DecisionGrid:
    """Classifier probability over a grid of the two plotted features."""

    x: np.ndarray
    y: np.ndarray
    p: np.ndarray  # shape (len(y), len(x))
    x_feature: str
    y_feature: str
    fixed: dict[str, float]  # other features held at their training median


@dataclass(frozen=True)
class Snapshot:
    """Everything one Monitor refresh draws."""

    counts: Counts
    window: dict[str, np.ndarray]  # the latest rows, column by column (see Workspace.scored_arrays)
    playing: bool
    speed: int
    finished: bool
    histograms: list[np.ndarray]
    edges: list[np.ndarray]
    baseline: list[np.ndarray]
    bands: dict[str, int]
    features: tuple[str, ...]
    low: np.ndarray  # per feature, the smallest value replayed so far
    high: np.ndarray  # per feature, the largest value replayed so far


def snapshot(ws: Workspace, window: int = CHART_WINDOW) -> Snapshot:
    state = ws.stream.state()
    frame = ws.scored_arrays(np.arange(max(0, state.cursor - window), state.cursor), extra=False, state=state)
    tally = ws.tally(state)
    bands = dict(zip(BANDS, (int(b) for b in tally.bands), strict=True))
    bands["unknown"] = tally.unknown
    return Snapshot(
        counts=ws.counts(state),
        window=frame,
        playing=state.playing,
        speed=state.speed,
        finished=state.finished,
        histograms=list(tally.histograms),
        edges=ws.stream.layout()[0],
        baseline=ws.stream.layout()[1],
        bands=bands,
        features=ws.dataset.features,
        low=tally.low,
        high=tally.high,
    )


def _nice_range(lo: float, hi: float) -> tuple[float, float]:
    """Round a range outwards to a step of about a tenth of its span (stable across ticks)."""
    span = max(hi - lo, 1e-9)
    step = 10 ** math.floor(math.log10(span / 4))
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def plot_ranges(
    ws: Workspace,
    window: pd.DataFrame | dict,
    x_feature: str,
    y_feature: str,
    extent: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis ranges covering the bulk of the training data and the points to draw.

    With ``extent`` (per feature, the smallest and largest value replayed so far, as
    the running tally keeps them) the ranges cover the whole history, so they only
    ever grow: the axes hold still while outliers enter and leave the drawn window.
    Without it they cover the points of ``window``.
    """
    ds = ws.dataset
    out = []
    for name in (x_feature, y_feature):
        j = ds.features.index(name)
        lo, hi = _cached(("quantiles", ds.fingerprint, j), lambda j=j: np.quantile(ds.X[ds.train, j], [0.001, 0.999]))
        if extent is not None:
            seen_lo, seen_hi = float(extent[0][j]), float(extent[1][j])
            if np.isfinite(seen_lo) and np.isfinite(seen_hi):
                lo, hi = min(lo, seen_lo), max(hi, seen_hi)
        values = np.asarray(window[name])
        if len(values):
            lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
        pad = 0.05 * (hi - lo)
        out.append(_nice_range(lo - pad, hi + pad))
    return out[0], out[1]


def decision_grid(
    ws: Workspace,
    x_feature: str,
    y_feature: str,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    version: int | None = None,
) -> DecisionGrid | None:
    """P(abnormal) on a grid over two features (None in detector-only mode)."""
    bundle = ws.models(version)
    if not bundle.models.has_classifier:
        return None
    key = (str(ws.paths.home), ws.generation, bundle.version, x_feature, y_feature, x_range, y_range)
    with _grid_lock:
        if key in _grid_cache:
            return _grid_cache[key]
    ds = ws.dataset
    xs = np.linspace(*x_range, GRID_RESOLUTION)
    ys = np.linspace(*y_range, GRID_RESOLUTION)
    gx, gy = np.meshgrid(xs, ys)
    medians = _cached(("medians", ds.fingerprint), lambda: np.median(ds.X[ds.train], axis=0))
    X = np.tile(medians, (gx.size, 1))
    ix, iy = ds.features.index(x_feature), ds.features.index(y_feature)
    X[:, ix] = gx.ravel()
    X[:, iy] = gy.ravel()
    p = bundle.models.predict_proba(X).reshape(gx.shape)
    fixed = {f: float(medians[j]) for j, f in enumerate(ds.features) if j not in (ix, iy)}
    grid = DecisionGrid(xs, ys, p, x_feature, y_feature, fixed)
    with _grid_lock:
        if len(_grid_cache) > 64:
            _grid_cache.clear()
        _grid_cache[key] = grid
    return grid


def training_sample(ws: Workspace, n: int = 1_500, seed: int = 0) -> pd.DataFrame:
    """A fixed random sample of the training rows, for context on the map."""
    ds = ws.dataset

    def build() -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        return ds.rows(np.sort(rng.choice(ds.n_train, size=min(n, ds.n_train), replace=False)))

    return _cached(("sample", ds.fingerprint, n, seed), build)


def history_page(
    ws: Workspace, statuses: list[str] | None, page: int, page_size: int = 200, state: StreamState | None = None
) -> tuple[pd.DataFrame, int]:
    """One page of the replayed history (newest first), optionally filtered by status.

    Pass the ``state`` read for the rest of the drawing so that the page and its count
    describe the same moment of the stream.
    """
    state = state or ws.stream.state()
    codes = np.asarray(ws.stream.arrays()["status"][: state.cursor])
    if statuses:
        wanted = [scoring.STATUS_NAMES.index(s) for s in statuses]
        positions = np.flatnonzero(np.isin(codes, wanted))[::-1]
    else:
        positions = np.arange(state.cursor)[::-1]
    total = len(positions)
    return ws.scored_at(positions[page * page_size : (page + 1) * page_size]), total
