"""Every page, driven by AppTest from Home.py (no browser; fragments run once)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from hitl_app.state import StateKeys
from hitl_core import Workspace
from tests.conftest import REPO, scenario_points

TIMEOUT = 120


def _app() -> AppTest:
    return AppTest.from_file(str(REPO / "Home.py"), default_timeout=TIMEOUT)


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [e.value for e in at.error] + [w.value for w in at.warning] + [s.value for s in at.success]
    return "\n".join(str(p) for p in parts)


@pytest.fixture
def paused(ws: Workspace) -> Workspace:
    ws.stream.pause()
    ws.replay(1_500)
    return ws


def test_first_start_bootstraps_and_shows_the_monitor(tmp_path, monkeypatch):
    home = tmp_path / "fresh"
    monkeypatch.setenv("HITL_HOME", str(home))
    at = _app().run()
    assert not at.exception
    assert Workspace(home).ready and Workspace(home).current_version() == 1
    assert [t.value for t in at.title] == ["Monitor"]
    assert any("Workspace ready" in t.value for t in at.toast)
    # A second start reuses what exists: no setup message, same version.
    at2 = _app().run()
    assert not at2.exception and not at2.toast
    assert Workspace(home).current_version() == 1


def test_monitor_renders_figures_and_charts(paused: Workspace):
    at = _app().run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    counts = paused.counts()
    assert metrics["Points seen"] == "1,500"
    assert metrics["Fraud flagged"] == f"{counts.fraud:,}"
    assert metrics["Unknown flagged"] == f"{counts.unknown:,}"
    assert metrics["Awaiting review"] == f"{counts.awaiting_review:,}"
    assert metrics["Model version"] == "1"
    charts = at.get("plotly_chart")
    assert len(charts) >= 4  # map, distributions, time series, threshold bands
    assert [s.value for s in at.subheader][:2] == ["Map of the latest points", "Distribution of each feature"]
    assert len(at.dataframe) >= 2  # latest rows and the history page
    assert at.button(key="play").label == "Play"  # paused


def test_monitor_controls_act_on_the_shared_stream(paused: Workspace):
    at = _app().run()
    at.button(key="step").click().run()
    assert not at.exception
    assert paused.stream.state().cursor == 1_550
    at.button(key="play").click().run()
    assert paused.stream.state().playing
    at.button(key="pause").click().run()
    assert not paused.stream.state().playing


def test_verify_stores_one_label_with_the_reviewer_and_moves_on(paused: Workspace):
    at = _app()
    at.session_state[StateKeys.REVIEWER] = "Ana Ruiz"
    at.switch_page("app_pages/verify.py").run()
    assert not at.exception, at.exception
    first = paused.queue()["point_id"].iloc[0]
    assert f"Point {first}" in [s.value for s in at.subheader]
    at.button(key="btn_normal").click().run()
    assert not at.exception
    events = paused.labels.events()
    assert len(events) == 1
    event = events.iloc[0]
    assert (event["point_id"], event["label"], event["reviewer"], event["source"]) == (
        first,
        "normal",
        "Ana Ruiz",
        "page",
    )
    assert event["model_version"] == 1
    headers = [s.value for s in at.subheader]
    assert f"Point {first}" not in headers and any(h.startswith("Point ") for h in headers)  # the next point
    assert "Labels given so far" in headers

    at.button(key="btn_undo").click().run()
    assert not at.exception
    assert paused.labels.current().empty
    assert paused.labels.events()["action"].tolist() == ["label", "undo"]
    assert f"Point {first}" in [s.value for s in at.subheader]  # back in the queue


def test_verify_without_a_name_cannot_label(paused: Workspace):
    at = _app()
    at.switch_page("app_pages/verify.py").run()
    assert not at.exception
    assert at.button(key="btn_normal").disabled and at.button(key="btn_abnormal").disabled
    assert "Enter your name above to label" in _texts(at)
    at.text_input(key="reviewer_input").input("  ")
    at.button[0].click().run()  # "Start reviewing" with a blank name
    assert "reviewer name is required" in _texts(at)
    assert at.button(key="btn_normal").disabled
    at.text_input(key="reviewer_input").input("Bo")
    at.button[0].click().run()
    assert at.session_state[StateKeys.REVIEWER] == "Bo"
    assert not at.button(key="btn_normal").disabled
    assert paused.labels.events().empty


def test_retrain_produces_a_version_in_history_and_as_current(paused: Workspace):
    paused.label_many(scenario_points(paused, "a", below=1_500).tolist(), "normal", "ana")
    paused.label_many(scenario_points(paused, "b", below=1_500).tolist(), "abnormal", "ana")
    at = _app()
    at.switch_page("app_pages/retrain.py").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["New since the current version"] == str(len(paused.labels.current()))
    at.button(key="retrain").click().run()
    assert not at.exception, at.exception
    assert at.session_state[StateKeys.LAST_RETRAIN].promoted
    assert paused.current_version() == 2
    assert any(s.value == "Candidate version 2 vs version 1" for s in at.subheader)
    assert any("promoted" in s.value for s in at.success)
    history = at.dataframe[-1].value.set_index("version")
    assert history.loc[2, "current"] and not history.loc[1, "current"]
    assert history.loc[2, "decision"] == "promoted"
    assert {m.label: m.value for m in at.metric}["Current version"] == "2"


def test_overview_renders(paused: Workspace):
    at = _app()
    at.switch_page("app_pages/overview.py").run()
    assert not at.exception
    assert "Human-in-the-loop anomaly detection" in [t.value for t in at.title]


def test_data_page_replaces_the_workspace_only_after_confirmation(paused: Workspace):
    at = _app()
    at.switch_page("app_pages/data.py").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Dataset"] == "demo"
    at.radio(key="data_source").set_value("breast_cancer").run()
    assert not at.exception
    assert "569 rows × 31 columns" in _texts(at)
    assert at.button(key="data_init").disabled  # not without the confirmation
    at.checkbox(key="data_confirm").check().run()
    at.button(key="data_init").click().run()
    assert not at.exception, at.exception
    ws = Workspace(paused.paths.home)
    assert ws.spec["dataset"]["name"] == "breast_cancer" and ws.current_version() == 1
    assert len(list((paused.paths.home / "archive").iterdir())) == 1
    assert {m.label: m.value for m in at.metric}["Dataset"] == "breast_cancer"


def test_data_page_asks_for_a_file_for_file_datasets(paused: Workspace):
    at = _app()
    at.switch_page("app_pages/data.py").run()
    at.radio(key="data_source").set_value("creditcard").run()
    assert not at.exception
    assert "Upload a file to see its preview" in _texts(at)


def test_detector_only_mode_is_said_plainly_on_every_page(tmp_path, monkeypatch):
    from hitl_core import demo

    frame = demo.generate(5_000).drop(columns=["Class", "Scenario"])
    path = tmp_path / "unlabelled.csv"
    frame.to_csv(path, index=False)
    home = tmp_path / "ws"
    Workspace(home).init("table", path, "V4,V14", time="Time")
    monkeypatch.setenv("HITL_HOME", str(home))
    for page in ("app_pages/monitor.py", "app_pages/verify.py", "app_pages/retrain.py"):
        at = _app()
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert "Detector-only mode" in _texts(at), page
        assert "Label 10 more normal and 10 more abnormal" in _texts(at), page
