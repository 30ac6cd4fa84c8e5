"""Helpers for the browser tests: the Streamlit server, waiting, screenshots, reading the page.

Kept out of ``conftest.py`` so that the tests can import them by one module name.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

CHROMIUM = Path(os.environ.get("HITL_CHROMIUM", "/usr/bin/chromium"))
# Without the networking flags Chromium waits on network services that do not exist here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Streamlit scrolls inside its own container, so a "full page" shot needs a tall viewport.
VIEWPORT = {"width": 1400, "height": 2400}
OUTPUT = REPO / "test-output"
IN_CI = os.environ.get("CI", "").strip().lower() == "true"

SERVER_START_TIMEOUT = 90.0
# A first page load imports pandas, LightGBM, scikit-learn and Plotly in the server:
# on a busy two-core machine that alone can take over ten seconds.
LOAD_TIMEOUT_MS = 90_000
ACTION_TIMEOUT_MS = 30_000

APP_IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


# -- the server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One ``streamlit run Home.py`` process over one workspace."""

    home: Path
    url: str
    proc: subprocess.Popen
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
            except ProcessLookupError:
                pass


def start_server(home: Path, log: Path, as_in_readme: bool = False) -> Server:
    """Start ``streamlit run Home.py`` over ``home`` on 127.0.0.1 and a free port.

    ``as_in_readme`` passes nothing but the address: the settings are the project's
    own (.streamlit/config.toml), as with the README's run command.
    """
    port = _free_port()
    env = {**os.environ, "HITL_HOME": str(home)}
    cmd = [sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true"]
    if not as_in_readme:
        cmd += ["--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(home=home, url=f"http://127.0.0.1:{port}", proc=proc, log=log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"streamlit did not become healthy in {SERVER_START_TIMEOUT:g} s:\n{server.log_tail()}")
        time.sleep(0.1)  # polling the health endpoint while the server boots


# -- page helpers -------------------------------------------------------------------------


def wait_idle(page, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    """Wait until no script run is in progress.

    Checked on every animation frame rather than with ``expect``'s back-off polling:
    on the Monitor the 1 s timer starts a run every second, and a poll that happens
    to fall in step with it would never see the short idle moments in between.
    """
    page.wait_for_function(f"() => !!document.querySelector({APP_IDLE!r})", timeout=timeout_ms, polling="raf")


def open_app(page, server: Server, path: str = "", idle: bool = True) -> None:
    """Load a page of the app in a new session (``idle=False`` when the stream plays)."""
    from playwright.sync_api import expect

    page.goto(f"{server.url}/{path}")
    expect(page.locator("[data-testid='stSidebarNav']")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    if idle:
        wait_idle(page)


def goto_page(page, title: str) -> None:
    """Switch page through the sidebar, as a person does (the session is kept)."""
    from playwright.sync_api import expect

    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    wait_idle(page)


class Shots:
    """Full-page screenshots of one scenario's key moments, in ``test-output/``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.count = 0
        OUTPUT.mkdir(exist_ok=True)
        for old in OUTPUT.glob(f"{prefix}-*.png"):
            old.unlink()

    def __call__(self, page, moment: str, settle: bool = True, idle: bool = True) -> Path:
        """Save a shot; ``settle`` waits until nothing is half-drawn, ``idle`` until no run is
        in progress (pass ``idle=False`` while the stream plays: then a run is always near)."""
        from playwright.sync_api import expect

        if settle:
            # Not half-drawn: no loading placeholders, every chart drawn.
            expect(page.locator("[data-testid='stSkeleton']")).to_have_count(0, timeout=LOAD_TIMEOUT_MS)
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
                ".every(c => c.querySelector('.js-plotly-plot .main-svg'))",
                timeout=LOAD_TIMEOUT_MS,
            )
        if settle and idle:
            wait_idle(page)
        self.count += 1
        path = OUTPUT / f"{self.prefix}-{self.count:02d}-{moment}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path


# -- reading what the page shows ----------------------------------------------------------

METRIC_JS = """
(label) => {
  for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
    const l = m.querySelector('[data-testid="stMetricLabel"]');
    if (l && l.innerText.trim() === label) {
      const v = m.querySelector('[data-testid="stMetricValue"]');
      return v ? v.innerText.trim() : null;
    }
  }
  return null;
}
"""


def metric(page, label: str) -> str | None:
    """The shown value of the metric with this label (None if absent)."""
    return page.evaluate(METRIC_JS, label)


def metric_int(page, label: str) -> int:
    value = metric(page, label)
    assert value is not None, f"no metric labelled {label!r} on the page"
    return int(value.replace(",", ""))


def wait_metric_at_least(page, label: str, minimum: int, timeout_ms: int = LOAD_TIMEOUT_MS) -> int:
    """Wait (polling in the page) until a whole-number metric reaches ``minimum``."""
    page.wait_for_function(
        f"(args) => {{ const v = ({METRIC_JS})(args[0]); return v !== null && "
        "parseInt(v.replace(/,/g, ''), 10) >= args[1]; }",
        arg=[label, minimum],
        timeout=timeout_ms,
        polling=100,
    )
    return metric_int(page, label)


MAP = ".st-key-monitor_map .js-plotly-plot"

# Each status trace of the map: its name, point ids (customdata) and coordinates.
# gd.data holds Plotly's base64 arrays as sent; _fullData holds them decoded.
MAP_TRACES_JS = """
(sel) => {
  const gd = document.querySelector(sel);
  if (!gd || !gd._fullData) return null;
  return gd._fullData.filter(t => t.customdata && t.visible !== false).map(t => ({
    name: t.name,
    ids: Array.from(t.customdata, Number),
    x: Array.from(t.x, Number),
    y: Array.from(t.y, Number),
  }));
}
"""


def map_traces(page, selector: str = MAP) -> list[dict]:
    traces = page.evaluate(MAP_TRACES_JS, selector)
    assert traces is not None, f"no drawn plotly chart at {selector}"
    return traces


def map_status_of_points(page, selector: str = MAP) -> dict[int, str]:
    """point id -> the status trace it is drawn in."""
    return {pid: t["name"] for t in map_traces(page, selector) for pid in t["ids"]}


# The Monitor's speed, as drawn between its Slower and Faster buttons ("**25** rows/s").
SPEED_JS = """(() => {
  const box = document.querySelector('.st-key-controls');
  const m = box && box.innerText.match(/(\\d+)\\s*rows\\/s/);
  return m ? parseInt(m[1], 10) : null;
})()"""


def speed_shown(page) -> int | None:
    return page.evaluate(SPEED_JS)
