"""Bad input to the CLI and the core: a clear message, a non-zero exit, nothing changed.

"Nothing changed" is checked by hashing every file of the workspace before and after.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from hitl_core import Busy, InvalidInput, Workspace
from tests.conftest import REPO, digest, run_cli


@pytest.fixture
def replayed(ws: Workspace) -> Workspace:
    ws.stream.pause()
    ws.replay(500)
    ws.label(ws.dataset.n_base + 3, "abnormal", "ana")
    return ws


CLI_CASES = [
    (["label", "99999999", "normal", "--reviewer", "ana"], "there is no point 99999999"),
    (["label", "abc", "normal", "--reviewer", "ana"], "point id must be a whole number"),
    (["label", "{stream}", "fraudulent", "--reviewer", "ana"], "label must be 'normal' or 'abnormal'"),
    (["label", "{stream}", "normal", "--reviewer", "   "], "reviewer name is required"),
    (["label", "{stream}", "{stream2}", "{future}", "normal", "--reviewer", "ana"], "has not been replayed yet"),
    (["label", "5", "normal", "--reviewer", "ana"], "belongs to the base data"),
    (["init", "--force", "--features", "V4,V99"], "V99 not found"),
    (["init", "--force", "--features", "V4,V4"], "more than once"),
    (["init", "--features", "V4"], "already initialised"),
    (["init", "--force", "--dataset", "nope"], "invalid choice: 'nope'"),
    (["replay", "--steps", "-5"], "non-negative"),
    (["rollback", "7"], "no model version 7"),
    (["rollback", "1"], "already current"),
    (["undo", "--reviewer", "nobody"], "nobody has no label to undo"),
]


@pytest.mark.parametrize(("args", "message"), CLI_CASES, ids=[" ".join(a[:2]) + f" [{m[:24]}]" for a, m in CLI_CASES])
def test_cli_rejects_bad_input_and_changes_nothing(replayed: Workspace, args, message):
    ds = replayed.dataset
    values = {"stream": str(ds.n_base + 10), "stream2": str(ds.n_base + 11), "future": str(ds.n_base + 9_000)}
    args = [a.format(**values) for a in args]
    home = replayed.paths.home
    before = digest(home)
    proc = run_cli(home, *args)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error: " in proc.stderr.strip().splitlines()[-1]
    assert digest(home) == before


def test_cli_usage_errors_exit_non_zero(tmp_path):
    proc = run_cli(tmp_path / "never-created", "label")
    assert proc.returncode == 2 and "usage:" in proc.stderr
    assert not (tmp_path / "never-created").exists()  # argparse fails before anything is touched


CORE_CASES = [
    (lambda ws: ws.label(10**9, "normal", "ana"), "there is no point"),
    (lambda ws: ws.label(ws.dataset.n_base + 1, "bad", "ana"), "label must be"),
    (lambda ws: ws.label(ws.dataset.n_base + 1, "normal", ""), "reviewer name is required"),
    (lambda ws: ws.label_many([ws.dataset.n_base + 1, 10**9], "normal", "ana"), "there is no point"),
    (lambda ws: ws.init(features="V4,Nope", force=True), "Nope not found"),
    (lambda ws: ws.pick_for_review([]), "no points were selected"),
    (lambda ws: ws.rollback(42), "no model version 42"),
]


@pytest.mark.parametrize(("call", "message"), CORE_CASES)
def test_core_rejects_bad_input_and_changes_nothing(replayed: Workspace, call, message):
    before = digest(replayed.paths.home)
    with pytest.raises(InvalidInput, match=message):
        call(replayed)
    assert digest(replayed.paths.home) == before


SLOW_RETRAIN = textwrap.dedent(
    """
    import sys, time
    from hitl_core import Workspace

    def progress(fraction, message):
        if fraction >= 0.5:  # inside the retrain, before anything is written
            print("running", flush=True)
            time.sleep(120)

    Workspace(sys.argv[1]).retrain(progress=progress)
    """
)


def test_a_retrain_started_while_another_runs_is_refused(replayed: Workspace):
    home = replayed.paths.home
    before = digest(home)
    first = subprocess.Popen(
        [sys.executable, "-c", SLOW_RETRAIN, str(home)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert first.stdout.readline().strip() == "running"
        proc = run_cli(home, "retrain")
        assert proc.returncode == Busy.exit_code
        assert "a retrain is already running" in proc.stderr and "Traceback" not in proc.stderr
        with pytest.raises(Busy, match="already running"):
            Workspace(home).retrain()
        assert digest(home) == before
    finally:
        first.kill()
        first.wait(timeout=30)
    # The lock dies with its holder: the next retrain goes through.
    assert Workspace(home).retrain().version == 2
