"""Verify and Retrain as a reviewer reads them: the score explained, failures, versions, words.

AppTest tests of the two pages (from Home.py, in a temporary ``HITL_HOME``), and the
core behaviour behind them: a retrain with nothing new, picks that were queued already.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from hitl_app.state import StateKeys
from hitl_core import Workspace, policy
from hitl_core.durable import exclusive
from hitl_core.errors import InvalidInput
from hitl_core.retrain import RetrainResult
from tests.conftest import REPO, run_cli, scenario_points

TIMEOUT = 120


def _app() -> AppTest:
    return AppTest.from_file(str(REPO / "Home.py"), default_timeout=TIMEOUT)


def _page(page: str, reviewer: str | None = "Ana Ruiz", skipped: list[int] | None = None) -> AppTest:
    at = _app()
    if reviewer:
        at.session_state[StateKeys.REVIEWER] = reviewer
    if skipped:
        at.session_state[StateKeys.SKIPPED] = skipped
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _main_text(at: AppTest) -> str:
    """Everything the main area holds, as text: every element's and block's content."""
    parts = []
    for node in at.main:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        if getattr(node, "type", None) == "dataframe":
            parts.append(node.value.to_string())
    return "\n".join(parts)


def _chart(at: AppTest, key: str) -> dict:
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith(f"-{key}"):
            return json.loads(chart.proto.spec)
    raise AssertionError(f"no plotly chart with key {key!r}")


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


@pytest.fixture
def paused(ws: Workspace) -> Workspace:
    ws.stream.pause()
    ws.replay(1_500)
    return ws


# -- the contribution chart adds up to the score on the card -----------------------------------


def _card_adds_up(at: AppTest, ws: Workspace, point_id: int) -> float:
    """Check the card of ``point_id``; returns the point's p."""
    assert f"Point {point_id}" in [s.value for s in at.subheader]
    p = float(ws.queue().set_index("point_id").loc[point_id, "p"])
    (metric,) = [m.value for m in at.metric if m.label.startswith("Classifier: P(")]
    spec = _chart(at, "contrib")
    (trace,) = spec["data"]
    assert trace["type"] == "waterfall"
    measure = trace["measure"]
    assert measure[0] == "absolute" and measure[-1] == "total" and set(measure[1:-1]) == {"relative"}
    assert trace["y"][0].startswith("start")  # the base value (LightGBM's expected value) comes first
    steps = np.asarray(trace["x"][:-1], dtype=np.float64)
    end = float(steps.sum())
    # Base + contributions is the point's log-odds: the score the card states (p was stored as float32).
    assert end == pytest.approx(_logit(p), abs=1e-4 + 1e-4 / min(p, 1 - p))
    assert 1 / (1 + np.exp(-end)) == pytest.approx(p, abs=1e-6)
    # What the reviewer reads: the last bar names the card's p, and the unit of the axis.
    assert trace["y"][-1] == f"score: p = {metric}"
    assert f"p = {metric}" in trace["text"][-1]
    assert "log-odds" in spec["layout"]["xaxis"]["title"]["text"]
    return p


def test_contribution_chart_adds_up_to_the_score_on_the_card(paused: Workspace):
    at = _page("app_pages/verify.py")
    head = int(paused.queue()["point_id"].iloc[0])
    _card_adds_up(at, paused, head)


def test_contribution_chart_of_a_point_on_the_normal_side(paused: Workspace):
    # The reported case: an uncertain point below 0.5, whose features all push up from a
    # very low base value. Skip to it so that it is on the card.
    queue = paused.queue()
    low = queue.index[(queue["reason"] == "uncertain") & (queue["p"] < 0.5)]
    assert len(low), "no uncertain point below 0.5 in the queue"
    before = queue["point_id"].iloc[: low[0]].astype(int).tolist()
    pid = int(queue["point_id"].iloc[low[0]])
    at = _page("app_pages/verify.py", skipped=before)
    p = _card_adds_up(at, paused, pid)
    trace = _chart(at, "contrib")["data"][0]
    assert trace["x"][0] < _logit(p) < 0  # starts further left, ends left of p = 0.5: on the normal side


# -- the card's layout at 1280×720: see tests/browser/test_e2e_verify_layout.py ----------------

# -- a failed retrain says why -----------------------------------------------------------------


def test_a_failed_retrain_shows_its_reason_in_the_visible_message(paused: Workspace):
    paused.label(int(paused.queue()["point_id"].iloc[0]), "normal", "ana")
    at = _page("app_pages/retrain.py")
    with exclusive(paused.paths.lock("retrain")):  # another retrain holds the workspace
        at.button(key="retrain").click().run()
    assert not at.exception, at.exception
    reason = "a retrain is already running"
    (status,) = at.status
    assert status.state == "error" and reason in status.label
    assert not [n for n in status if getattr(n, "type", None) == "error"]  # not hidden in the closed box
    assert any(reason in e.value for e in at.error)
    assert paused.registry.version_numbers() == [1]


# -- a retrain with nothing new ----------------------------------------------------------------


def test_the_core_refuses_a_retrain_with_nothing_new_unless_asked(paused: Workspace):
    assert paused.new_labels() == 0
    with pytest.raises(InvalidInput, match=r"nothing new to learn.*since version 1"):
        paused.retrain()
    assert paused.registry.version_numbers() == [1]
    assert paused.retrain(anyway=True).version == 2
    paused.label(int(paused.queue()["point_id"].iloc[0]), "normal", "ana")
    assert paused.retrain().version == 3  # a new verdict: no flag needed


def test_the_cli_refuses_a_retrain_with_nothing_new_unless_anyway(paused: Workspace):
    home = paused.paths.home
    refused = run_cli(home, "retrain")
    assert refused.returncode == InvalidInput.exit_code
    assert "nothing new to learn" in refused.stderr and "--anyway" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "--anyway" in run_cli(home, "retrain", "--help").stdout
    done = run_cli(home, "retrain", "--anyway", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == 2


def test_the_page_disables_retrain_with_nothing_new_and_offers_anyway(paused: Workspace):
    at = _page("app_pages/retrain.py")
    button = at.button(key="retrain")
    assert button.disabled and "No new verdicts since version 1" in button.help
    assert any("No new verdicts since version 1" in i.value for i in at.info)
    at.checkbox(key="retrain_anyway").check().run()
    assert not at.button(key="retrain").disabled
    at.button(key="retrain").click().run()
    assert not at.exception, at.exception
    assert paused.registry.version_numbers() == [1, 2]
    # The choice is made afresh each time: the next retrain with nothing new is disabled again.
    assert at.button(key="retrain").disabled and not at.checkbox(key="retrain_anyway").value


# -- the banner after a switch of versions -----------------------------------------------------


def test_after_switching_back_the_banner_does_not_call_the_candidate_current(paused: Workspace):
    paused.label_many(scenario_points(paused, "a", below=1_500).tolist(), "normal", "ana")
    at = _page("app_pages/retrain.py")
    at.button(key="retrain").click().run()
    assert not at.exception, at.exception
    assert any("it is now current" in s.value for s in at.success)

    assert at.selectbox(key="switch_choice").label == "Switch to version"
    at.selectbox(key="switch_choice").set_value(1).run()
    at.button(key="switch").click().run()
    assert not at.exception, at.exception
    assert paused.current_version() == 1
    text = _main_text(at)
    assert "now current" not in text and "Roll back" not in text
    assert not at.success
    assert any("version 1 has been made current since" in i.value for i in at.info)

    # Moving forward again is a switch too, and the banner is true again.
    at.selectbox(key="switch_choice").set_value(2).run()
    at.button(key="switch").click().run()
    assert paused.current_version() == 2
    assert any("it is now current" in s.value for s in at.success)


def test_the_summary_follows_the_current_version():
    result = RetrainResult(2, 1, "promoted", [], {}, {}, 3, 1.0)
    assert "it is now current" in result.summary(2)
    assert "now current" not in result.summary(1) and "version 1 has been made current since" in result.summary(1)
    held = RetrainResult(3, 2, "held", [], {}, {}, 3, 1.0)
    assert "version 2 stays current" in held.summary(2)
    assert "stays current" not in held.summary(3)


def test_the_version_history_shows_no_none(paused: Workspace):
    at = _page("app_pages/retrain.py")
    history = at.dataframe[-1]
    assert history.value.set_index("version")["parent"].isna().loc[1]  # version 1 has no parent
    # Missing values are shown as a dash, not as Streamlit's default "None".
    assert history.proto.placeholder == "—"


# -- picks that were queued already ------------------------------------------------------------


def test_picks_count_only_points_new_in_the_queue(paused: Workspace):
    ws = paused
    queue = ws.queue()
    unknown = queue.loc[queue["reason"] == "unknown", "point_id"].astype(int).tolist()[:2]
    uncertain = queue.loc[queue["reason"] == "uncertain", "point_id"].astype(int).tolist()[:2]
    audit = queue.loc[queue["reason"].isin(["alert", "exploration"]), "point_id"].astype(int).tolist()[:1]
    assert len(unknown) == 2 and len(uncertain) == 2 and len(audit) == 1
    scored = ws.scored()
    calm = scored.loc[~scored["point_id"].isin(queue["point_id"]) & (scored["status"] == "normal"), "point_id"]
    fresh, labelled = calm.astype(int).tolist()[:2], calm.astype(int).tolist()[2]
    ws.label(labelled, "normal", "ana")
    assert not policy.exploration_flags(np.asarray(fresh)).any()

    assert ws.pick_for_review(unknown + uncertain + audit + [labelled] + fresh + fresh) == len(fresh)
    assert ws.pick_for_review(unknown + fresh) == 0  # nothing new the second time
    after = ws.queue().set_index("point_id")["reason"]
    # Every pick is marked (picks lead the queue); the labelled point stays out.
    assert set(after.loc[unknown + uncertain + audit + fresh]) == {"picked for review"}
    assert labelled not in after.index


# -- the dataset's own words -------------------------------------------------------------------


def test_breast_cancer_pages_never_say_fraud(tmp_path, monkeypatch):
    home = tmp_path / "bc"
    ws = Workspace(home)
    ws.init("breast_cancer")
    monkeypatch.setenv("HITL_HOME", str(home))
    ws.stream.pause()
    ws.replay(120)
    scored = ws.scored()
    truth = ws.dataset.y[scored["point_id"].to_numpy()]
    ws.label_many(scored["point_id"][truth == 1].head(3).tolist(), "abnormal", "ana")
    ws.label_many(scored["point_id"][truth == 0].head(3).tolist(), "normal", "ana")
    assert len(ws.queue())

    verify = _page("app_pages/verify.py")
    assert any(s.value.startswith("Point ") for s in verify.subheader)  # a card, with its map and chart
    retrain = _page("app_pages/retrain.py")
    retrain.button(key="retrain").click().run()
    assert not retrain.exception, retrain.exception
    assert retrain.session_state[StateKeys.LAST_RETRAIN] is not None  # the gate's sentences are shown too

    for page, at in (("Verify", verify), ("Retrain", retrain)):
        text = _main_text(at)
        assert not re.search("fraud", text, re.IGNORECASE), (page, re.findall(r".{60}fraud.{60}", text, re.I))
    assert "Malignant recall" in _main_text(retrain)
    assert "P(malignant)" in _main_text(verify)


def test_the_card_says_which_features_make_a_point_novel(paused: Workspace):
    ws = paused
    queue = ws.queue(with_features=False)
    unknown = queue[queue["reason"] == "unknown"]
    assert len(unknown)
    pid = int(unknown["point_id"].iloc[0])
    reasons = ws.novelty_reasons(pid)
    assert reasons and {r["feature"] for r in reasons} <= set(ws.dataset.features)
    assert reasons == sorted(reasons, key=lambda r: -r["part"])
    # The planted clusters are far out in both features: each accounts for part of the score.
    assert all(0 < r["share"] <= 1 for r in reasons)
    at = _app()
    at.session_state[StateKeys.REVIEWER] = "ana"
    at.session_state[StateKeys.SKIPPED] = queue["point_id"].iloc[: queue.index[queue["point_id"] == pid][0]].tolist()
    at.switch_page("app_pages/verify.py").run()
    assert not at.exception, at.exception
    assert f"Point {pid}" in [s.value for s in at.subheader]
    caption = next(c.value for c in at.caption if c.value.startswith("Novel mostly in"))
    assert reasons[0]["feature"] in caption
