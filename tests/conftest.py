"""Shared fixtures: throw-away workspaces, a CLI runner, and a workspace digest."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hitl_core import Workspace

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """A bootstrapped demo workspace, built once per test session and copied per test."""
    home = tmp_path_factory.mktemp("template")
    Workspace(home).bootstrap()
    return home


@pytest.fixture
def home(demo_template, tmp_path, monkeypatch) -> Path:
    """A private copy of the demo workspace; ``HITL_HOME`` points at it."""
    target = tmp_path / "ws"
    shutil.copytree(demo_template, target)
    monkeypatch.setenv("HITL_HOME", str(target))
    return target


@pytest.fixture
def ws(home) -> Workspace:
    return Workspace(home)


def digest(root: Path) -> str:
    """sha256 over every file's path and bytes under ``root`` (what "unchanged" means)."""
    h = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def run_cli(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HITL_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "hitl_core", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def scenario_points(ws: Workspace, cluster: str, below: int | None = None, above: int | None = None) -> np.ndarray:
    """Point ids of a planted demo cluster ('a' or 'b'), optionally within stream positions."""
    tags = ws.dataset.extra["Scenario"].to_numpy()
    ids = np.flatnonzero(tags == cluster)
    pos = ws.dataset.stream_position(ids)
    if below is not None:
        ids = ids[pos < below]
        pos = pos[pos < below]
    if above is not None:
        ids = ids[pos >= above]
    return ids
