"""The running tally of the stream's history agrees with a full recount, whatever happens."""

from __future__ import annotations

import json

import numpy as np

from hitl_core import Workspace, monitor, policy, scoring
from hitl_core.durable import read_json


def recount(ws: Workspace) -> dict:
    """Every whole-history figure computed from scratch, the slow obvious way."""
    n = ws.stream.state().cursor
    arrays = ws.stream.arrays()
    p = np.asarray(arrays["proba"][:n], dtype=np.float64)
    unknown = np.asarray(arrays["unknown"][:n])
    labelled = np.zeros(n, dtype=bool)
    current = ws.labels.current()
    pos = current["point_id"].to_numpy(np.int64) - ws.dataset.n_base
    labelled[pos[(pos >= 0) & (pos < n)]] = True
    explore = policy.exploration_flags(ws.dataset.n_base + np.arange(n, dtype=np.int64))
    waiting = policy.queue_reasons(p, unknown, np.asarray(arrays["requested"][:n]), explore) >= 0
    X = ws.dataset.X[ws.dataset.n_base : ws.dataset.n_base + n]
    edges = ws.stream.layout()[0]
    hist = [np.bincount(np.searchsorted(e, X[:, j], side="right"), minlength=len(e) + 1) for j, e in enumerate(edges)]
    return {
        "seen": n,
        "fraud": int((p >= 0.5).sum()),
        "unknown": int(unknown.sum()),
        "uncertain": int((scoring.statuses(p, unknown) == scoring.UNCERTAIN).sum()),
        "awaiting_review": int((waiting & ~labelled).sum()),
        "labelled": int(labelled.sum()),
        "bands": [int((p >= 0.9).sum()), int(((p >= 0.5) & (p < 0.9)).sum()), int(((p > 0.1) & (p < 0.5)).sum())],
        "histograms": np.asarray(hist),
        "queue": len(ws.queue(with_features=False)),
    }


def assert_agrees(ws: Workspace) -> dict:
    want = recount(ws)
    counts = ws.counts()
    for field in ("seen", "fraud", "unknown", "uncertain", "awaiting_review", "labelled"):
        assert getattr(counts, field) == want[field], field
    assert counts.awaiting_review == want["queue"]  # the headline figure is the queue's length
    snap = monitor.snapshot(ws)
    assert list(snap.bands.values())[:3] == want["bands"]
    assert snap.bands["unknown"] == want["unknown"]
    np.testing.assert_array_equal(np.asarray(snap.histograms), want["histograms"])
    return want


def test_the_tally_follows_ticks_picks_labels_and_resets(ws: Workspace):
    ws.stream.pause()
    ws.replay(700)  # through the first planted wave: unknown, fraud and uncertain points
    first = assert_agrees(ws)
    assert first["unknown"] > 0 and first["fraud"] > 0 and first["awaiting_review"] > 0

    ws.replay(123)
    assert_agrees(ws)

    # A pick changes rows already counted.
    normal = ws.scored().query("status == 'normal'")["point_id"].to_numpy()[:4]
    ws.pick_for_review(normal.tolist())
    after_pick = assert_agrees(ws)
    assert after_pick["awaiting_review"] == ws.counts().awaiting_review

    # Labels take points out of the queue; undo puts one back.
    queued = ws.queue(with_features=False)["point_id"].to_numpy()[:3]
    for pid in queued:
        ws.label(int(pid), "normal", "ana")
    labelled = assert_agrees(ws)
    assert labelled["awaiting_review"] == after_pick["awaiting_review"] - 3
    ws.undo("ana")
    assert assert_agrees(ws)["awaiting_review"] == labelled["awaiting_review"] + 1

    # Another process moves the stream: this one catches up on the new rows only.
    Workspace(ws.paths.home).replay(250)
    assert_agrees(ws)

    ws.stream.reset()
    assert ws.counts().seen == 0 and ws.tally().histograms.sum() == 0
    ws.replay(50)
    assert_agrees(ws)


def test_a_power_cut_rewind_counts_every_row_once(ws: Workspace):
    ws.stream.set_speed(10)  # durable: everything so far is on disk
    t0 = ws.stream.state().clock
    ws.tick(now=t0 + 1)
    ws.tick(now=t0 + 2)
    assert ws.tally().histograms.sum() == 20 * len(ws.dataset.features)

    raw = read_json(ws.stream.state_path)
    raw["boot"] = "an-earlier-boot"  # the last 20 rows' scores may never have reached the disk
    ws.stream.state_path.write_text(json.dumps(raw))
    reopened = Workspace(ws.paths.home)
    assert reopened.counts().seen == 0
    reopened.replay(20)  # scored again
    assert reopened.tally().histograms.sum() == 20 * len(ws.dataset.features)
    assert_agrees(reopened)


def test_tallies_handed_out_never_change(ws: Workspace):
    ws.stream.pause()
    ws.replay(100)
    before = ws.tally()
    copy = before.histograms.copy()
    ws.replay(100)
    after = ws.tally()
    np.testing.assert_array_equal(before.histograms, copy)
    assert after.histograms.sum() == 2 * copy.sum()
    assert not after.histograms.flags.writeable
