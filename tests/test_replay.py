"""The shared stream: wall-clock advance, stepping, persistence, incremental scoring."""

from __future__ import annotations

import numpy as np
import pytest

from hitl_core import IntegrityError, InvalidInput, Workspace
from hitl_core.config import MAX_CATCH_UP_SECONDS
from hitl_core.replay import StreamStore


class CountingScorer:
    """Wraps the workspace scorer and records the size of every batch it is given."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.batches: list[int] = []

    def __call__(self, X):
        self.batches.append(len(X))
        return self.ws._score(X)


def test_a_new_stream_starts_at_zero_and_plays(ws: Workspace):
    state = ws.stream.state()
    assert state.cursor == 0 and state.playing and state.length == ws.dataset.stream_len


def test_clock_ticks_advance_by_speed_and_elapsed_time_only(ws: Workspace):
    ws.stream.set_speed(50)
    t0 = ws.stream.state().clock
    assert ws.tick(now=t0 + 0.5).rows == 25
    assert ws.tick(now=t0 + 0.5).rows == 0  # same instant, another session: nothing more is due
    assert ws.tick(now=t0 + 1.0).rows == 25
    ws.stream.pause()
    assert ws.tick(now=t0 + 100).rows == 0
    assert ws.stream.state().cursor == 50


def test_a_long_gap_does_not_jump_the_stream(ws: Workspace):
    ws.stream.set_speed(10)
    t0 = ws.stream.state().clock
    step = ws.tick(now=t0 + 3600)
    assert step.rows == int(MAX_CATCH_UP_SECONDS * 10)


def test_each_tick_scores_only_the_new_rows(ws: Workspace):
    scorer = CountingScorer(ws)
    ws.stream.set_speed(50)
    t0 = ws.stream.state().clock
    for i in range(1, 6):
        ws.stream.advance(ws._stream_features, scorer, now=t0 + i)
    assert scorer.batches == [50] * 5
    ws.stream.advance(ws._stream_features, scorer, rows=7)
    assert scorer.batches[-1] == 7
    # what was scored matches a from-scratch scoring of exactly those rows
    frame = ws.scored()
    p, novelty, unknown, version = ws._score(ws.dataset.X[ws.dataset.n_base : ws.dataset.n_base + 257])
    np.testing.assert_allclose(frame["p"], p, rtol=1e-6)
    np.testing.assert_allclose(frame["novelty"], novelty, rtol=1e-5)
    assert (frame["unknown"].to_numpy() == unknown).all() and (frame["version"] == version).all()


def test_position_and_scores_survive_a_restart(ws: Workspace):
    ws.replay(321)
    ws.stream.set_speed(50)
    before = ws.scored()
    reopened = Workspace(ws.paths.home)  # a new process would start exactly like this
    state = reopened.stream.state()
    assert state.cursor == 321 and state.speed == 50
    after = reopened.scored()
    assert after.equals(before)
    assert reopened.tally().histograms.sum() == 321 * len(ws.dataset.features)
    edges, baseline = reopened.stream.layout()
    assert len(edges) == len(baseline) == len(ws.dataset.features)
    assert all(abs(b.sum() - 1) < 1e-9 for b in baseline)


def test_step_reset_and_end_of_stream(ws: Workspace):
    ws.stream.pause()
    ws.replay(100)
    ws.pick_for_review([ws.dataset.n_base + 5])
    state = ws.stream.reset()
    assert state.cursor == 0 and state.epoch == 1 and not state.playing
    assert ws.scored().empty and not ws.stream.arrays()["requested"].any()
    end = ws.replay(10**9)
    assert end.state.finished and end.rows == ws.dataset.stream_len
    assert ws.replay(5).rows == 0


def test_bad_stream_requests(ws: Workspace):
    with pytest.raises(InvalidInput, match="speed must be one of"):
        ws.stream.set_speed(7)
    with pytest.raises(InvalidInput, match="non-negative"):
        ws.replay(-1)
    with pytest.raises(InvalidInput, match="already been replayed"):
        ws.stream.request_review(np.array([5]))


def test_picked_points_join_the_queue_first(ws: Workspace):
    ws.replay(300)
    normal = ws.scored().query("status == 'normal'")["point_id"].to_numpy()[:3]
    assert ws.pick_for_review(normal.tolist()) == 3
    assert ws.pick_for_review(normal.tolist()) == 0  # already there
    queue = ws.queue()
    assert set(queue.loc[queue["reason"] == "picked for review", "point_id"]) == set(normal)
    assert queue["reason"].iloc[0] == "picked for review"


def test_stream_files_are_checked(tmp_path):
    store = StreamStore(tmp_path / "stream")
    store.create(10, "f" * 64, np.zeros((20, 2)))
    (tmp_path / "stream" / "proba.npy").write_bytes(b"junk")
    with pytest.raises(IntegrityError, match=r"proba\.npy is missing or damaged"):
        StreamStore(tmp_path / "stream").arrays()


def test_ticks_flush_to_disk_periodically_and_a_power_cut_rewinds_to_the_last_flush(ws: Workspace):
    from hitl_core.durable import read_json

    ws.stream.set_speed(10)  # a durable write: everything so far is on disk
    t0 = ws.stream.state().clock
    ws.tick(now=t0 + 1)
    ws.tick(now=t0 + 2)
    state = ws.stream.state()
    assert state.cursor == 20 and state.synced == 0  # ticks stay in the page cache for a while
    ws.tick(now=t0 + 7)  # more than SYNC_SECONDS since the last flush
    assert ws.stream.state().synced == ws.stream.state().cursor == 70
    ws.tick(now=t0 + 8)
    assert ws.stream.state().synced == 70

    # A normal restart (same boot): nothing is rewound.
    assert Workspace(ws.paths.home).stream.state().cursor == 80
    Workspace(ws.paths.home).stream.arrays()
    assert ws.stream.state().cursor == 80

    # The state was last written in an earlier boot: scores past the last flush may be lost.
    raw = read_json(ws.stream.state_path)
    raw["boot"] = "an-earlier-boot"
    ws.stream.state_path.write_text(__import__("json").dumps(raw))
    reopened = Workspace(ws.paths.home)
    reopened.stream.arrays()
    assert reopened.stream.state().cursor == 70
    assert reopened.replay(10).start == 70  # those rows are scored again


def test_explicit_steps_are_durable_at_once(ws: Workspace):
    ws.stream.pause()
    ws.replay(33)
    state = ws.stream.state()
    assert state.synced == state.cursor == 33
