"""The browser tests' Streamlit harness, timed: started on a free port, stopped by its PID."""

from __future__ import annotations

import time
from pathlib import Path

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, Server, start_server

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "StreamlitServer"]


class StreamlitServer:
    """``with StreamlitServer(home) as server: server.url ...``; ``started_s`` = start to healthy."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.server: Server | None = None
        self.started_s = float("nan")

    @property
    def url(self) -> str:
        return self.server.url

    def __enter__(self) -> StreamlitServer:
        start = time.perf_counter()
        self.server = start_server(self.home, self.home.parent / f"{self.home.name}-server.log")
        self.started_s = time.perf_counter() - start
        return self

    def peak_rss_mb(self) -> float:
        """The server's peak resident memory (VmHWM), in MB."""
        with open(f"/proc/{self.server.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def __exit__(self, *exc) -> None:
        if self.server is not None:
            self.server.stop()
