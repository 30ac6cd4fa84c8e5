"""Real data: the credit-card file, breast cancer, any table, unlabelled tables, and
the malformed-file corpus (rejected by the CLI and by the upload path, changing nothing)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hitl_core import InvalidInput, NotReady, Workspace, openml
from hitl_core.config import MIN_LABELS_PER_CLASS
from hitl_core.datasets import KAGGLE_FEATURES, choose_features
from tests.conftest import SHARED_DATA, digest, run_cli

MALFORMED = Path(__file__).resolve().parent / "data" / "malformed"
CREDITCARD = SHARED_DATA / "creditcard_subset.parquet"

# file -> (a phrase the message must contain, extra environment)
CORPUS = {
    "missing_required_column.csv": ("required column(s) Class missing", {}),
    "missing_chosen_column.csv": ("V14 not found", {}),
    "non_numeric_feature.csv": ("column 'V4' is not numeric: data row 3 holds 'abc'", {}),
    "missing_values.csv": ("column 'V14' has 1 missing or infinite value(s), first at data row 6", {}),
    "infinite_values.csv": ("column 'V4' has 1 missing or infinite value(s), first at data row 8", {}),
    "label_three_values.csv": ("label column 'Class' must hold exactly two values; it holds 3", {}),
    "label_one_value.csv": ("label column 'Class' must hold exactly two values; it holds 1", {}),
    "empty.csv": ("empty.csv is empty", {}),
    "whitespace_only.csv": ("whitespace_only.csv is empty", {}),
    "header_only.csv": ("has a header but no data rows", {}),
    "semicolon_delimited.csv": ("semicolon-separated", {}),
    "tab_delimited.csv": ("tab-separated", {}),
    "duplicate_columns.csv": ("duplicate column name(s): V4", {}),
    "ragged_rows.csv": ("not a well-formed CSV", {}),
    "binary_garbage.csv": ("binary data", {}),
    "json_not_table.csv": ("looks like JSON", {}),
    "truncated.parquet": ("not a readable parquet file", {}),
    "corrupt.csv.gz": ("cannot be decompressed", {}),
    "too_few_rows.csv": ("at least 50 are needed", {}),
    "bad_time_column.csv": ("time column 'Time' is neither numeric nor a date: data row 1", {}),
    "oversize.csv": ("over the 48.8 KB limit", {"HITL_MAX_INPUT_MB": "0.0476837158203125"}),  # 50,000 bytes
}


def test_the_corpus_covers_every_file():
    assert len(CORPUS) >= 15
    assert sorted(CORPUS) == sorted(p.name for p in MALFORMED.iterdir())


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_malformed_file_is_rejected_by_the_cli_and_changes_nothing(home: Path, name: str, monkeypatch):
    phrase, env = CORPUS[name]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    before = digest(home)
    proc = run_cli(home, "init", "--force", "--dataset", "creditcard", "--data", str(MALFORMED / name))
    assert proc.returncode == InvalidInput.exit_code, proc.stderr
    assert phrase in proc.stderr
    assert "Traceback" not in proc.stderr
    assert digest(home) == before


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_malformed_upload_is_rejected_and_changes_nothing(home: Path, name: str, monkeypatch):
    phrase, env = CORPUS[name]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ws = Workspace(home)
    before = digest(home)
    upload = (name, (MALFORMED / name).read_bytes())
    with pytest.raises(InvalidInput) as info:
        ws.preview("creditcard", upload=upload)  # what the Data page shows first
        ws.init("creditcard", upload=upload, force=True)  # then the button
    assert phrase in str(info.value)
    assert digest(home) == before


def test_the_oversize_file_loads_under_the_normal_limit(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.init("creditcard", MALFORMED / "oversize.csv")
    assert len(ws.dataset) == 400


def test_incomplete_rows_are_dropped_only_when_asked(tmp_path):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(InvalidInput, match="--drop-invalid"):
        ws.init("creditcard", MALFORMED / "missing_values.csv")
    assert not ws.ready
    ws.init("creditcard", MALFORMED / "missing_values.csv", invalid="drop")
    assert len(ws.dataset) == 199 and ws.spec["dataset"]["dropped_rows"] == 1
    proc = run_cli(
        tmp_path / "cli",
        "init",
        "--dataset",
        "creditcard",
        "--data",
        str(MALFORMED / "infinite_values.csv"),
        "--drop-invalid",
    )
    assert proc.returncode == 0, proc.stderr
    assert "Dropped 1 incomplete row(s)" in proc.stderr


def test_an_initialised_workspace_is_replaced_only_with_force(home: Path):
    before = digest(home)
    proc = run_cli(home, "init", "--dataset", "breast_cancer")
    assert proc.returncode == InvalidInput.exit_code and "already initialised" in proc.stderr
    assert digest(home) == before
    assert Workspace(home).spec["dataset"]["name"] == "demo"
    proc = run_cli(home, "init", "--dataset", "breast_cancer", "--force")
    assert proc.returncode == 0, proc.stderr
    assert Workspace(home).spec["dataset"]["name"] == "breast_cancer"
    archived = list((home / "archive").iterdir())
    assert len(archived) == 1 and (archived[0] / "labels").is_dir()  # the old state is kept, not deleted


def test_replay_order_follows_the_time_column_else_file_order(tmp_path):
    frame = pd.read_csv(MALFORMED / "oversize.csv")
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    path = tmp_path / "shuffled.csv"
    shuffled.to_csv(path, index=False)
    by_time = Workspace(tmp_path / "a")
    by_time.init("creditcard", path)
    assert np.all(np.diff(by_time.dataset.time) >= 0)
    np.testing.assert_allclose(by_time.dataset.X[:, 0], frame.sort_values("Time")["V4"].to_numpy())
    in_file_order = Workspace(tmp_path / "b")
    in_file_order.init("table", path, label="Class", time=None, base_fraction=0.5)
    np.testing.assert_allclose(
        in_file_order.dataset.X[:, list(in_file_order.dataset.features).index("V4")], shuffled["V4"].to_numpy()
    )
    assert in_file_order.dataset.n_base == 200
    assert "Time" not in in_file_order.dataset.features  # a raw time column is never a default feature
    assert set(in_file_order.dataset.features) == set(KAGGLE_FEATURES)


def test_detector_only_load_leaves_out_the_time_and_label_columns(tmp_path):
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "Time": np.sort(rng.integers(0, 10_000, 600)),
            "V1": rng.normal(size=600),
            "Class": (rng.random(600) < 0.1).astype(int),
            "V2": rng.normal(size=600),
        }
    )
    path = tmp_path / "unlabelled.parquet"
    frame.to_parquet(path)
    ws = Workspace(tmp_path / "ws")
    prepared = ws.init("table", path, label=None)
    assert prepared.features == ("V1", "V2")
    assert prepared.spec.extra["features_from"] == "inferred"
    assert prepared.spec.extra["left_out"] == {
        "Time": "looks like a time column (named like one)",
        "Class": "looks like a label (two values, named like one)",
    }
    assert ws.spec["dataset"]["extra"]["left_out"] == prepared.spec.extra["left_out"]  # kept with the workspace


@pytest.mark.parametrize(
    ("column", "values", "reason"),
    [
        ("timestamp", np.arange(300.0)[::-1], "named like one"),  # named like time, even decreasing
        ("event_ts", np.zeros(300), "named like one"),
        ("seq", np.arange(300) // 3, "never decrease"),  # monotonic non-decreasing
        ("is_fraud", np.arange(300) % 2, "looks like a label"),
        ("target", np.arange(300) % 2, "looks like a label"),
        ("outcome", np.arange(300) % 2, "looks like a label"),
        ("y", np.arange(300) % 2, "looks like a label"),
    ],
)
def test_time_like_and_label_like_columns_are_never_default_features(column, values, reason):
    frame = pd.DataFrame({"V1": np.random.default_rng(0).normal(size=300), column: values})
    choice = choose_features(frame)
    assert choice.features == ("V1",)
    assert column in choice.offered  # still there to choose explicitly
    assert reason in choice.left_out[column]


def test_a_column_is_only_label_like_with_two_values_and_a_label_name():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "V1": rng.normal(size=300),
            "class": rng.integers(0, 3, 300),  # three values: a feature like any other
            "flag": rng.integers(0, 2, 300),  # two values, but not named like a label
        }
    )
    assert choose_features(frame).features == ("V1", "class", "flag")


def test_a_table_whose_numeric_columns_all_look_like_time_is_refused_naming_them(tmp_path):
    path = tmp_path / "times.csv"
    pd.DataFrame({"Time": np.arange(300), "who": ["x"] * 300}).to_csv(path, index=False)
    with pytest.raises(InvalidInput, match=r"Time: looks like a time column.*who: not numeric.*--features"):
        Workspace(tmp_path / "ws").init("table", path, label=None)
    assert not (tmp_path / "ws").exists() or not Workspace(tmp_path / "ws").ready


def _loop(ws: Workspace, steps: int, labels: int) -> None:
    """replay -> queue -> label (honestly, with the data's own class) -> retrain."""
    ws.stream.pause()
    ws.replay(steps)
    queue = ws.queue().head(labels)
    assert len(queue) > 0
    truth = ws.dataset.y[queue["point_id"].to_numpy()]
    for verdict in ("normal", "abnormal"):
        ids = queue["point_id"][truth == (verdict == "abnormal")].tolist()
        if ids:
            ws.label_many(ids, verdict, "expert")
    result = ws.retrain()
    assert result.version == 2 and result.labels_used == len(queue)


@pytest.fixture(scope="module")
def creditcard_file() -> Path:
    if not CREDITCARD.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CREDITCARD} must be present in CI")
        pytest.skip(f"{CREDITCARD} is not present (the shared data folder sits beside the project in CI)")
    return CREDITCARD


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "features", "floor"), [("parquet", None, 0.75), ("csv", "all", 0.85)])
def test_creditcard_subset_end_to_end(creditcard_file, tmp_path, fmt, features, floor):
    source = creditcard_file
    if fmt == "csv":
        source = tmp_path / "creditcard.csv"
        pd.read_parquet(creditcard_file).to_csv(source, index=False)
    home = tmp_path / "ws"
    args = ["init", "--dataset", "creditcard", "--data", str(source)] + (["--features", features] if features else [])
    proc = run_cli(home, *args)
    assert proc.returncode == 0, proc.stderr
    ws = Workspace(home)
    assert ws.dataset.features == (("V4", "V14") if features is None else KAGGLE_FEATURES)
    # time-ordered split: the first 60% is the base data, evaluated on its latest fifth
    assert np.all(np.diff(ws.dataset.time) >= 0)
    assert ws.dataset.n_base == round(0.6 * len(ws.dataset))
    v1 = json.loads(run_cli(home, "evaluate", "--format", "json").stdout)
    assert v1["holdout_pr_auc"] >= floor
    _loop(ws, steps=3_000, labels=40)
    assert ws.evaluate(1)["holdout_pr_auc"] == pytest.approx(v1["holdout_pr_auc"])


@pytest.mark.slow
def test_breast_cancer_end_to_end(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.init("breast_cancer")
    assert len(ws.dataset) == 569 and len(ws.dataset.features) == 30
    assert ws.dataset.y.sum() == 212  # malignant = abnormal
    metrics = ws.evaluate()
    assert metrics["holdout_roc_auc"] >= 0.95
    _loop(ws, steps=100, labels=15)
    assert ws.evaluate()["holdout_roc_auc"] >= 0.95


def test_unlabelled_table_runs_detector_only_until_ten_labels_of_each_class(tmp_path):
    from hitl_core import demo

    frame = demo.generate(20_000)
    truth = frame.pop("Class").to_numpy()
    frame = frame.drop(columns="Scenario")
    path = tmp_path / "unlabelled.parquet"
    frame.to_parquet(path)
    ws = Workspace(tmp_path / "ws")
    proc = run_cli(
        tmp_path / "ws", "init", "--dataset", "table", "--data", str(path), "--time", "Time", "--features", "V4,V14"
    )
    assert proc.returncode == 0, proc.stderr
    assert "runs detector-only" in proc.stderr
    assert ws.mode == "detector-only" and ws.labels_needed() == {"normal": 10, "abnormal": 10}
    ws.stream.pause()
    ws.replay(5_000)
    scored = ws.scored()
    assert scored["p"].isna().all()  # no classifier: nothing is called fraud
    assert set(scored["status"]) <= {"normal", "unknown"} and (scored["status"] == "unknown").any()
    assert ws.evaluate()["holdout_recall"] is None

    stream_truth = truth[scored["point_id"].to_numpy()]
    abnormal = scored["point_id"][stream_truth == 1].head(MIN_LABELS_PER_CLASS).tolist()
    normal = scored["point_id"][stream_truth == 0].head(MIN_LABELS_PER_CLASS).tolist()
    ws.label_many(normal[:-1], "normal", "ana")
    ws.label_many(abnormal, "abnormal", "ana")
    assert ws.labels_needed() == {"normal": 1, "abnormal": 0}
    result = ws.retrain()
    assert ws.current_version() == result.version and ws.mode == "detector-only"  # detector refitted only
    assert result.candidate_metrics["verified_unknown"] == 0

    ws.label(normal[-1], "normal", "ana")
    result = ws.retrain()
    assert result.promoted and ws.mode == "classifier"
    assert result.candidate_metrics["verified_agreement"] == 1.0
    step = ws.replay(3_000)
    later = ws.scored(step.start, step.stop)
    assert step.rows == 3_000 and later["p"].notna().all()
    caught = later.loc[truth[later["point_id"].to_numpy()] == 1, "p"]
    assert (caught >= 0.5).mean() > 0.5  # twenty labels already catch most fraud


ARFF = """% a small file in OpenML's ARFF layout for data id 1597
@RELATION creditcard
@ATTRIBUTE Time NUMERIC
{attributes}
@ATTRIBUTE Amount NUMERIC
@ATTRIBUTE Class {{'0','1'}}
@DATA
{rows}
"""


def _arff(frame: pd.DataFrame) -> bytes:
    attributes = "\n".join(f"@ATTRIBUTE V{i} NUMERIC" for i in range(1, 29))
    rows = "\n".join(",".join(f"{v:g}" for v in r[:-1]) + f",'{int(r[-1])}'" for r in frame.to_numpy())
    return ARFF.format(attributes=attributes, rows=rows).encode()


def test_openml_loader_reads_its_cache_offline(tmp_path, monkeypatch):
    frame = pd.read_csv(MALFORMED / "oversize.csv")
    ws = Workspace(tmp_path / "ws")
    ws.paths.openml_cache.mkdir(parents=True)
    (ws.paths.openml_cache / "1597.arff").write_bytes(_arff(frame))

    def no_network(url):
        raise AssertionError(f"no download expected, asked for {url}")

    monkeypatch.setattr(openml, "_fetch", no_network)
    ws.init("creditcard", "openml")
    assert len(ws.dataset) == 400 and ws.spec["dataset"]["source"] == "OpenML data id 1597"
    assert ws.dataset.y.sum() == frame["Class"].sum()


def test_openml_loader_downloads_once_into_the_cache(tmp_path):
    frame = pd.read_csv(MALFORMED / "oversize.csv")
    calls = []

    def fake_fetch(url):
        calls.append(url)
        if url.endswith("/data/1597"):
            return json.dumps({"data_set_description": {"file_id": "1673544"}}).encode()
        assert url.endswith("/download/1673544")
        return _arff(frame)

    cache = tmp_path / "cache"
    first = openml.load_creditcard(cache, fetch=fake_fetch)
    second = openml.load_creditcard(cache, fetch=fake_fetch)
    assert len(calls) == 2 and (cache / "1597.arff").exists()
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == list(frame.columns)

    def offline(url):
        raise OSError("network unreachable")

    with pytest.raises(NotReady, match="place a copy at"):
        openml.load_creditcard(tmp_path / "empty-cache", fetch=offline)
