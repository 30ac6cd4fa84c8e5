"""Plotly figures for the pages. Each takes bounded data and returns a figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hitl_core.config import FRAUD_THRESHOLD, UNCERTAIN_BAND
from hitl_core.monitor import DecisionGrid

STATUS_COLORS = {
    "normal": "#4c78a8",
    "fraud": "#d62728",
    "uncertain": "#f39c12",
    "unknown": "#7b2cbf",
}
STATUS_SYMBOLS = {"normal": "circle", "fraud": "diamond", "uncertain": "square", "unknown": "x"}
REGION_SCALE = [[0.0, "#e8f1fb"], [0.5, "#f7f7f7"], [1.0, "#fbe3e3"]]
FONT = dict(size=12)


def _layout(fig: go.Figure, height: int, **kw) -> go.Figure:
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=30, b=10),
        font=FONT,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        uirevision="keep",  # keep zoom and selections across refreshes
        **kw,
    )
    return fig


def timeseries(window: pd.DataFrame, features: list[str], has_time: bool, has_truth: bool) -> go.Figure:
    """Feature values over time, and beneath them p, the unknown flag and the true class."""
    rows = list(features) + ["P(abnormal)", "unknown"] + (["true class"] if has_truth else [])
    heights = [1.0] * len(features) + [1.0, 0.45] + ([0.45] if has_truth else [])
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=heights)
    x = window["time"] if has_time else window["point_id"]
    for i, name in enumerate(features, start=1):
        fig.add_trace(
            go.Scattergl(
                x=x, y=window[name], mode="lines", line=dict(width=1, color="#4c78a8"), name=name, showlegend=False
            ),
            row=i,
            col=1,
        )
        fig.update_yaxes(title_text=name, row=i, col=1)
    r = len(features) + 1
    fig.add_trace(
        go.Scattergl(
            x=x, y=window["p"], mode="lines", line=dict(width=1, color="#d62728"), name="P(abnormal)", showlegend=False
        ),
        row=r,
        col=1,
    )
    for level, dash in ((UNCERTAIN_BAND[0], "dot"), (FRAUD_THRESHOLD, "dash"), (UNCERTAIN_BAND[1], "dot")):
        fig.add_hline(y=level, line=dict(color="#999", width=1, dash=dash), row=r, col=1)
    fig.update_yaxes(title_text="P(abnormal)", range=[-0.05, 1.05], row=r, col=1)
    fig.add_trace(
        go.Scattergl(
            x=x,
            y=window["unknown"].astype(int),
            mode="markers",
            marker=dict(size=4, color=STATUS_COLORS["unknown"]),
            name="unknown",
            showlegend=False,
        ),
        row=r + 1,
        col=1,
    )
    fig.update_yaxes(title_text="unknown", tickvals=[0, 1], ticktext=["no", "yes"], range=[-0.3, 1.3], row=r + 1, col=1)
    if has_truth:
        truth = window["true_label"].map({"abnormal": 1, "normal": 0})
        fig.add_trace(
            go.Scattergl(
                x=x, y=truth, mode="markers", marker=dict(size=4, color="#333"), name="true class", showlegend=False
            ),
            row=r + 2,
            col=1,
        )
        fig.update_yaxes(
            title_text="class", tickvals=[0, 1], ticktext=["normal", "fraud"], range=[-0.3, 1.3], row=r + 2, col=1
        )
    fig.update_xaxes(title_text="time (s)" if has_time else "row", row=len(rows), col=1)
    return _layout(fig, height=110 * len(features) + 260 + (60 if has_truth else 0))


def decision_map(
    window: pd.DataFrame,
    grid: DecisionGrid | None,
    background: pd.DataFrame | None,
    x_feature: str,
    y_feature: str,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    highlight: int | None = None,
    height: int = 430,
) -> go.Figure:
    """The two features as a map: decision regions shaded, statuses marked.

    Only stream points carry ``customdata`` (their point id), so a box or lasso
    selection can be mapped back to points exactly.
    """
    fig = go.Figure()
    if grid is not None:
        fig.add_trace(
            go.Heatmap(
                x=grid.x,
                y=grid.y,
                z=grid.p,
                zmin=0,
                zmax=1,
                colorscale=REGION_SCALE,
                showscale=False,
                hoverinfo="skip",
                name="decision regions",
            )
        )
        fig.add_trace(
            go.Contour(
                x=grid.x,
                y=grid.y,
                z=grid.p,
                showscale=False,
                hoverinfo="skip",
                contours=dict(start=FRAUD_THRESHOLD, end=FRAUD_THRESHOLD, size=1, coloring="none"),
                line=dict(color="#b03030", width=1.5, dash="dash"),
                name="p = 0.5 boundary",
                showlegend=True,
            )
        )
    if background is not None and len(background):
        fig.add_trace(
            go.Scattergl(
                x=background[x_feature],
                y=background[y_feature],
                mode="markers",
                marker=dict(size=3, color="#d5d9e0"),
                name="training data",
                hoverinfo="skip",
            )
        )
    for status in ("normal", "fraud", "uncertain", "unknown"):
        part = window[window["status"] == status]
        if not len(part):
            continue
        fig.add_trace(
            go.Scatter(
                x=part[x_feature],
                y=part[y_feature],
                mode="markers",
                name=status,
                customdata=part["point_id"],
                marker=dict(
                    size=7 if status != "normal" else 5,
                    color=STATUS_COLORS[status],
                    symbol=STATUS_SYMBOLS[status],
                    line=dict(width=0),
                ),
                hovertemplate="point %{customdata}<br>"
                + x_feature
                + " %{x:.2f}<br>"
                + y_feature
                + " %{y:.2f}<extra>"
                + status
                + "</extra>",
            )
        )
    if highlight is not None:
        row = window[window["point_id"] == highlight]
        if len(row):
            fig.add_trace(
                go.Scatter(
                    x=row[x_feature],
                    y=row[y_feature],
                    mode="markers",
                    name="this point",
                    marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(width=2.5, color="#111")),
                    hoverinfo="skip",
                )
            )
    fig.update_xaxes(title_text=x_feature, range=list(x_range))
    fig.update_yaxes(title_text=y_feature, range=list(y_range))
    return _layout(fig, height=height, dragmode="select")


def distributions(
    features: list[str], edges: list[np.ndarray], counts: list[np.ndarray], baseline: list[np.ndarray]
) -> go.Figure:
    """Share of replayed points per bin, against the training share (line)."""
    fig = make_subplots(rows=len(features), cols=1, vertical_spacing=0.12 if len(features) > 1 else 0.1)
    for i, (name, e, c, b) in enumerate(zip(features, edges, counts, baseline, strict=True), start=1):
        centres = np.concatenate([[e[0] - (e[1] - e[0]) / 2], (e[:-1] + e[1:]) / 2, [e[-1] + (e[1] - e[0]) / 2]])
        total = max(1, int(c.sum()))
        fig.add_trace(
            go.Bar(
                x=centres,
                y=c / total,
                marker_color="#4c78a8",
                name="replayed",
                showlegend=i == 1,
                hovertemplate="%{y:.1%}<extra>replayed</extra>",
            ),
            row=i,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=centres,
                y=b,
                mode="lines",
                line=dict(color="#e45756", width=1.5, shape="hvh"),
                name="training",
                showlegend=i == 1,
                hovertemplate="%{y:.1%}<extra>training</extra>",
            ),
            row=i,
            col=1,
        )
        fig.update_xaxes(title_text=f"{name} (outer bars: everything beyond)", row=i, col=1)
        fig.update_yaxes(tickformat=".0%", row=i, col=1)
    return _layout(fig, height=200 * len(features) + 40, bargap=0.05)


def band_counts(bands: dict[str, int]) -> go.Figure:
    """How many replayed points fall in each band of the classifier's score."""
    names = list(bands)
    colors = ["#d62728", "#f39c12", "#f7c56b", "#8c9aab", STATUS_COLORS["unknown"]]
    fig = go.Figure(
        go.Bar(
            x=[bands[n] for n in names],
            y=names,
            orientation="h",
            marker_color=colors,
            text=[f"{bands[n]:,}" for n in names],
            textposition="auto",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=230)


def contributions(names: list[str], values: np.ndarray) -> go.Figure:
    """Per-feature push towards abnormal (+) or normal (−), from LightGBM's pred_contrib."""
    order = np.argsort(np.abs(values))[::-1][:10]
    fig = go.Figure(
        go.Bar(
            x=values[order],
            y=[names[i] for i in order],
            orientation="h",
            marker_color=["#d62728" if v > 0 else "#4c78a8" for v in values[order]],
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="← towards normal · towards abnormal → (log-odds)", title_standoff=8)
    fig = _layout(fig, height=90 + 28 * len(order))
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=50))
    return fig
