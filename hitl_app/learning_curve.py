"""The Retrain page's learning curves: the latest oracle simulation of each query strategy.

Read-only: the curves come from ``artifacts/simulations/`` (written by ``python -m
hitl_core simulate``); drawing them writes nothing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from hitl_app.charts import SpecFigure
from hitl_core import HitlError, Workspace, simulate
from hitl_core.wording import Terms

COLORS = {
    "queue": "#d62728",
    "random": "#6b6f76",
    "uncertainty": "#f39c12",
    "novelty": "#7b2cbf",
    "alerts": "#4c78a8",
}


def _band(color: str, alpha: float = 0.15) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def figure(results: list[dict[str, Any]], key: str, title: str, reference: str | None = None) -> SpecFigure:
    """One metric over labels used: per strategy the mean over seeds, and a band from the
    lowest to the highest seed; the full-label reference as a dotted line."""
    data: list[dict] = []
    for result in results:
        color = COLORS.get(result["strategy"], "#333333")
        curve = result["summary"]["curve"]
        x = [c["labels"]["mean"] for c in curve]
        low = [c[key]["min"] for c in curve]
        high = [c[key]["max"] for c in curve]
        data.append(
            {
                "type": "scatter",
                "x": x + x[::-1],
                "y": high + low[::-1],
                "fill": "toself",
                "fillcolor": _band(color),
                "line": {"width": 0},
                "hoverinfo": "skip",
                "showlegend": False,
                "legendgroup": result["strategy"],
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": result["strategy"],
                "legendgroup": result["strategy"],
                "x": x,
                "y": [c[key]["mean"] for c in curve],
                "line": {"color": color, "width": 2},
                "marker": {"size": 5},
                "hovertemplate": f"{result['strategy']}: %{{y:.3f}} after %{{x:.0f}} labels<extra></extra>",
            }
        )
    shapes = []
    if reference:
        values = [r["summary"][reference]["mean"] for r in results if r["summary"][reference]["mean"] is not None]
        if values:
            level = sum(values) / len(values)
            shapes.append(
                {
                    "type": "line",
                    "xref": "paper",
                    "x0": 0,
                    "x1": 1,
                    "y0": level,
                    "y1": level,
                    "line": {"color": "#333333", "width": 1, "dash": "dot"},
                }
            )
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "every stream label",
                    "x": [None],
                    "y": [None],
                    "line": {"color": "#333333", "width": 1, "dash": "dot"},
                }
            )
    layout = {
        "height": 300,
        "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
        "font": {"size": 12},
        "title": {"text": title, "font": {"size": 13}},
        "plot_bgcolor": "white",
        "showlegend": key == "frauds_found",
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.08, "x": 0},
        "xaxis": {"title": {"text": "labels used"}, "gridcolor": "#e5e8ec", "zeroline": False},
        "yaxis": {"gridcolor": "#e5e8ec", "zeroline": False, "automargin": True},
        "shapes": shapes,
    }
    return SpecFigure({"data": data, "layout": layout})


def table(results: list[dict[str, Any]], terms: Terms) -> pd.DataFrame:
    """The headline figures, one row per strategy (mean ± spread over seeds)."""

    def pm(s: dict, pattern: str) -> str:
        if s["mean"] is None:
            return "—"
        return f"{pattern.format(s['mean'])} ± {pattern.replace('+', '').format(s['sd'])}"

    rows = []
    for r in results:
        s = r["summary"]
        rows.append(
            {
                "strategy": r["strategy"],
                "labels": round(s["labels"]["mean"]),
                f"{terms.abnormal} per 100 labels": pm(s["frauds_per_100"], "{:.1f}"),
                "recall gain": pm(s["recall_gain"], "{:+.3f}"),
                "PR-AUC gain": pm(s["pr_auc_gain"], "{:+.3f}"),
                "promoted": "—" if s["promotion_rate"] is None else f"{s['promotion_rate']:.0%}",
                "queue dry": s["queue_dry_rounds"],
                "seeds": r["seeds"],
                "simulated at (UTC)": pd.Timestamp(r["created_at"]).strftime("%Y-%m-%d %H:%M"),
            }
        )
    return pd.DataFrame(rows)


def show(ws: Workspace) -> None:
    """The latest simulation result of each strategy as learning curves, or how to make one."""
    st.subheader("Learning curves")
    try:
        results = simulate.latest(ws)
        terms = ws.terms
    except HitlError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not results:
        st.caption(
            "How fast does each way of choosing points teach the models? An oracle simulation answers it: it "
            "labels stream points with their recorded truth, round by round, in a private copy of this workspace. "
            "Run `python -m hitl_core simulate --strategy all` (this dataset needs a label column) and the "
            "curves appear here."
        )
        return
    first = results[0]
    st.caption(
        f"Oracle simulation on this dataset: rounds of {first['batch']} labels up to {first['budget']}, "
        f"{first['seeds']} seed(s), each replaying its own {first['stream_share']:.0%} of the stream as it "
        "arrives; after each round a retrain through the promotion gate. Lines: mean over seeds; bands: lowest "
        "to highest seed; dotted: a version trained with every stream label. `python -m hitl_core simulate` "
        "runs it again."
    )
    st.dataframe(table(results, terms), hide_index=True, width="stretch")
    charts = (
        ("frauds_found", f"{terms.title} found", None),
        ("recall", f"Held-out {terms.abnormal} recall", "reference_recall"),
        ("pr_auc", "Held-out PR-AUC", "reference_pr_auc"),
    )
    for col, (key, title, reference) in zip(st.columns(3), charts, strict=True):
        col.plotly_chart(figure(results, key, title, reference), width="stretch", key=f"learning_{key}")
