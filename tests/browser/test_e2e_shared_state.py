"""Scenario 6: shared state is only ever changed by a person's action.

What only a browser shows: a first start whose tab is closed mid-setup, several tabs
at once, fresh sessions mounting the Monitor's controls, the history while the
stream plays, and the requests the pages make.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest

from hitl_core import Workspace
from tests.browser.helpers import LOAD_TIMEOUT_MS, metric_int, open_app, speed_shown, wait_idle, wait_metric_at_least

pytestmark = pytest.mark.browser
SCENARIO = 6
SETUP_SECONDS = 180.0


def _record_requests(page, hosts: set[str]) -> None:
    page.on("request", lambda request: hosts.add(urlparse(request.url).hostname or request.url.split(":", 1)[0]))


def test_first_start_runs_to_its_end_with_every_tab_closed_and_only_once(serve, new_page, shots, tmp_path):
    from playwright.sync_api import expect

    home = tmp_path / "empty"
    home.mkdir()
    server = serve(home, as_in_readme=True)  # the project's own settings, as the README runs it
    hosts: set[str] = set()

    # Two tabs open at the same moment.
    first, second = new_page(), new_page()
    for page in (first, second):
        _record_requests(page, hosts)
        page.goto(server.url + "/", wait_until="commit")
    for page in (first, second):
        setup = page.get_by_test_id("stExpander").filter(has_text="Setting up the workspace")
        expect(setup).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        expect(setup.get_by_test_id("stProgress")).to_be_visible()
    shots(first, "setting-up", settle=False)

    # Every tab closes while setup runs: nobody is connected any more.
    assert not Workspace(home).ready, "setup finished before the tabs closed; the test proves nothing"
    first.close()
    second.close()
    deadline = time.monotonic() + SETUP_SECONDS
    while not Workspace(home).ready:
        assert time.monotonic() < deadline, f"setup stalled with no tab open:\n{server.log_tail()}"
        time.sleep(0.5)  # waiting for the server's own background work, not for the page

    ws = Workspace(home)
    assert ws.registry.version_numbers() == [1]
    assert not (home / "archive").exists(), "the workspace was set up twice"

    # A tab that connects afterwards shows the result, not another setup.
    later = new_page()
    _record_requests(later, hosts)
    open_app(later, server, idle=False)
    expect(later.get_by_role("heading", name="Monitor", level=1)).to_be_visible()
    expect(later.get_by_test_id("stExpander").filter(has_text="Setting up")).to_have_count(0)
    wait_metric_at_least(later, "Points seen", 1)
    shots(later, "after-setup", idle=False)
    assert Workspace(home).registry.version_numbers() == [1]

    # Must not: a request to any host but this server, or warnings in the server's log.
    assert hosts <= {"127.0.0.1", "data", "blob"}, f"the pages fetched from outside: {sorted(hosts)}"
    log = server.log.read_text(errors="replace")
    assert not re.search(r"warning|traceback", log, re.I), f"the server log is not clean:\n{log[-3000:]}"


def test_opening_and_reloading_pages_never_changes_the_shared_speed(serve, new_page, workspace_copy):
    from playwright.sync_api import expect

    home = workspace_copy
    Workspace(home).stream.set_speed(25)
    server = serve(home)
    for _ in range(10):  # ten fresh sessions, each reloaded once
        page = new_page()
        open_app(page, server, idle=False)
        expect(page.locator(".st-key-controls")).to_contain_text("25 rows/s")
        page.reload()
        expect(page.locator(".st-key-controls")).to_contain_text("25 rows/s", timeout=LOAD_TIMEOUT_MS)
        assert speed_shown(page) == 25
        page.context.close()
        # Must not: a session's first drawing writing its own speed into the shared stream.
        assert Workspace(home).stream.state().speed == 25


def _history_count(page) -> int:
    caption = (
        page.locator("[data-testid='stExpander']")
        .filter(has_text="Full history")
        .get_by_text(re.compile(r"replayed point\(s\) match"))
    )
    text = caption.inner_text()
    return int(re.search(r"([\d,]+) (?:of the [\d,]+ )?replayed point", text).group(1).replace(",", ""))


def test_full_history_follows_the_stream_while_it_plays(serve, new_page, shots, workspace_copy):
    from playwright.sync_api import expect

    home = workspace_copy
    Workspace(home).stream.set_speed(50)
    server = serve(home)
    page = new_page()
    open_app(page, server, idle=False)
    page.get_by_test_id("stExpander").filter(has_text="Full history").locator("summary").click()
    first = metric_int(page, "Points seen")
    wait_metric_at_least(page, "Points seen", first + 150)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    wait_idle(page)
    seen = Workspace(home).stream.state().cursor
    assert metric_int(page, "Points seen") == seen
    # The history catches up with the cursor on its own timer: no reload, no click.
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('[data-testid=\"stExpander\"]')].some(e => "
        "new RegExp('^' + n.toLocaleString('en-US') + ' (of the [\\\\d,]+ )?replayed point').test("
        "(e.querySelector('[data-testid=\"stCaptionContainer\"]') || {innerText: ''}).innerText))",
        arg=seen,
        timeout=LOAD_TIMEOUT_MS,
        polling=200,
    )
    assert _history_count(page) == seen
    shots(page, "history-follows")
