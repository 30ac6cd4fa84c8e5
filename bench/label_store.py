"""The label store: durable write latency (1 and 8 concurrent writer processes), reading
100,000 events, and the size on disk.

Each write is one verdict, acknowledged only after its file is flushed to disk (the
store's only mode). The read figure is a fresh process opening a store of 100,000
events the way it normally lies on disk: one compacted file plus up to a couple of
hundred small segments not yet merged.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from bench.server import REPO
from hitl_core.labels import COMPACT_AFTER, LabelRequest, LabelStore

WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from hitl_core.labels import LabelRequest, LabelStore
    store = LabelStore(Path(sys.argv[1]))
    name, count = sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    out = []
    for i in range(count):
        t = time.perf_counter()
        store.append([LabelRequest(i, "normal" if i % 2 else "abnormal", name, "api")])
        out.append(time.perf_counter() - t)
    print(json.dumps(out), flush=True)
    """
)


def _writers(root: Path, n: int, count: int) -> list[float]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), f"w{i}", str(count)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    latencies = []
    for p in procs:
        latencies += json.loads(p.stdout.readline())
        p.wait(timeout=300)
    return latencies


def _read_in_fresh_process(root: Path) -> float:
    code = (
        "import sys, time; from pathlib import Path; from hitl_core.labels import LabelStore; "
        "t = time.perf_counter(); n = len(LabelStore(Path(sys.argv[1])).events()); "
        "print(time.perf_counter() - t, n)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], cwd=REPO, capture_output=True, text=True, check=True)
    seconds, n = out.stdout.split()
    assert int(n) == 100_000, n
    return float(seconds)


def run() -> dict:
    out = {}
    for writers, count in ((1, 400), (8, 100)):
        store = LabelStore(Path(tempfile.mkdtemp(prefix="hitl-labels-")))
        store.create()
        start = time.perf_counter()
        lat = _writers(store.root, writers, count)
        wall = time.perf_counter() - start
        out[f"{writers} writer(s)"] = {
            "writes": len(lat),
            "median_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * float(np.percentile(lat, 99)),
            "throughput_per_s": len(lat) / wall,
            "events_stored": len(store.events()),
        }
    store = LabelStore(Path(tempfile.mkdtemp(prefix="hitl-labels-")))
    store.create()
    for i in range(0, 100_000 - 200, 1_000):
        store.append([LabelRequest(j, "normal", "bulk", "import") for j in range(i, min(i + 1_000, 99_800))])
    store.compact()
    for j in range(100_000 - 200, 100_000):  # the recent clicks, not merged yet
        store._write([store._event("label", j, "abnormal", None, "ana", "page", 1, None)], compact=False)
    out["read"] = {
        "events": 100_000,
        "segments": len(list(store.segments.glob("*.parquet"))),
        "seconds": _read_in_fresh_process(store.root),
        "bytes_on_disk": sum(p.stat().st_size for p in store.root.rglob("*") if p.is_file()),
        "compact_after": COMPACT_AFTER,
    }
    return out


def report(r: dict) -> str:
    lines = ["writers | writes | median | p99 | throughput | events stored", "---|---|---|---|---|---"]
    for key in ("1 writer(s)", "8 writer(s)"):
        x = r[key]
        lines.append(
            f"{key.split()[0]} | {x['writes']} | {x['median_ms']:.1f} ms | {x['p99_ms']:.1f} ms | "
            f"{x['throughput_per_s']:,.0f} /s | {x['events_stored']:,}"
        )
    x = r["read"]
    lines.append("")
    lines.append(
        f"Reading {x['events']:,} events in a fresh process (one compacted file + {x['segments']} recent segments): "
        f"**{x['seconds'] * 1000:,.0f} ms**; on disk: {x['bytes_on_disk'] / 2**20:.1f} MB "
        f"({x['bytes_on_disk'] / x['events']:.0f} bytes per event)."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
