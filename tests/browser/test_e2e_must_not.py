"""Scenario 5: what must not happen.

A paused stream stays put: across several refreshes of the Monitor's timer nothing
on the page changes. And a reviewer without a name cannot store a label, neither
with the buttons nor with the keyboard.
"""

from __future__ import annotations

import re

import pytest

from hitl_core import Workspace
from tests.browser.helpers import MAP, goto_page, map_traces, open_app, wait_idle

pytestmark = pytest.mark.browser
SCENARIO = 5

# Counts the script runs that start from now on (each refresh of the Monitor's timer is one).
_COUNT_RUNS_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__runs = 0;
  let last = app.getAttribute('data-test-script-state');
  new MutationObserver(() => {
    const now = app.getAttribute('data-test-script-state');
    if (now === 'running' && last !== 'running') window.__runs++;
    last = now;
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}
"""


def _monitor_state(page) -> tuple[str, list]:
    """Everything the Monitor shows as text, and the map's points."""
    return page.get_by_test_id("stMain").inner_text(), map_traces(page)


def test_paused_stream_holds_still_and_nameless_reviewer_cannot_label(serve, new_page, shots, workspace_copy):
    from playwright.sync_api import expect

    home = workspace_copy
    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(1_500)
    server = serve(home)
    page = new_page()
    open_app(page, server)
    expect(page.locator(MAP)).to_be_visible()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    wait_idle(page)
    before = _monitor_state(page)
    shots(page, "paused-before")

    # Wait for three refreshes of the timer: not for a fixed time, for the runs themselves.
    page.evaluate(_COUNT_RUNS_JS)
    page.wait_for_function(
        "() => window.__runs >= 3 && document.querySelector("
        "'[data-testid=\"stApp\"]').getAttribute('data-test-script-state') === 'notRunning'",
        polling="raf",
    )
    after = _monitor_state(page)
    shots(page, "paused-after-three-refreshes")
    # Must not: a paused stream moving, or anything on the page changing with it.
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert Workspace(home).stream.state().cursor == 1_500

    # A reviewer who has not given a name.
    goto_page(page, "Verify")
    header = page.locator(".st-key-card").get_by_role("heading", level=3).first
    expect(header).to_have_text(re.compile(r"^Point \d+"))
    first = header.inner_text()
    for key in ("btn_normal", "btn_abnormal", "btn_undo"):
        expect(page.locator(f".st-key-{key} button")).to_be_disabled()
    expect(page.get_by_text("Enter your name above to label")).to_be_visible()
    page.locator("body").press("n")
    page.locator("body").press("a")
    page.locator("body").press("u")
    # S (skip) is allowed without a name. Key presses are handled in order, so once the
    # skip has moved the card on, N, A and U have been handled too (and did nothing).
    page.locator("body").press("s")
    expect(header).not_to_have_text(first)
    wait_idle(page)
    shots(page, "nameless-reviewer")
    # Must not: any label stored.
    assert Workspace(home).labels.events().empty
    expect(page.get_by_text("No labels yet.")).to_be_visible()
