"""The model registry: sidecars, integrity checks, the atomic pointer, rollback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hitl_core import IntegrityError, InvalidInput, Workspace
from hitl_core.classifier import FraudClassifier
from hitl_core.detector import NoveltyDetector
from hitl_core.models import ModelSet
from hitl_core.registry import ModelRegistry, sha256_file
from tests.conftest import REPO


@pytest.fixture
def models():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 2))
    y = (X[:, 0] > 1.5).astype(int)
    return ModelSet(
        FraudClassifier(n_estimators=10).fit(X, y, feature_names=["a", "b"]), None, NoveltyDetector().fit(X)
    )


def test_sidecar_records_libraries_features_fingerprint_metrics_and_file_hashes(ws: Workspace):
    meta = ws.registry.meta(1)
    assert set(meta["libraries"]) >= {"python", "lightgbm", "scikit-learn", "numpy", "pandas", "joblib"}
    assert meta["features"] == ["V4", "V14"]
    assert len(meta["training_data"]["fingerprint"]) == 64
    assert meta["dataset"]["fingerprint"] == ws.dataset.fingerprint
    assert 0 < meta["metrics"]["holdout_recall"] <= 1 and 0 < meta["metrics"]["holdout_pr_auc"] <= 1
    folder = ws.registry.folder(1)
    assert set(meta["files"]) == {"base.joblib", "detector.joblib", "labels.parquet"}  # no verdicts yet
    for name, digest in meta["files"].items():
        assert sha256_file(folder / name) == digest
    assert meta["detector"]["threshold"] == pytest.approx(ws.models().models.detector.threshold_)


def test_a_file_that_no_longer_matches_is_refused(ws: Workspace):
    path = ws.registry.folder(1) / "base.joblib"
    original = path.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"base\.joblib does not match the sha256"):
        Workspace(ws.paths.home).models()
    path.write_bytes(original)
    assert Workspace(ws.paths.home).models().version == 1
    (ws.registry.folder(1) / "detector.joblib").unlink()
    with pytest.raises(IntegrityError, match=r"detector\.joblib is missing"):
        ws.registry.verify(1)


def test_versions_are_immutable_and_numbered(tmp_path, models):
    reg = ModelRegistry(tmp_path / "models")
    reg.create()
    v1 = reg.write(models, {"features": ["a", "b"]})
    v2 = reg.write(models, {"features": ["a", "b"]})
    assert (v1, v2) == (1, 2)
    assert reg.current_version() is None
    assert not [p for p in reg.root.iterdir() if p.name.startswith(".staging")]
    before = {p.name: p.read_bytes() for p in reg.folder(1).iterdir()}
    reg.set_current(2, "promoted")
    reg.set_current(1, "rollback")
    assert {p.name: p.read_bytes() for p in reg.folder(1).iterdir()} == before
    assert [s["version"] for s in reg.switches()] == [2, 1]
    assert reg.load().version == 1


READER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    path = Path(sys.argv[1]); seen = set(); bad = 0
    for _ in range(4000):
        try:
            seen.add(json.loads(path.read_text())["version"])
        except (json.JSONDecodeError, KeyError):
            bad += 1
    print(json.dumps({"seen": sorted(seen), "bad": bad}))
    """
)


def test_current_switches_atomically_under_concurrent_readers(tmp_path, models):
    reg = ModelRegistry(tmp_path / "models")
    reg.create()
    for _ in range(3):
        reg.write(models, {"features": ["a", "b"]})
    reg.set_current(1, "initial")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(reg.pointer)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    for i in range(300):
        reg.set_current(1 + i % 3, "promoted")
    out, _ = reader.communicate(timeout=120)
    report = json.loads(out)
    assert report["bad"] == 0  # never a half-written pointer
    assert set(report["seen"]) <= {1, 2, 3}


def test_rollback_through_the_workspace(ws: Workspace):
    ws.replay(200)
    result = ws.retrain(anyway=True)  # no verdicts: a second version to switch between
    assert result.promoted and ws.current_version() == 2
    ws.rollback(1)
    assert ws.current_version() == 1
    assert ws.history().set_index("version").loc[1, "current"]
    step = ws.replay(10)
    assert (ws.scored(step.start, step.stop)["version"] == 1).all()  # new points scored by the rolled-back version
    with pytest.raises(InvalidInput, match="already current"):
        ws.rollback(1)
    with pytest.raises(InvalidInput, match="no model version 9"):
        ws.rollback(9)
