"""Shared state stays right: workspace switches, stable axes, class words, controls.

Regression tests for what a user met on the Monitor and after re-initialising a
workspace; the parts only a browser shows are in tests/browser/test_e2e_shared_state.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from hitl_app import charts
from hitl_app.state import StateKeys
from hitl_core import Workspace, monitor
from tests.conftest import REPO, run_cli

TIMEOUT = 120


def _app() -> AppTest:
    return AppTest.from_file(str(REPO / "Home.py"), default_timeout=TIMEOUT)


def _label_some(ws: Workspace, n: int = 4) -> list[int]:
    ws.stream.pause()
    ws.replay(1_500)
    ids = ws.queue(with_features=False)["point_id"].head(n).astype(int).tolist()
    ws.label_many(ids, "normal", "ana")
    return ids


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


# -- 1: a re-initialisation shows only the new workspace's state --------------------------


def test_a_workspace_held_across_a_reinit_by_another_process_sees_only_the_new_one(ws: Workspace, home):
    ids = _label_some(ws)
    assert len(ws.labels.current()) == len(ids) and ws.counts().seen == 1_500
    ws.retrain()
    assert ws.current_version() == 2

    # Another process (the CLI) replaces the workspace while this one keeps its caches.
    done = run_cli(home, "init", "--force", "--dataset", "breast_cancer")
    assert done.returncode == 0, done.stderr
    assert ws.spec["dataset"]["name"] == "breast_cancer"
    assert ws.labels.current().empty and ws.labels.events().empty
    assert ws.new_labels() == 0
    assert ws.current_version() == 1 and ws.registry.version_numbers() == [1]
    assert ws.stream.state().cursor == 0 and ws.counts().seen == 0 and ws.counts().labelled == 0
    assert len(ws.dataset.features) == 30

    # ...and back: still nothing of either earlier incarnation.
    ws.replay(60)
    first = ws.queue(with_features=False)
    point = int(first["point_id"].iloc[0]) if len(first) else ws.dataset.n_base
    ws.label(point, "abnormal", "bo")
    done = run_cli(home, "init", "--force", "--dataset", "demo")
    assert done.returncode == 0, done.stderr
    assert ws.spec["dataset"]["name"] == "demo" and ws.dataset.features == ("V4", "V14")
    assert ws.labels.current().empty and ws.counts().seen == 0 and ws.registry.version_numbers() == [1]
    # Retrain works straight away on the new workspace.
    ws.stream.pause()
    ws.replay(1_500)
    pid = int(ws.queue(with_features=False)["point_id"].iloc[0])
    ws.label(pid, "normal", "ana")
    result = ws.retrain()
    assert result.version == 2 and result.labels_used == 1


def test_every_page_of_an_open_session_shows_the_new_workspace_after_a_switch_both_ways(ws: Workspace, home):
    _label_some(ws, 5)
    at = _app()
    at.session_state[StateKeys.REVIEWER] = "ana"
    at.switch_page("app_pages/retrain.py").run()
    assert not at.exception, at.exception
    assert _metric(at, "Verified labels in force") == "5"
    at.session_state[StateKeys.SKIPPED] = [int(ws.dataset.n_base + 3)]

    for name, features in (("breast_cancer", 30), ("demo", 2)):
        done = run_cli(home, "init", "--force", "--dataset", name)  # another process switches
        assert done.returncode == 0, done.stderr
        at.switch_page("app_pages/retrain.py").run()
        assert not at.exception, at.exception
        assert _metric(at, "Verified labels in force") == "0"
        assert _metric(at, "Current version") == "1"
        at.switch_page("app_pages/verify.py").run()
        assert not at.exception, at.exception
        assert any("No labels yet" in c.value for c in at.caption), "Verify still lists earlier labels"
        assert not at.session_state[StateKeys.SKIPPED] if StateKeys.SKIPPED in at.session_state else True
        at.switch_page("app_pages/monitor.py").run()
        assert not at.exception, at.exception
        # A new workspace's stream plays from its first row (it may have moved a few rows since).
        assert int(_metric(at, "Points seen").replace(",", "")) == ws.stream.state().cursor < 1_500
        sidebar = "\n".join(m.value for m in at.sidebar.markdown)
        assert name in sidebar and (f"{features} features" in sidebar or features == 2)


def test_the_label_store_never_serves_events_of_a_store_that_was_replaced(ws: Workspace, home):
    _label_some(ws, 3)
    store = ws.labels
    assert len(store.events()) == 3
    # Same object, its folder replaced underneath by an empty store.
    import shutil

    shutil.rmtree(store.segments)
    store.create()
    assert store.events().empty and store.current().empty


# -- 13/14/15: class words, honest map, stable axes, elapsed time, short sidebar, reset -----


@pytest.fixture
def cancer(tmp_path, monkeypatch) -> Workspace:
    home = tmp_path / "cancer"
    monkeypatch.setenv("HITL_HOME", str(home))
    ws = Workspace(home)
    ws.init("breast_cancer")
    ws.stream.pause()
    ws.replay(80)
    return ws


def test_breast_cancer_is_never_called_fraud_on_the_monitor_and_its_map_shades_nothing(cancer: Workspace):
    at = _app().run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert "Malignant flagged" in labels and not any("raud" in m for m in labels)
    texts = [c.value for c in at.caption] + [m.value for m in at.markdown]
    assert not any("fraud" in t.lower() for t in texts)
    snap = monitor.snapshot(cancer)
    figures = charts.monitor_figures(cancer, snap, list(cancer.dataset.features[:2]))
    traces = figures["map"].to_dict()["data"]
    assert not [t for t in traces if t["type"] in ("heatmap", "contour")], "a median slice contradicts the points"
    names = {t.get("name") for t in traces}
    assert "fraud" not in names
    assert any("No regions are shaded" in c for c in texts)
    # The sidebar names a few features and counts the rest, not all thirty.
    sidebar = "\n".join(m.value for m in at.sidebar.markdown)
    assert "30 features" in sidebar and cancer.dataset.features[-1] not in sidebar


def test_the_demo_map_keeps_its_regions_and_fraud_words(ws: Workspace):
    ws.stream.pause()
    ws.replay(500)
    figures = charts.monitor_figures(ws, monitor.snapshot(ws), ["V4", "V14"])
    kinds = {t["type"] for t in figures["map"].to_dict()["data"]}
    assert "heatmap" in kinds
    at = _app().run()
    assert "Fraud flagged" in [m.label for m in at.metric]


def test_map_axes_hold_still_when_an_outlier_leaves_the_drawn_window(ws: Workspace):
    ws.stream.pause()
    ws.replay(1_000)
    x_f, y_f = "V4", "V14"
    ranges = []
    for _ in range(6):  # the window moves on by 200 rows at a time
        snap = monitor.snapshot(ws, window=200)
        ranges.append(monitor.plot_ranges(ws, snap.window, x_f, y_f, extent=(snap.low, snap.high)))
        ws.replay(200)
    # Ranges only ever grow; they never jump back when the extremes scroll out of the window.
    for before, after in itertools.pairwise(ranges):
        for (lo0, hi0), (lo1, hi1) in zip(before, after, strict=True):
            assert lo1 <= lo0 and hi1 >= hi0
    # The window-only ranges, as drawn before, did jump back: the test would catch it.
    window_only = []
    for start in range(0, 1_000, 200):
        rows = ws.scored_at(np.arange(start, start + 200))
        window_only.append(monitor.plot_ranges(ws, rows, x_f, y_f))
    assert len(set(window_only)) > 1


def test_the_time_axis_reads_as_elapsed_time(ws: Workspace):
    ws.stream.pause()
    ws.replay(300)
    snap = monitor.snapshot(ws)
    layout = charts.timeseries(snap.window, ["V4", "V14"], True, True).to_dict()["layout"]
    bottom = next(v for k, v in layout.items() if k.startswith("xaxis") and "ticktext" in v)
    assert bottom["ticktext"] and all(":" in t for t in bottom["ticktext"])
    assert "elapsed" in bottom["title"]["text"]


def test_reset_asks_once_then_closes_its_confirmation(ws: Workspace):
    ws.stream.pause()
    ws.replay(300)
    at = _app().run()
    at.button(key="ask_reset").click().run()
    assert not at.exception
    assert any("Replay the stream from its first row" in w.value for w in at.warning)
    assert ws.stream.state().cursor == 300  # asking changes nothing
    at.button(key="reset").click().run()
    assert not at.exception
    assert ws.stream.state().cursor == 0
    assert not any("Replay the stream from its first row" in w.value for w in at.warning)
    assert "reset" not in [b.key for b in at.button]  # the confirmation is gone


def test_speed_changes_only_on_a_click_and_never_by_drawing_the_page(ws: Workspace):
    ws.stream.set_speed(25)
    for _ in range(3):  # fresh sessions, each drawn twice
        at = _app().run()
        at.run()
        assert not at.exception
        assert ws.stream.state().speed == 25
    at.button(key="faster").click().run()
    assert ws.stream.state().speed == 50
    at.button(key="slower").click().run()
    at.button(key="slower").click().run()
    assert ws.stream.state().speed == 10
