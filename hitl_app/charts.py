"""Plotly figures for the pages. Each takes bounded data and returns a figure.

The figures are written as plain Plotly specs (dicts) and wrapped without
validation: building them through ``plotly.graph_objects`` and ``make_subplots``
validated every property on every refresh and cost ~200 ms per Monitor refresh; the
specs below cost a few milliseconds (see ``python -m bench``) and render the same.
Streamlit passes a ``Figure`` through to the browser without validating it again.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from hitl_core.config import FRAUD_THRESHOLD, UNCERTAIN_BAND
from hitl_core.monitor import DecisionGrid
from hitl_core.wording import Terms, elapsed_ticks

STATUS_COLORS = {
    "normal": "#4c78a8",
    "fraud": "#d62728",
    "uncertain": "#f39c12",
    "unknown": "#7b2cbf",
}
STATUS_SYMBOLS = {"normal": "circle", "fraud": "diamond", "uncertain": "square", "unknown": "x"}
REGION_SCALE = [[0.0, "#e8f1fb"], [0.5, "#f7f7f7"], [1.0, "#fbe3e3"]]
GRID = "#e5e8ec"


class SpecFigure(go.Figure):
    """A figure given as a finished Plotly spec.

    ``st.plotly_chart`` accepts a ``Figure`` and sends its ``to_dict()``; a plain dict
    would instead be rebuilt as a ``Figure`` and validated property by property
    (~20 ms per figure, four figures a second on the Monitor). The constructor
    deliberately skips ``Figure``'s validating one: the specs below are written to
    Plotly's schema, and the browser renders them as they are.
    """

    def __init__(self, spec: dict) -> None:
        # Figure.__init__ (the validating constructor) is deliberately not called.
        self._spec = spec

    def to_dict(self) -> dict:
        return self._spec

    def __repr__(self) -> str:
        return f"SpecFigure({len(self._spec['data'])} traces)"


def _figure(data: list[dict], layout: dict, height: int) -> go.Figure:
    base = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "font": {"size": 12},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        "uirevision": "keep",  # keep zoom and selections across refreshes
        "plot_bgcolor": "white",
    }
    return SpecFigure({"data": data, "layout": {**base, **layout}})


def _axis(**kw: Any) -> dict:
    return {"gridcolor": GRID, "zeroline": False, "automargin": True, **kw}


_TYPED = {"float32": "f4", "int32": "i4", "int16": "i2", "int8": "i1", "uint8": "u1"}


def _values(series: pd.Series | np.ndarray) -> dict | list:
    """An array as a Plotly.js typed-array spec (base64 binary, what ``Figure.to_dict`` makes).

    Floats go as float32 (half the bytes), integers as int32; anything else as a list.
    """
    arr = np.asarray(series)
    if arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iub":
        arr = arr.astype(np.int32)
    else:
        return arr.tolist()
    spec = {"dtype": _TYPED[str(arr.dtype)], "bdata": base64.b64encode(np.ascontiguousarray(arr)).decode("ascii")}
    if arr.ndim > 1:
        spec["shape"] = ", ".join(map(str, arr.shape))
    return spec


def timeseries(
    window: pd.DataFrame, features: list[str], has_time: bool, has_truth: bool, terms: Terms | None = None
) -> go.Figure:
    """Feature values over time, and beneath them p, the unknown flag and the true class."""
    rows = list(features) + ["P(abnormal)", "unknown"] + (["class"] if has_truth else [])
    weights = np.array([1.0] * len(features) + [1.0, 0.45] + ([0.45] if has_truth else []))
    gap = 0.03
    span = 1.0 - gap * (len(rows) - 1)
    tops = 1.0 - np.concatenate([[0.0], np.cumsum(weights[:-1] / weights.sum() * span + gap)])
    domains = [
        (round(max(0.0, top - w / weights.sum() * span), 6), round(min(1.0, top), 6))
        for top, w in zip(tops, weights, strict=True)
    ]
    xraw = np.asarray(window["time"] if has_time else window["point_id"], dtype=np.float64)
    x = _values(xraw)
    data: list[dict] = []
    layout: dict = {"showlegend": False, "hovermode": "x unified"}
    for i, (name, domain) in enumerate(zip(rows, domains, strict=True), start=1):
        axis = "" if i == 1 else str(i)
        layout[f"yaxis{axis}"] = _axis(domain=list(domain), title={"text": name, "font": {"size": 11}})
        layout[f"xaxis{axis}"] = _axis(
            anchor=f"y{axis}", showticklabels=i == len(rows), **({"matches": "x"} if i > 1 else {})
        )
        trace = {"type": "scatter", "x": x, "xaxis": f"x{axis}", "yaxis": f"y{axis}", "name": name}
        if name in features:
            data.append(
                {**trace, "y": _values(window[name]), "mode": "lines", "line": {"width": 1, "color": "#4c78a8"}}
            )
        elif name == "P(abnormal)":
            data.append({**trace, "y": _values(window["p"]), "mode": "lines", "line": {"width": 1, "color": "#d62728"}})
            layout[f"yaxis{axis}"]["range"] = [-0.05, 1.05]
            for level, dash in ((UNCERTAIN_BAND[0], "dot"), (FRAUD_THRESHOLD, "dash"), (UNCERTAIN_BAND[1], "dot")):
                layout.setdefault("shapes", []).append(
                    {
                        "type": "line",
                        "xref": f"x{axis} domain",
                        "yref": f"y{axis}",
                        "x0": 0,
                        "x1": 1,
                        "y0": level,
                        "y1": level,
                        "line": {"color": "#999", "width": 1, "dash": dash},
                    }
                )
        elif name == "unknown":
            # one trace per value (a per-point colour array is validated element by element)
            flag = np.asarray(window["unknown"], dtype=bool)
            for value, colour in ((False, "#c9ced6"), (True, STATUS_COLORS["unknown"])):
                mask = flag == value
                data.append(
                    {
                        **trace,
                        "x": _values(xraw[mask]),
                        "y": _values(np.full(mask.sum(), int(value))),
                        "mode": "markers",
                        "marker": {"size": 4, "color": colour},
                    }
                )
            layout[f"yaxis{axis}"].update(tickvals=[0, 1], ticktext=["no", "yes"], range=[-0.4, 1.4])
        else:
            labels = np.asarray(window["true_label"], dtype=object)
            truth = np.where(labels == "abnormal", 1, np.where(labels == "normal", 0, -1))
            for value, colour in ((0, "#c9ced6"), (1, "#d62728")):
                mask = truth == value
                data.append(
                    {
                        **trace,
                        "x": _values(xraw[mask]),
                        "y": _values(np.full(mask.sum(), value)),
                        "mode": "markers",
                        "marker": {"size": 4, "color": colour},
                    }
                )
            names = [terms.normal, terms.abnormal] if terms else ["normal", "fraud"]
            layout[f"yaxis{axis}"].update(tickvals=[0, 1], ticktext=names, range=[-0.4, 1.4])
    bottom = layout[f"xaxis{len(rows) if len(rows) > 1 else ''}"]
    if has_time and len(xraw):
        # Seconds since the first row, shown as elapsed time rather than "105k".
        bottom["tickvals"], bottom["ticktext"] = elapsed_ticks(float(xraw.min()), float(xraw.max()))
        bottom["title"] = {"text": "elapsed time since the first row (d h:mm:ss)"}
    else:
        bottom["title"] = {"text": "row"}
    return _figure(data, layout, height=110 * len(features) + 260 + (60 if has_truth else 0))


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
    terms: Terms | None = None,
) -> go.Figure:
    """The two features as a map: decision regions shaded, statuses marked.

    Only stream points carry ``customdata`` (their point id), so a box or lasso
    selection can be mapped back to points exactly.
    """
    data: list[dict] = []
    if grid is not None:
        xs, ys, z = _values(grid.x), _values(grid.y), _values(grid.p)
        data.append(
            {
                "type": "heatmap",
                "x": xs,
                "y": ys,
                "z": z,
                "zmin": 0,
                "zmax": 1,
                "colorscale": REGION_SCALE,
                "showscale": False,
                "hoverinfo": "skip",
                "name": "decision regions",
            }
        )
        data.append(
            {
                "type": "contour",
                "x": xs,
                "y": ys,
                "z": z,
                "showscale": False,
                "hoverinfo": "skip",
                "contours": {"start": FRAUD_THRESHOLD, "end": FRAUD_THRESHOLD, "size": 1, "coloring": "none"},
                "line": {"color": "#b03030", "width": 1.5, "dash": "dash"},
                "name": "p = 0.5 boundary",
                "showlegend": True,
            }
        )
    if background is not None and len(background):
        data.append(
            {
                "type": "scatter",
                "x": _values(background[x_feature]),
                "y": _values(background[y_feature]),
                "mode": "markers",
                "marker": {"size": 3, "color": "#d5d9e0"},
                "name": "training data",
                "hoverinfo": "skip",
            }
        )
    status_of = np.asarray(window["status"])
    for status in ("normal", "fraud", "uncertain", "unknown"):
        mask = status_of == status
        if not mask.any():
            continue
        shown = terms.status(status) if terms else status
        data.append(
            {
                "type": "scatter",
                "x": _values(np.asarray(window[x_feature])[mask]),
                "y": _values(np.asarray(window[y_feature])[mask]),
                "mode": "markers",
                "name": shown,
                "customdata": _values(np.asarray(window["point_id"])[mask]),
                "marker": {
                    "size": 7 if status != "normal" else 5,
                    "color": STATUS_COLORS[status],
                    "symbol": STATUS_SYMBOLS[status],
                    "line": {"width": 0},
                },
                "hovertemplate": f"point %{{customdata}}<br>{x_feature} %{{x:.2f}}<br>{y_feature} %{{y:.2f}}"
                f"<extra>{shown}</extra>",
            }
        )
    if highlight is not None:
        at = np.asarray(window["point_id"]) == highlight
        if at.any():
            data.append(
                {
                    "type": "scatter",
                    "x": _values(np.asarray(window[x_feature])[at]),
                    "y": _values(np.asarray(window[y_feature])[at]),
                    "mode": "markers",
                    "name": "this point",
                    "hoverinfo": "skip",
                    "marker": {"size": 18, "color": "rgba(0,0,0,0)", "line": {"width": 2.5, "color": "#111"}},
                }
            )
    layout = {
        "xaxis": _axis(title={"text": x_feature}, range=list(x_range)),
        "yaxis": _axis(title={"text": y_feature}, range=list(y_range)),
        "dragmode": "select",
    }
    return _figure(data, layout, height)


def distributions(
    features: list[str], edges: list[np.ndarray], counts: list[np.ndarray], baseline: list[np.ndarray]
) -> go.Figure:
    """Share of replayed points per bin, against the training share (line)."""
    n = len(features)
    gap = 0.12 if n > 1 else 0.0
    height_each = (1.0 - gap * (n - 1)) / n
    data: list[dict] = []
    layout: dict = {"bargap": 0.05}
    for i, (name, e, c, b) in enumerate(zip(features, edges, counts, baseline, strict=True), start=1):
        axis = "" if i == 1 else str(i)
        step = e[1] - e[0]
        centres = _values(np.concatenate([[e[0] - step / 2], (e[:-1] + e[1:]) / 2, [e[-1] + step / 2]]))
        total = max(1, int(np.sum(c)))
        common = {"x": centres, "xaxis": f"x{axis}", "yaxis": f"y{axis}", "showlegend": i == 1}
        data.append(
            {
                **common,
                "type": "bar",
                "y": _values(np.asarray(c) / total),
                "marker": {"color": "#4c78a8"},
                "name": "replayed",
                "hovertemplate": "%{y:.1%}<extra>replayed</extra>",
            }
        )
        data.append(
            {
                **common,
                "type": "scatter",
                "y": _values(np.asarray(b)),
                "mode": "lines",
                "name": "training",
                "line": {"color": "#e45756", "width": 1.5, "shape": "hvh"},
                "hovertemplate": "%{y:.1%}<extra>training</extra>",
            }
        )
        top = 1.0 - (i - 1) * (height_each + gap)
        domain = [round(max(0.0, top - height_each), 6), round(min(1.0, top), 6)]
        layout[f"yaxis{axis}"] = _axis(domain=domain, tickformat=".0%", anchor=f"x{axis}")
        layout[f"xaxis{axis}"] = _axis(anchor=f"y{axis}", title={"text": f"{name} (outer bars: everything beyond)"})
    return _figure(data, layout, height=200 * n + 40)


def band_counts(bands: dict[str, int]) -> go.Figure:
    """How many replayed points fall in each band of the classifier's score."""
    names = list(bands)
    colors = ["#d62728", "#f39c12", "#f7c56b", "#8c9aab", STATUS_COLORS["unknown"]]
    data = [
        {
            "type": "bar",
            "x": [bands[n] for n in names],
            "y": names,
            "orientation": "h",
            "marker": {"color": colors[: len(names)]},
            "text": [f"{bands[n]:,}" for n in names],
            "textposition": "auto",
        }
    ]
    return _figure(data, {"yaxis": _axis(autorange="reversed"), "xaxis": _axis()}, height=230)


def probability_text(p: float) -> str:
    """A probability with as many decimals as it needs to be neither 0 nor 1 (up to six).

    >>> probability_text(0.1449), probability_text(0.99991), probability_text(1.0)
    ('0.145', '0.99991', '1.000000')
    """
    for digits in (3, 4, 5, 6):
        text = f"{p:.{digits}f}"
        if 0 < float(text) < 1:
            return text
    return text


def contributions(
    names: list[str],
    values: np.ndarray,
    base: float,
    features: np.ndarray | None = None,
    abnormal: str = "abnormal",
    normal: str = "normal",
    top: int = 8,
) -> go.Figure:
    """The classifier's score as a waterfall in log-odds, from LightGBM's ``pred_contrib``.

    It starts at ``base`` (the expected value: the log-odds of an average training
    row), adds each feature's contribution (``values``; the largest ``top`` one by one,
    the rest as one step) and ends at the point's log-odds, labelled with the matching
    probability ``p = 1 / (1 + e^-log-odds)``: the bars add up to the score exactly.
    The probability axis marks p = 0.5, the flag threshold.
    """
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(np.abs(values))[::-1]
    shown, rest = order[:top], order[top:]
    total = float(base + values.sum())
    p = 1.0 / (1.0 + np.exp(-total))
    labels = ["start: average training row"]
    steps = [float(base)]
    for i in shown:
        labels.append(f"{names[i]} = {features[i]:.4g}" if features is not None else names[i])
        steps.append(float(values[i]))
    if len(rest):
        labels.append(f"{len(rest)} other features")
        steps.append(float(values[rest].sum()))
    labels.append(f"score: p = {probability_text(p)}")
    text = [f"{steps[0]:.2f}"] + [f"{v:+.2f}" for v in steps[1:]] + [f"{total:.2f} → p = {probability_text(p)}"]
    data = [
        {
            "type": "waterfall",
            "orientation": "h",
            "measure": ["absolute"] + ["relative"] * (len(steps) - 1) + ["total"],
            "x": [*steps, total],
            "y": labels,
            "text": text,
            "textposition": "outside",
            "cliponaxis": False,
            "increasing": {"marker": {"color": "#d62728"}},
            "decreasing": {"marker": {"color": "#4c78a8"}},
            "totals": {"marker": {"color": "#6b6f76"}},
            "connector": {"line": {"color": "#9aa0a8", "width": 1, "dash": "dot"}},
            "hovertemplate": "%{y}: %{x:.3f} log-odds<extra></extra>",
        }
    ]
    # Ticks in log-odds at round probabilities, so either unit can be read off the axis.
    reach = max(abs(min(0.0, *np.cumsum(steps))), abs(max(0.0, *np.cumsum(steps))), 1.0)
    ticks = [
        q for q in (1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999) if abs(np.log(q / (1 - q))) <= reach * 1.15
    ]
    layout = {
        "showlegend": False,
        "yaxis": _axis(autorange="reversed"),
        "xaxis": _axis(
            title={
                "text": f"log-odds of {abnormal} (0 = p 0.5) · ← towards {normal} · towards {abnormal} →",
                "standoff": 6,
            },
            tickvals=[float(np.log(q / (1 - q))) for q in ticks],
            ticktext=[f"{np.log(q / (1 - q)):+.1f}<br>p {q:g}" for q in ticks],
            range=[-reach * 1.35, reach * 1.35],
            zeroline=True,
            zerolinecolor="#b03030",
            zerolinewidth=1.5,
        ),
        "margin": {"l": 10, "r": 10, "t": 10, "b": 60},
    }
    return _figure(data, layout, height=110 + 26 * len(labels))


def monitor_figures(ws, snap, shown: list[str]) -> dict[str, go.Figure]:
    """The four Monitor figures for one refresh (the page and ``bench`` both call this)."""
    from hitl_core import monitor

    ds = ws.dataset
    features = list(ds.features)
    x_f, y_f = shown[0], shown[1] if len(shown) > 1 else shown[0]
    x_range, y_range = monitor.plot_ranges(ws, snap.window, x_f, y_f, extent=(snap.low, snap.high))
    # With more than two features a slice of the classifier at the other features'
    # medians contradicts the points' own scores (they differ in the other features):
    # no shaded regions then, the points carry their own colours.
    grid = monitor.decision_grid(ws, x_f, y_f, x_range, y_range) if len(features) <= 2 else None
    idx = [features.index(f) for f in shown]
    has_truth = bool((ds.y[ds.n_base :] >= 0).any())
    return {
        "map": decision_map(snap.window, grid, monitor.training_sample(ws), x_f, y_f, x_range, y_range, terms=ws.terms),
        "distributions": distributions(
            shown, [snap.edges[i] for i in idx], [snap.histograms[i] for i in idx], [snap.baseline[i] for i in idx]
        ),
        "timeseries": timeseries(snap.window, shown, ds.spec.time is not None, has_truth, terms=ws.terms),
        "bands": band_counts(snap.bands),
    }
