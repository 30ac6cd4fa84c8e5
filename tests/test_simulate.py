"""The oracle simulation: per-round records, strategies that differ as they should, the
stored results, and refusals that leave the user's workspace as it was."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from hitl_core import InvalidInput, Workspace, demo, simulate
from hitl_core.cli import main
from tests.conftest import REPO, digest, run_cli

BUDGET, BATCH = 40, 20


def _state(home: Path) -> str:
    """Digest of everything the user owns (labels, models, stream, policy), results aside."""
    artifacts = home / "artifacts"
    return digest(artifacts) if not (artifacts / simulate.FOLDER).exists() else _without_results(artifacts)


def _without_results(artifacts: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for path in sorted(p for p in artifacts.rglob("*") if p.is_file() and simulate.FOLDER not in p.parts):
        h.update(str(path.relative_to(artifacts)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small_run(demo_template, tmp_path_factory):
    """Three strategies on the demo, one seed, two rounds of 20 labels, in a copy of the demo workspace."""
    import shutil

    home = tmp_path_factory.mktemp("simulate") / "ws"
    shutil.copytree(demo_template, home)
    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(500)  # the user's own stream, labels and models must stay as they are
    ws.label(int(ws.queue()["point_id"].iloc[0]), "normal", "ana")
    before = _state(home)
    results = ws.simulate("queue,random,alerts", budget=BUDGET, batch=BATCH, seeds=1, reference=False)
    return home, before, {r["strategy"]: r for r in results}


@pytest.mark.slow
def test_every_round_is_recorded(small_run):
    _, _, results = small_run
    for result in results.values():
        (run,) = result["runs"]
        rounds = run["rounds"]
        assert [r["round"] for r in rounds] == [0, 1, 2]
        assert [r["labels"] for r in rounds] == [0, BATCH, 2 * BATCH]
        assert rounds[0]["decision"] == "initial" and rounds[0]["recall"] is not None
        for r in rounds[1:]:
            assert r["decision"] in ("promoted", "rejected")
            assert r["recall"] is not None and r["pr_auc"] is not None
            assert r["queue_length"] >= r["queue_qualifying"] - r["queue_unqueued"]
            assert r["queue_unqueued"] == 0 and not r["queue_dry"]
            assert len(r["picked_ids"]) == BATCH
        # the stream arrives round by round: half of it before round 1, all of it before round 2
        assert [r["cursor"] for r in rounds[1:]] == [round(run["stream_rows"] / 2), run["stream_rows"]]
        picked = [i for r in rounds[1:] for i in r["picked_ids"]]
        assert len(set(picked)) == len(picked)  # a point is labelled once
        summary = result["summary"]
        assert summary["labels"]["mean"] == BUDGET and summary["retrains"] == 2
        assert len(summary["curve"]) == 3


@pytest.mark.slow
def test_strategies_differ_as_they_should(small_run):
    _, _, results = small_run
    found = {s: r["summary"]["frauds_found"]["mean"] for s, r in results.items()}
    assert found["alerts"] >= 5 * max(found["random"], 1)
    assert found["queue"] >= 5 * max(found["random"], 1)
    # alerts take the highest probabilities; random draws take whatever comes
    alerts = results["alerts"]["runs"][0]["rounds"][1]["picked_ids"]
    rnd = results["random"]["runs"][0]["rounds"][1]["picked_ids"]
    assert alerts != rnd


@pytest.mark.slow
def test_results_are_stored_and_the_users_workspace_is_untouched(small_run):
    home, before, results = small_run
    assert _state(home) == before
    ws = Workspace(home)
    assert len(ws.labels.current()) == 1 and ws.current_version() == 1 and ws.stream.state().cursor == 500
    for strategy, result in results.items():
        path = Path(result["path"])
        assert path.parent == home / "artifacts" / simulate.FOLDER and path.name.endswith(f"-{strategy}.json")
        stored = json.loads(path.read_text())
        assert stored["strategy"] == strategy and stored["runs"] == result["runs"]
    assert [r["strategy"] for r in simulate.latest(ws)] == ["queue", "random", "alerts"]


@pytest.fixture(scope="module")
def small_table(tmp_path_factory) -> Path:
    """A 5,000-row table of the demo's kind (2,000 stream rows): quick to simulate end to end."""
    home = tmp_path_factory.mktemp("small") / "ws"
    data = demo.generate(n_rows=5_000).drop(columns="Scenario").to_csv(index=False).encode()
    Workspace(home).init("table", features="V4,V14", label="Class", time="Time", upload=("small.csv", data))
    return home


def test_seeds_are_different_runs(small_table: Path):
    results = Workspace(small_table).simulate(
        "random", budget=BATCH, batch=BATCH, seeds=2, reference=False, write=False
    )
    first, second = results[0]["runs"]
    assert first["rounds"][1]["picked_ids"] != second["rounds"][1]["picked_ids"]
    assert first["stream_rows"] == second["stream_rows"] == round(0.9 * 2_000)
    assert first["version1"] == second["version1"]  # the base data (and version 1) stay the same


@pytest.mark.slow
def test_the_cli_writes_json_with_the_full_label_reference(small_table: Path):
    proc = run_cli(
        small_table, "simulate", "--strategy", "alerts,random", "--budget", "20", "--seeds", "1", "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["strategy"] for r in results] == ["alerts", "random"] and "round 1/1" in proc.stderr
    for result in results:
        assert Path(result["path"]).exists() and "runs" not in result  # the rounds are in the file
        assert result["summary"]["reference_recall"]["mean"] is not None
        assert result["summary"]["reference_pr_auc"]["mean"] >= result["summary"]["pr_auc_v1"] - 0.05


def test_the_summary_names_every_strategy(small_run):
    _, _, results = small_run
    text = simulate.describe(list(results.values()))
    lines = text.splitlines()
    assert lines[0].startswith("demo: budget 40 labels in rounds of 20, 1 seed(s)")
    assert [line.split()[0] for line in lines[2:5]] == ["queue", "random", "alerts"]
    assert "version 1: recall" in lines[-1]


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--budget", "10", "--batch", "20"), "smaller than one batch"),
        (("--strategy", "greedy"), "unknown strategy 'greedy'"),
        (("--batch", "0"), "the batch (labels per round) must lie between 1"),
        (("--seeds", "0"), "the number of seeds must lie between 1"),
        (("--budget", "100000"), "exceeds the"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(home: Path, capsys, args, message):
    before = digest(home)
    code, err = _cli(capsys, "simulate", *args)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert digest(home) == before


def test_a_dataset_without_labels_is_refused(tmp_path: Path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    home = tmp_path / "ws"
    Workspace(home).init("table", upload=("plain.csv", frame.to_csv(index=False).encode()), label=None)
    before = digest(home)
    with pytest.raises(InvalidInput, match="no labels"):
        Workspace(home).simulate("queue", budget=20, batch=10, seeds=1)
    proc = run_cli(home, "simulate", "--budget", "20", "--batch", "10")
    assert proc.returncode == 2 and "needs the true label of every point" in proc.stderr
    assert digest(home) == before


def _retrain_page(home: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("HITL_HOME", str(home))
    at = AppTest.from_file(str(REPO / "Home.py"), default_timeout=120)
    at.switch_page("app_pages/retrain.py").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_the_retrain_page_draws_the_latest_learning_curves(small_run, monkeypatch):
    home, _, results = small_run
    at = _retrain_page(home, monkeypatch)
    assert "Learning curves" in [s.value for s in at.subheader]
    shown = at.dataframe[-1].value
    assert shown["strategy"].tolist() == ["queue", "random", "alerts"]
    charts = {c.proto.id.rsplit("-", 1)[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    found = charts["learning_frauds_found"]
    lines = {t["name"]: t["y"] for t in found["data"] if t.get("mode") == "lines+markers"}
    assert lines["alerts"][-1] == results["alerts"]["summary"]["frauds_found"]["mean"]
    assert {"learning_recall", "learning_pr_auc"} <= set(charts)


def test_without_simulations_the_page_says_how_to_run_one(home: Path, monkeypatch):
    at = _retrain_page(home, monkeypatch)
    assert any("python -m hitl_core simulate --strategy all" in c.value for c in at.caption)
    assert not any(c.proto.id.endswith("learning_recall") for c in at.get("plotly_chart"))
