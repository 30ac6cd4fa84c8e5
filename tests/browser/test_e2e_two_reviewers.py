"""Scenario 4: two reviewers label at the same time, in two browser sessions.

Both label sets must be stored, each under its reviewer's name, and each reviewer
sees the other's labels after a refresh.
"""

from __future__ import annotations

import re

import pytest

from hitl_core import Workspace
from tests.browser.helpers import LOAD_TIMEOUT_MS, open_app, wait_idle

pytestmark = pytest.mark.browser
SCENARIO = 4

ROUNDS = 3


def _header(page):
    return page.locator(".st-key-card").get_by_role("heading", level=3).first


def _card_point(page) -> int:
    from playwright.sync_api import expect

    expect(_header(page)).to_have_text(re.compile(r"^Point \d+"), timeout=LOAD_TIMEOUT_MS)
    return int(re.search(r"Point (\d+)", _header(page).inner_text()).group(1))


def _sign_in(page, name: str) -> None:
    from playwright.sync_api import expect

    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Start reviewing").click()
    expect(page.get_by_test_id("stMain").get_by_text(f"Reviewing as {name}")).to_be_visible()
    wait_idle(page)


def _skip(page, pid: int) -> int:
    from playwright.sync_api import expect

    page.locator(".st-key-btn_skip button").click()
    expect(_header(page)).not_to_have_text(re.compile(rf"^Point {pid}\b"))
    wait_idle(page)
    return _card_point(page)


def test_two_reviewers_label_at_once_and_see_each_other(serve, new_page, shots, workspace_copy):
    from playwright.sync_api import expect

    home = workspace_copy
    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(1_500)
    server = serve(home)
    ana, bo = new_page(), new_page()  # two browser contexts: two sessions
    for page, name in ((ana, "Ana"), (bo, "Bo")):
        open_app(page, server, "verify")
        _sign_in(page, name)

    given = {"Ana": {}, "Bo": {}}
    for _ in range(ROUNDS):
        a_pid, b_pid = _card_point(ana), _card_point(bo)
        # Each takes a point nobody has labelled and the other is not looking at.
        while a_pid in given["Bo"]:
            a_pid = _skip(ana, a_pid)
        while b_pid == a_pid or b_pid in given["Ana"]:
            b_pid = _skip(bo, b_pid)
        # Both clicks are sent before either result is awaited: the two runs overlap.
        ana.locator(".st-key-btn_normal button").click()
        bo.locator(".st-key-btn_abnormal button").click()
        for page, pid in ((ana, a_pid), (bo, b_pid)):
            expect(_header(page)).not_to_have_text(re.compile(rf"^Point {pid}\b"))
        wait_idle(ana)
        wait_idle(bo)
        given["Ana"][a_pid] = "normal"
        given["Bo"][b_pid] = "abnormal"
    shots(ana, "ana-after-labelling")
    shots(bo, "bo-after-labelling")

    events = Workspace(home).labels.events()
    stored = {(int(e.point_id), e.label, e.reviewer) for e in events.itertuples() if e.action == "label"}
    expected = {(pid, label, name) for name, labels in given.items() for pid, label in labels.items()}
    # Must not: a label lost, written twice, or stored under the other reviewer's name.
    assert stored == expected
    assert len(events) == 2 * ROUNDS and set(events["source"]) == {"page"}

    # After a refresh each sees the other's labels (and their own) in the table.
    for page in (ana, bo):
        page.reload()
        table = page.get_by_test_id("stMain").get_by_test_id("stDataFrame").last
        expect(table).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        wait_idle(page)
        for name, labels in given.items():
            for pid, label in labels.items():
                row = table.locator("tr[role=row]").filter(has_text=str(pid))  # the grid's accessible table
                expect(row).to_contain_text(name)
                expect(row).to_contain_text(label)
    shots(ana, "ana-after-refresh")
    shots(bo, "bo-after-refresh")
