"""Verify on a laptop screen: at 1280×720 the four verdict buttons are visible without scrolling.

Only a browser lays the page out, so only a browser can tell what lies above the fold.
"""

from __future__ import annotations

import re

import pytest

from hitl_core import Workspace
from tests.browser.helpers import ACTION_TIMEOUT_MS, LOAD_TIMEOUT_MS, open_app, wait_idle

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 720}
BUTTONS = ("btn_normal", "btn_abnormal", "btn_skip", "btn_undo")

# The element actually drawn at the centre of a box (None off-screen): is the button
# itself on top there, or is it covered (by Streamlit's header, say)?
_ON_TOP_JS = """
(sel) => {
  const el = document.querySelector(sel);
  const r = el.getBoundingClientRect();
  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return !!top && (top === el || el.contains(top));
}
"""


def test_verdict_buttons_are_above_the_fold_at_1280x720(chromium, serve, shots, workspace_copy):
    from playwright.sync_api import expect

    ws = Workspace(workspace_copy)
    ws.stream.pause()
    ws.replay(1_500)
    assert len(ws.queue()) > 0
    server = serve(workspace_copy)
    context = chromium.new_context(viewport=LAPTOP)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page = context.new_page()
        open_app(page, server, "verify")
        page.get_by_label("Your name").fill("Ana Ruiz")
        page.get_by_role("button", name="Start reviewing").click()
        expect(page.get_by_test_id("stMain").get_by_text("Reviewing as Ana Ruiz")).to_be_visible()
        header = page.locator(".st-key-card").get_by_role("heading", level=3).first
        expect(header).to_have_text(re.compile(r"^Point \d+"), timeout=LOAD_TIMEOUT_MS)
        wait_idle(page)
        path = shots(page, "laptop-viewport")

        for key in BUTTONS:
            button = page.locator(f".st-key-{key} button")
            expect(button).to_be_visible()
            expect(button).to_be_enabled()
            box = button.bounding_box()
            assert box is not None, key
            # Must not: any part of a verdict button outside the first screen.
            assert box["x"] >= 0 and box["y"] >= 0, (key, box)
            assert box["x"] + box["width"] <= LAPTOP["width"], (key, box)
            assert box["y"] + box["height"] <= LAPTOP["height"], (key, box)
            assert page.evaluate(_ON_TOP_JS, f".st-key-{key} button"), f"{key} is covered by something"
        # Nothing was scrolled to get there.
        assert page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop") == 0
        assert path.exists()
    finally:
        context.close()
