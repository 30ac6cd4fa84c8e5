"""After a promotion or a rollback, replayed unverified points are scored by the version in force."""

from __future__ import annotations

import numpy as np

from hitl_core import Workspace
from tests.conftest import scenario_points
from tests.test_tally import assert_agrees


def _replayed_versions(ws: Workspace) -> np.ndarray:
    n = ws.stream.state().cursor
    return np.asarray(ws.stream.arrays()["version"][:n])


def _verify_some_of_cluster_a(ws: Workspace) -> tuple[np.ndarray, np.ndarray]:
    """Verify every other replayed point of both planted clusters; the rest stay unverified."""
    ws.stream.pause()
    ws.replay(2_000)
    a = scenario_points(ws, "a", below=2_000)
    b = scenario_points(ws, "b", below=2_000)
    ws.label_many(a[::2].tolist(), "normal", "ana")
    ws.label_many(b[::2].tolist(), "abnormal", "ana")
    labelled = np.concatenate([a[::2], b[::2]])
    rest = np.concatenate([a[1::2], b[1::2]])
    return labelled, rest


def test_promotion_rescores_the_replayed_unverified_points_and_the_queue_follows(ws: Workspace):
    labelled, rest = _verify_some_of_cluster_a(ws)
    assert len(rest) >= 6
    before = ws.queue(with_features=False)
    assert set(rest) <= set(before["point_id"]), "the unlabelled cluster points were queued under version 1"
    result = ws.retrain()
    assert result.promoted and ws.current_version() == 2

    versions = _replayed_versions(ws)
    pos_labelled = ws.dataset.stream_position(labelled)
    unlabelled = np.setdiff1d(np.arange(len(versions)), pos_labelled)
    assert (versions[unlabelled] == 2).all(), "a replayed, unverified point kept the old version's score"
    assert (versions[pos_labelled] == 1).all(), "a verified point must keep the scores its reviewer saw"
    # The remaining cluster points now score as the experts said of their neighbours.
    rows = ws.scored_at(ws.dataset.stream_position(rest))
    tags = ws.dataset.extra["Scenario"].to_numpy()[rest]
    assert (rows["p"][tags == "a"] < 0.5).all() and (rows["p"][tags == "b"] >= 0.5).all()
    assert not rows["unknown"].any()
    after = ws.queue(with_features=False).set_index("point_id")
    # Cluster (a) is normal now and leaves the queue; cluster (b) is caught now, so its
    # unverified points wait as alerts (to be confirmed), no longer as unknown.
    assert not set(rest[tags == "a"]) & set(after.index), "the queue still shows version 1's view of (a)"
    assert set(after.loc[after.index.intersection(rest[tags == "b"]), "reason"]) <= {"alert"}
    assert set(after["version"]) <= {2}
    assert_agrees(ws)  # counts, bands and the queue length follow the re-scored rows


def test_rollback_rescores_back_to_the_version_made_current(ws: Workspace):
    _verify_some_of_cluster_a(ws)
    first = np.asarray(ws.stream.arrays()["proba"][:2_000]).copy()
    ws.retrain()
    ws.rollback(1)
    versions = _replayed_versions(ws)
    labelled = ws.dataset.stream_position(ws.labels.current()["point_id"].to_numpy())
    others = np.setdiff1d(np.arange(2_000), labelled)
    assert (versions[others] == 1).all()
    np.testing.assert_allclose(np.asarray(ws.stream.arrays()["proba"][:2_000])[others], first[others], atol=1e-6)
    assert_agrees(ws)


def test_in_the_app_rescoring_runs_in_the_background_with_progress(home):
    ws = Workspace(home, rescore_in_background=True)
    _verify_some_of_cluster_a(ws)
    ws.retrain()
    job = ws.jobs.get("rescore")
    assert job is not None
    assert job.wait(120) and job.error is None, job.trace
    assert job.result > 1_900 and job.progress[0] == 1.0 and "version 2" in job.progress[1]
    versions = _replayed_versions(ws)
    assert (versions == 2).sum() >= 1_900
    assert_agrees(ws)


def test_a_reset_during_rescoring_leaves_the_reset_stream_alone(ws: Workspace):
    _verify_some_of_cluster_a(ws)
    calls = {"n": 0}

    def progress(fraction: float, message: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            ws.stream.reset()  # another session resets the stream mid-way

    ws.registry.set_current(ws.retrain(promote=False).version, "promoted")
    ws.stream.rescore(
        ws._stream_features,
        lambda X: (np.zeros(len(X)), np.zeros(len(X)), np.zeros(len(X), bool), 2),
        progress=progress,
        chunk=500,
    )
    assert ws.stream.state().cursor == 0
    assert not np.asarray(ws.stream.arrays()["version"]).any(), "a reset stream got scores written back into it"
