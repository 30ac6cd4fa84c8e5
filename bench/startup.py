"""Cold start, restart and the server's memory, measured in a real browser.

* cold start: an empty workspace; from launching ``streamlit run`` to the Monitor in
  Chromium showing the first scored points (the app generates the demo, trains
  version 1 and the stream starts playing);
* restart: the same workspace, server start to healthy, and to the Monitor drawn;
* memory: peak resident memory (VmHWM) of the server process with a full-size
  workspace (284,807 rows, all 30 features, the whole stream replayed) while a
  browser watches the playing Monitor for 15 seconds.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from bench.common import synthetic_file
from bench.server import CHROMIUM, CHROMIUM_ARGS, StreamlitServer
from hitl_core import Workspace


def _points_seen(page) -> int:
    text = page.locator("[data-testid='stMetric']").filter(has_text="Points seen").inner_text()
    return int(re.sub(r"[^0-9]", "", text.split("Points seen")[-1]) or 0)


def run(folder: Path) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {}
    home = Path(tempfile.mkdtemp(prefix="hitl-cold-"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        start = time.perf_counter()
        with StreamlitServer(home) as server:
            page.goto(server.url)
            page.locator("[data-testid='stMetric']").filter(has_text="Points seen").wait_for(timeout=180_000)
            deadline = time.time() + 120
            while _points_seen(page) == 0 and time.time() < deadline:
                page.wait_for_timeout(100)  # the stream's own timer moves it
            out["cold_start_s"] = time.perf_counter() - start
            out["cold_server_healthy_s"] = server.started_s
        start = time.perf_counter()
        with StreamlitServer(home) as server:
            out["restart_healthy_s"] = server.started_s
            page.goto(server.url)
            page.locator("[data-testid='stMetric']").filter(has_text="Points seen").wait_for(timeout=120_000)
            out["restart_to_monitor_s"] = time.perf_counter() - start

        big = Path(tempfile.mkdtemp(prefix="hitl-memory-"))
        ws = Workspace(big)
        ws.init("creditcard", synthetic_file(folder, "parquet"), "all")
        ws.replay(ws.dataset.stream_len - 5_000)
        ws.stream.play()
        with StreamlitServer(big) as server:
            page.goto(server.url)
            page.locator("[data-testid='stMetric']").filter(has_text="Points seen").wait_for(timeout=120_000)
            page.wait_for_timeout(15_000)  # watch it play: memory while refreshing, not just at start
            out["server_peak_rss_mb"] = server.peak_rss_mb()
            out["memory_rows"] = len(ws.dataset)
            out["memory_features"] = len(ws.dataset.features)
        browser.close()
    return out


def report(r: dict) -> str:
    return "\n".join(
        [
            "- Cold start, empty workspace → first scored points on the Monitor in Chromium: "
            f"**{r['cold_start_s']:.1f} s** "
            f"(server healthy after {r['cold_server_healthy_s']:.1f} s; the rest is the first page load generating the "
            "demo, training version 1 and the first tick).",
            f"- Restart with the workspace in place: server healthy in **{r['restart_healthy_s']:.1f} s**, the Monitor "
            f"drawn {r['restart_to_monitor_s']:.1f} s after launch.",
            f"- Peak RSS of the server with a full-size workspace ({r['memory_rows']:,} rows × {r['memory_features']} "
            f"features, stream playing, one browser watching): **{r['server_peak_rss_mb']:,.0f} MB**.",
        ]
    )


if __name__ == "__main__":
    print(report(run(Path(tempfile.gettempdir()) / "hitl-bench-data")))
