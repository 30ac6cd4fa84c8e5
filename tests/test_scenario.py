"""The reference scenario, both directions, end to end: once through the core API and
once through the CLI, each in a temporary workspace.

(a) truly normal points far out in the fraud direction: scored fraud and unknown at
first; verified normal; afterwards scored normal and known.
(b) a new fraud pattern: scored normal and unknown at first; verified abnormal;
afterwards caught and known.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from hitl_core import Workspace
from hitl_core.config import FRAUD_THRESHOLD
from tests.conftest import run_cli, scenario_points

FIRST_WAVE_END = 1_400  # stream position by which the first wave of both clusters has arrived
SECOND_WAVE = (2_000, 3_100)
MAX_LABELS = 30


def _queued_cluster_points(queue: pd.DataFrame, ws: Workspace) -> tuple[list[int], list[int]]:
    tags = ws.dataset.extra["Scenario"].to_numpy()
    ids = queue["point_id"].to_numpy()
    return [int(i) for i in ids if tags[i] == "a"], [int(i) for i in ids if tags[i] == "b"]


def test_reference_scenario_through_the_core_api(ws: Workspace):
    ws.replay(FIRST_WAVE_END)
    a_first = scenario_points(ws, "a", below=FIRST_WAVE_END)
    b_first = scenario_points(ws, "b", below=FIRST_WAVE_END)
    scored = ws.scored().set_index("point_id")
    # Before any label: the classifier misjudges both clusters, the detector flags both.
    assert (scored.loc[a_first, "p"] >= FRAUD_THRESHOLD).all()
    assert (scored.loc[b_first, "p"] < FRAUD_THRESHOLD).all()
    assert scored.loc[a_first, "unknown"].all() and scored.loc[b_first, "unknown"].all()

    queue = ws.queue()
    queued_a, queued_b = _queued_cluster_points(queue, ws)
    assert sorted(queued_a) == sorted(a_first.tolist()) and sorted(queued_b) == sorted(b_first.tolist())
    assert 0 < len(queued_a) + len(queued_b) <= MAX_LABELS
    # Unknown points lead the queue: both clusters are inside its unknown head.
    assert set(queue.loc[queue["reason"] == "unknown", "point_id"]) >= set(queued_a) | set(queued_b)

    ws.label_many(queued_a, "normal", "ana")
    ws.label_many(queued_b, "abnormal", "ana")
    result = ws.retrain()

    assert result.promoted, result.summary()
    assert ws.current_version() == result.version == 2
    assert result.labels_used == len(queued_a) + len(queued_b)
    assert result.candidate_metrics["holdout_recall"] >= result.current_metrics["holdout_recall"]
    assert result.candidate_metrics["verified_agreement"] == 1.0
    assert result.candidate_metrics["verified_unknown"] == 0

    ws.replay(SECOND_WAVE[1] - FIRST_WAVE_END)
    later = ws.scored(*SECOND_WAVE).set_index("point_id")
    a_later = scenario_points(ws, "a", above=SECOND_WAVE[0], below=SECOND_WAVE[1])
    b_later = scenario_points(ws, "b", above=SECOND_WAVE[0], below=SECOND_WAVE[1])
    assert len(a_later) >= 10 and len(b_later) >= 5
    assert (later.loc[a_later, "version"] == 2).all()
    assert (later.loc[a_later, "p"] < FRAUD_THRESHOLD).all()
    assert (later.loc[b_later, "p"] >= FRAUD_THRESHOLD).all()
    assert not later.loc[a_later, "unknown"].any()
    assert not later.loc[b_later, "unknown"].any()
    # Shown as normal / fraud, not merely on the right side of 0.5.
    assert set(later.loc[a_later, "status"]) == {"normal"}
    assert set(later.loc[b_later, "status"]) == {"fraud"}


def _json(proc) -> object:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_reference_scenario_through_the_cli(tmp_path):
    home = tmp_path / "cli-ws"
    before = _json(run_cli(home, "status", "--format", "json"))  # bootstraps the demo
    assert before["current_version"] == 1 and before["counts"]["seen"] == 0

    replay = _json(run_cli(home, "replay", "--steps", str(FIRST_WAVE_END), "--format", "json"))
    assert replay["cursor"] == FIRST_WAVE_END

    ws = Workspace(home)  # read-only use: which queued points belong to the planted clusters
    tags = ws.dataset.extra["Scenario"].to_numpy()
    rows = {r["point_id"]: r for r in _json(run_cli(home, "history", "--format", "json"))}
    a_first = scenario_points(ws, "a", below=FIRST_WAVE_END)
    b_first = scenario_points(ws, "b", below=FIRST_WAVE_END)
    assert all(rows[int(i)]["p"] >= FRAUD_THRESHOLD and rows[int(i)]["unknown"] for i in a_first)
    assert all(rows[int(i)]["p"] < FRAUD_THRESHOLD and rows[int(i)]["unknown"] for i in b_first)

    queue = _json(run_cli(home, "queue", "--format", "json"))
    queued_a = [q["point_id"] for q in queue if tags[q["point_id"]] == "a"]
    queued_b = [q["point_id"] for q in queue if tags[q["point_id"]] == "b"]
    assert sorted(queued_a + queued_b) == sorted(map(int, np.r_[a_first, b_first]))
    assert len(queued_a) + len(queued_b) <= MAX_LABELS
    # csv output carries the same queue
    csv = run_cli(home, "queue", "--format", "csv")
    assert csv.returncode == 0 and csv.stdout.count("\n") == len(queue) + 1

    single = _json(run_cli(home, "label", str(queued_a[0]), "normal", "--reviewer", "cli-expert", "--format", "json"))
    assert single["point_id"] == queued_a[0] and single["reviewer"] == "cli-expert" and single["source"] == "cli"
    run_ok = run_cli(home, "label", *map(str, queued_a[1:]), "normal", "--reviewer", "cli-expert")
    assert run_ok.returncode == 0, run_ok.stderr
    run_ok = run_cli(home, "label", *map(str, queued_b), "abnormal", "--reviewer", "cli-expert")
    assert run_ok.returncode == 0, run_ok.stderr

    result = _json(run_cli(home, "retrain", "--format", "json"))
    assert result["decision"] == "promoted", result["conditions"]
    assert result["candidate"]["holdout_recall"] >= result["current"]["holdout_recall"]
    assert result["labels_used"] == len(queued_a) + len(queued_b)

    status = _json(run_cli(home, "status", "--format", "json"))
    assert status["current_version"] == 2 and status["new_labels"] == 0

    _json(run_cli(home, "replay", "--steps", str(SECOND_WAVE[1] - FIRST_WAVE_END), "--format", "json"))
    later = {
        r["point_id"]: r for r in _json(run_cli(home, "history", "--start", str(SECOND_WAVE[0]), "--format", "json"))
    }
    a_later = scenario_points(ws, "a", above=SECOND_WAVE[0], below=SECOND_WAVE[1])
    b_later = scenario_points(ws, "b", above=SECOND_WAVE[0], below=SECOND_WAVE[1])
    assert len(a_later) and len(b_later)
    for pid in a_later:
        r = later[int(pid)]
        assert r["version"] == 2 and r["p"] < FRAUD_THRESHOLD and not r["unknown"] and r["status"] == "normal"
    for pid in b_later:
        r = later[int(pid)]
        assert r["version"] == 2 and r["p"] >= FRAUD_THRESHOLD and not r["unknown"] and r["status"] == "fraud"
