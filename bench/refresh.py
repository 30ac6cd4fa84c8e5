"""Monitor refresh cost against the number of replayed rows, ours vs the naive pattern.

One refresh, as the server does it every second: score the rows that arrived since
the last refresh (10 rows = one second at the default speed), read the stream's
state, and build the four figures the page sends (serialised to JSON as Streamlit
does). The reference is the original dashboard's pattern: re-run both models on the
whole history every tick and rebuild every chart from all points.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from bench.common import synthetic_creditcard
from hitl_app import charts
from hitl_core import Workspace, monitor

SIZES = (1_000, 10_000, 100_000, 284_807)
NEW_ROWS = 10


def workspace(folder: Path) -> Workspace:
    """A credit-card-shaped workspace whose stream holds 284,807 rows (base = first 10%)."""
    path = folder / "refresh_source.parquet"
    folder.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        synthetic_creditcard(rows=int(max(SIZES) / 0.9) + 2, seed=1).to_parquet(path, index=False)
    ws = Workspace(tempfile.mkdtemp(prefix="hitl-refresh-"))
    ws.init("creditcard", path, "V4,V14", base_fraction=0.1)
    ws.stream.pause()
    return ws


def ours(ws: Workspace, shown: list[str]) -> tuple[float, int]:
    # The stream last moved one second ago at 10 rows/s: the tick scores 10 new rows.
    clock = time.time()
    ws.stream._update(playing=True, speed=NEW_ROWS, clock=clock)
    start = time.perf_counter()
    step = ws.tick(now=clock + 1.0)  # what the page's 1-second fragment timer does
    assert step.rows == NEW_ROWS
    snap = monitor.snapshot(ws)
    figures = charts.monitor_figures(ws, snap, shown)
    payload = sum(len(pio.to_json(f, validate=False)) for f in figures.values())
    return time.perf_counter() - start, payload


def reference(ws: Workspace, shown: list[str]) -> tuple[float, int]:
    """Everything from all n points, every tick."""
    start = time.perf_counter()
    n = ws.stream.state().cursor
    ds = ws.dataset
    X = ds.X[ds.n_base : ds.n_base + n]
    models = ws.models().models
    p = models.base.predict_proba(X)
    _, _, unknown = models.detector.assess(X)
    t = ds.time[ds.n_base : ds.n_base + n]
    ts = make_subplots(rows=len(shown) + 2, cols=1, shared_xaxes=True)
    for i, name in enumerate(shown, start=1):
        ts.add_trace(go.Scattergl(x=t, y=X[:, i - 1], mode="lines", name=name), row=i, col=1)
    ts.add_trace(go.Scattergl(x=t, y=p, mode="lines", name="p"), row=len(shown) + 1, col=1)
    ts.add_trace(go.Scattergl(x=t, y=unknown.astype(int), mode="markers", name="unknown"), row=len(shown) + 2, col=1)
    status = np.where(unknown, "unknown", np.where(p >= 0.5, "fraud", "normal"))
    scatter = go.Figure(
        [
            go.Scattergl(x=X[status == s, 0], y=X[status == s, 1], mode="markers", name=s)
            for s in ("normal", "fraud", "unknown")
        ]
    )
    hist = make_subplots(rows=len(shown), cols=1)
    for i in range(len(shown)):
        hist.add_trace(go.Histogram(x=X[:, i], nbinsx=40), row=i + 1, col=1)
    bands = go.Figure(
        go.Bar(
            x=[(p >= 0.9).sum(), ((p > 0.1) & (p < 0.9)).sum(), (p <= 0.1).sum(), unknown.sum()],
            y=["p>=0.9", "band", "p<=0.1", "unknown"],
            orientation="h",
        )
    )
    payload = sum(len(pio.to_json(f, validate=False)) for f in (ts, scatter, hist, bands))
    return time.perf_counter() - start, payload


def run(folder: Path, plot: Path | None = None) -> dict:
    ws = workspace(folder)
    shown = list(ws.dataset.features)
    rows = []
    for n in SIZES:
        # Ten refreshes of ten new rows each end at n; the first warms the per-process
        # caches (the running tally catches up on the history), as a running server has them.
        ws.replay(n - 10 * NEW_ROWS - ws.stream.state().cursor)
        ours(ws, shown)
        mine = [ours(ws, shown) for _ in range(9)]
        assert ws.stream.state().cursor == n
        ref = [reference(ws, shown) for _ in range(1 if n >= 100_000 else 3)]
        rows.append(
            {
                "n": n,
                "ours_ms": 1000 * statistics.median(m[0] for m in mine),
                "ours_p90_ms": 1000 * float(np.percentile([m[0] for m in mine], 90)),
                "ours_bytes": mine[-1][1],
                "reference_ms": 1000 * statistics.median(r[0] for r in ref),
                "reference_bytes": ref[-1][1],
            }
        )
    for r in rows:
        r["ratio"] = r["reference_ms"] / r["ours_ms"]
    if plot is not None:
        draw(rows, plot)
    return {"rows": rows, "window": 500, "new_rows": NEW_ROWS}


def draw(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["n"] for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.loglog(n, [r["reference_ms"] for r in rows], "o-", color="#d62728", label="reference: everything, every tick")
    ax.loglog(n, [r["ours_ms"] for r in rows], "o-", color="#4c78a8", label="hitl: new rows + bounded window")
    ax.axhline(50, color="#999", linestyle="--", linewidth=1, label="target 50 ms")
    ax.set_xlabel("replayed rows (n)")
    ax.set_ylabel("server time per Monitor refresh (ms)")
    ax.set_title("Monitor refresh cost vs history length")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def report(r: dict) -> str:
    lines = ["n | hitl median (p90) | reference | ratio | hitl payload | reference payload", "---|---|---|---|---|---"]
    for x in r["rows"]:
        lines.append(
            f"{x['n']:,} | {x['ours_ms']:.1f} ms ({x['ours_p90_ms']:.1f}) | {x['reference_ms']:,.0f} ms | "
            f"{x['ratio']:,.0f}x | {x['ours_bytes'] / 1024:,.0f} KB | {x['reference_bytes'] / 1024:,.0f} KB"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    result = run(Path(tempfile.gettempdir()) / "hitl-bench-data", Path("docs/monitor_refresh.png"))
    print(report(result))
