"""Scenario 1: the first start on an empty workspace, in a real browser.

AppTest runs a fragment once; only a browser shows the setup progress as a person
sees it and the Monitor's timer (``st.fragment(run_every=1 s)``) advancing the stream.
"""

from __future__ import annotations

import pytest

from hitl_core import Workspace
from tests.browser.helpers import LOAD_TIMEOUT_MS, metric_int, open_app, wait_metric_at_least

pytestmark = pytest.mark.browser
SCENARIO = 1


def test_first_start_bootstraps_then_the_stream_plays(serve, new_page, shots, tmp_path):
    from playwright.sync_api import expect

    home = tmp_path / "empty"
    home.mkdir()
    server = serve(home)
    page = new_page()
    page.goto(server.url + "/")

    setup = page.get_by_test_id("stExpander").filter(has_text="Setting up the workspace")
    expect(setup).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(setup.get_by_test_id("stProgress")).to_be_visible()
    shots(page, "setting-up", settle=False)  # mid-run on purpose: the progress is what counts

    expect(page.get_by_text("Workspace ready")).to_be_visible(timeout=LOAD_TIMEOUT_MS)  # the toast
    expect(page.get_by_role("heading", name="Monitor", level=1)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(setup).to_have_count(0)  # the setup box clears itself once the workspace is ready
    ws = Workspace(home)
    assert ws.ready and ws.current_version() == 1
    expect(page.locator("[data-testid='stMetric']").filter(has_text="Model version")).to_contain_text("1")
    first = metric_int(page, "Points seen")
    shots(page, "monitor-ready", idle=False)

    # No click from here on: the timer alone must move the stream forward.
    seen = wait_metric_at_least(page, "Points seen", first + 1)
    assert seen > first
    expect(page.get_by_role("button", name="Pause")).to_be_visible()  # a new workspace's stream plays
    shots(page, "stream-playing", idle=False)

    # Must not: a traceback or error anywhere; and a new session must not set up again
    # (no setup box, no "ready" toast, still one model version).
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
    open_app(page, server, idle=False)
    expect(page.get_by_role("heading", name="Monitor", level=1)).to_be_visible()
    expect(setup).to_have_count(0)
    expect(page.get_by_text("Workspace ready")).to_have_count(0)
    assert Workspace(home).registry.version_numbers() == [1]
