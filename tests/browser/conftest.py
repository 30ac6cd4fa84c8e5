"""Browser-test fixtures: a real ``streamlit run Home.py`` per test, driven by Chromium.

Each test gets its own server on 127.0.0.1 and a free port, started in a new process
group with ``HITL_HOME`` pointing at a workspace of the test's own, and stopped by
killing that group. The browser is Debian's Chromium (``/usr/bin/chromium``; browsers
cannot be downloaded here), started once per test module through Playwright's sync API.
Our fixtures deliberately avoid pytest-playwright's names (``browser``, ``page``, ...),
so the plugin only contributes its command-line options and never parametrises or
launches anything itself.

Without Chromium the tests skip with the reason, except under ``CI=true``, where a
missing browser is a failure: CI must run them.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.helpers import (
    ACTION_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    IN_CI,
    VIEWPORT,
    Server,
    Shots,
    start_server,
)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; with CI=true the browser tests must run, not skip", pytrace=False)
    pytest.skip(reason)


# -- the browser ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, launched headless through Playwright, shared by a module's tests."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (install Debian's chromium: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    from playwright.sync_api import expect

    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(chromium) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (a new Streamlit session each)."""
    contexts = []

    def make(viewport: dict | None = None):
        ctx = chromium.new_context(viewport=viewport or VIEWPORT)
        ctx.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[[Path], Server]]:
    """Start a server over a workspace folder; every server is stopped after the test."""
    servers: list[Server] = []

    def start(home: Path, as_in_readme: bool = False) -> Server:
        server = start_server(home, tmp_path / f"streamlit-{len(servers)}.log", as_in_readme=as_in_readme)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
        # Shown by pytest only when the test failed.
        print(f"--- server log ({server.url}, HITL_HOME={server.home}) ---\n{server.log_tail()}")


@pytest.fixture
def workspace_copy(demo_template, tmp_path) -> Path:
    """A private copy of the bootstrapped demo workspace (stream at 0, playing)."""
    target = tmp_path / "ws"
    shutil.copytree(demo_template, target)
    return target


@pytest.fixture
def shots(request) -> Shots:
    name = re.sub(r"^test_", "", request.node.name)
    number = getattr(request.module, "SCENARIO", None)
    return Shots(f"{number}-{name}" if number else name)
