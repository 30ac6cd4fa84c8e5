"""Verify and Retrain as a reviewer reads them: the score explained, failures, versions, words.

AppTest tests of the two pages (from Home.py, in a temporary ``HITL_HOME``), and the
core behaviour behind them: a retrain with nothing new, picks that were queued already.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from hitl_app.state import StateKeys
from hitl_core import Workspace, scoring
from tests.conftest import REPO

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


# -- picks that were queued already ------------------------------------------------------------


def test_picks_count_only_points_new_in_the_queue(paused: Workspace):
    ws = paused
    queue = ws.queue()
    unknown = queue.loc[queue["reason"] == "unknown", "point_id"].astype(int).tolist()[:2]
    uncertain = queue.loc[queue["reason"] == "uncertain", "point_id"].astype(int).tolist()[:2]
    audit = queue.loc[queue["reason"] == "audit sample", "point_id"].astype(int).tolist()[:1]
    assert len(unknown) == 2 and len(uncertain) == 2 and len(audit) == 1
    scored = ws.scored()
    calm = scored.loc[~scored["point_id"].isin(queue["point_id"]) & (scored["status"] == "normal"), "point_id"]
    fresh, labelled = calm.astype(int).tolist()[:2], calm.astype(int).tolist()[2]
    ws.label(labelled, "normal", "ana")
    assert not scoring.audit_flags(np.asarray(fresh)).any()

    assert ws.pick_for_review(unknown + uncertain + audit + [labelled] + fresh + fresh) == len(fresh)
    assert ws.pick_for_review(unknown + fresh) == 0  # nothing new the second time
    after = ws.queue().set_index("point_id")["reason"]
    # Every pick is marked (picks lead the queue); the labelled point stays out.
    assert set(after.loc[unknown + uncertain + audit + fresh]) == {"picked for review"}
    assert labelled not in after.index
