"""Scenario 3: a box drawn on the Monitor's map sends exactly the points inside it to review.

AppTest cannot drive a Plotly selection; here the mouse drags a box over the map
(its dragmode is "select") and the expected points are computed from the trace data
the page holds, with Plotly's own axis mapping.
"""

from __future__ import annotations

import pytest

from hitl_core import Workspace
from tests.browser.helpers import MAP, open_app, wait_idle

pytestmark = pytest.mark.browser
SCENARIO = 3

# Pixel position (in the page) of every stream point on the map, and the plot area.
_MAP_PIXELS_JS = """
(sel) => {
  const gd = document.querySelector(sel);
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const box = gd.getBoundingClientRect();
  const points = [];
  for (const t of gd._fullData) {
    if (!t.customdata) continue;
    const ids = Array.from(t.customdata, Number), xs = Array.from(t.x, Number), ys = Array.from(t.y, Number);
    for (let i = 0; i < ids.length; i++) {
      points.push({id: ids[i], status: t.name,
                   px: box.left + xa._offset + xa.d2p(xs[i]), py: box.top + ya._offset + ya.d2p(ys[i])});
    }
  }
  const area = {left: box.left + xa._offset, top: box.top + ya._offset,
                right: box.left + xa._offset + xa._length, bottom: box.top + ya._offset + ya._length};
  const toPx = (x, y) => [box.left + xa._offset + xa.d2p(x), box.top + ya._offset + ya.d2p(y)];
  return {points, area, fraudCorner: toPx(3, -3)};
}
"""

MARGIN = 4  # px: no point may lie this close to the box's edge, so "inside" is unambiguous


def _clear_box(points: list[dict], x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    """Grow the box until no point sits on its edge."""
    for _ in range(50):
        near = [
            p
            for p in points
            if (x0 - MARGIN < p["px"] < x1 + MARGIN and y0 - MARGIN < p["py"] < y1 + MARGIN)
            and not (x0 + MARGIN < p["px"] < x1 - MARGIN and y0 + MARGIN < p["py"] < y1 - MARGIN)
        ]
        if not near:
            return x0, y0, x1, y1
        x0, y0 = x0 - 2 * MARGIN, y0 - 2 * MARGIN
    raise AssertionError("could not find a box edge clear of points")


def test_box_selection_on_the_map_sends_exactly_those_points(serve, new_page, shots, workspace_copy):
    from playwright.sync_api import expect

    home = workspace_copy
    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(1_500)
    assert not ws.queue()["reason"].eq("picked for review").any()
    server = serve(home)
    page = new_page()
    open_app(page, server)
    expect(page.locator(MAP)).to_be_visible()
    wait_idle(page)

    # A box over the fraud direction (V4 > 3, V14 < -3) up to the plot's lower right
    # corner: fraud, unknown and uncertain points, plus training points without ids.
    geo = page.evaluate(_MAP_PIXELS_JS, MAP)
    area = geo["area"]
    x0, y0 = geo["fraudCorner"]
    x1, y1 = area["right"] - 2, area["bottom"] - 2
    x0, y0, x1, y1 = _clear_box(geo["points"], x0, y0, x1, y1)
    inside = {p["id"] for p in geo["points"] if x0 < p["px"] < x1 and y0 < p["py"] < y1}
    assert 3 <= len(inside) < len(geo["points"]) / 2, inside

    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()
    send = page.get_by_role("button", name=f"Send {len(inside)} selected point(s) to review")
    expect(send).to_be_visible()
    wait_idle(page)
    shots(page, "box-selected")

    waiting = set(Workspace(home).queue(with_features=False)["point_id"].astype(int))
    send.click()
    # The toast counts only the points new in the queue, not those already waiting for another reason.
    expect(page.get_by_text(f"Sent {len(inside - waiting)} new point(s) to the review queue.")).to_be_visible()
    expect(page.get_by_text(f"The {len(inside)} selected point(s) are in the review queue")).to_be_visible()
    expect(send).to_have_count(0)  # nothing left to send from this selection
    wait_idle(page)
    shots(page, "sent-to-review")

    queue = Workspace(home).queue()
    picked = set(queue.loc[queue["reason"] == "picked for review", "point_id"].astype(int))
    # Must not: a point outside the box (or a training point) sent along, or one inside left out.
    assert picked == inside
    assert set(Workspace(home).scored().query("picked")["point_id"].astype(int)) == inside
