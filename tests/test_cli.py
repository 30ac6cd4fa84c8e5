"""The command line: what `init` says about its columns, help for every argument,
class words per dataset, output into a reader that stops early, the README's examples."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hitl_core import Workspace
from hitl_core.cli import EXIT_PIPE_CLOSED, build_parser, main
from tests.conftest import REPO, run_cli


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process; (exit status, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse: --help and usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _unlabelled_with_time_and_class(rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "Time": np.sort(rng.integers(0, 10_000, rows)),
            "V1": rng.normal(size=rows),
            "V2": rng.normal(size=rows),
            "Class": (rng.random(rows) < 0.1).astype(int),
            "note": rng.choice(["a", "b"], rows),
        }
    )


def test_detector_only_init_leaves_out_time_and_label_columns_and_says_so(tmp_path):
    path = tmp_path / "unlabelled.csv"
    _unlabelled_with_time_and_class().to_csv(path, index=False)
    home = tmp_path / "ws"
    proc = run_cli(home, "init", "--dataset", "table", "--data", str(path), "--label", "none", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["features"] == ["V1", "V2"]  # stdout stays JSON
    assert Workspace(home).dataset.features == ("V1", "V2")
    assert "Features (the numeric columns that look like neither a time nor a label column): V1, V2" in proc.stderr
    lines = {line.split()[0]: line for line in proc.stderr.splitlines() if line.startswith("  ")}
    assert "looks like a time column" in lines["Time"] and "--time Time" in lines["Time"]
    assert "looks like a label" in lines["Class"] and "--label Class" in lines["Class"]
    assert "not numeric" in lines["note"]
    # Explicit features still win, time-like or not.
    proc = run_cli(
        home, "init", "--force", "--dataset", "table", "--data", str(path), "--label", "none", "--features", "Time,V1"
    )
    assert proc.returncode == 0, proc.stderr
    assert Workspace(home).dataset.features == ("Time", "V1")
    assert "Features (as given with --features): Time, V1" in proc.stderr


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_argument_of_every_command_has_help():
    parser = build_parser()
    missing = [a.dest for a in parser._actions if not isinstance(a, argparse._HelpAction) and not a.help]
    for name, sub in _subparsers(parser).items():
        missing += [
            f"{name} {a.option_strings[0] if a.option_strings else a.dest}"
            for a in sub._actions
            if not isinstance(a, argparse._HelpAction) and (not a.help or a.help == argparse.SUPPRESS)
        ]
    assert not missing, f"arguments without help: {missing}"
    assert len(_subparsers(parser)) >= 11  # the walk saw every command


def test_the_top_help_is_plain_text(capsys):
    code, out, _ = _cli(capsys, "--help")
    assert code == 0
    assert "python -m hitl_core: the workbench's operations without a browser." in out
    assert "``" not in out and "HITL_HOME (default: the repository)" in out


def test_label_usage_reads_point_ids_then_the_verdict(home: Path, capsys):
    code, out, _ = _cli(capsys, "label", "--help")
    assert code == 0
    assert "usage: python -m hitl_core label POINT_ID [POINT_ID ...] {normal,abnormal} --reviewer NAME" in out
    assert "POINT_ID ... LABEL" not in out
    code, _, err = _cli(capsys, "label", "30005", "--reviewer", "ana")
    assert code == 2 and "{normal,abnormal}" in err  # the verdict is missing
    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(100)
    ids = [str(ws.dataset.n_base + 3), str(ws.dataset.n_base + 4)]
    code, out, err = _cli(capsys, "label", *ids, "abnormal", "--reviewer", "ana", "--note", "seen twice")
    assert code == 0, err
    assert f"points {ids[0]}, {ids[1]} are abnormal" in out
    assert sorted(ws.labels.current()["point_id"].astype(str)) == ids


def test_undo_and_rollback_explain_their_arguments(capsys):
    _, undo, _ = _cli(capsys, "undo", "--help")
    assert "--reviewer NAME" in undo and "whose most recent label to undo" in undo
    _, rollback, _ = _cli(capsys, "rollback", "--help")
    assert re.search(r"version\s+the version number to make current", rollback)


def _reader_stops_early(home: Path, *args: str) -> tuple[int, bytes, str]:
    """Run the CLI into a pipe, read 100 bytes and close it, as `| head -c 100` does."""
    read_end, write_end = os.pipe()
    if hasattr(fcntl, "F_SETPIPE_SZ"):  # a small pipe: the command is still writing when the reader leaves
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    # Buffered stdout, as a user's shell gives it: unbuffered, a write cut short by the
    # reader's exit drops the rest without an error, so the closed pipe would go unseen.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hitl_core", *args],
        cwd=REPO,
        env={**env, "HITL_HOME": str(home)},
        stdout=write_end,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        head = os.read(read_end, 100)
    finally:
        os.close(read_end)
    _, err = proc.communicate(timeout=300)
    return proc.returncode, head, err.decode()


@pytest.mark.parametrize("args", [("queue", "--format", "json"), ("history", "--format", "csv")])
def test_output_into_a_reader_that_stops_early_ends_without_a_traceback(home: Path, args):
    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(1_400)
    assert len(ws.queue()) * 200 > 4096  # more output than the pipe holds
    code, head, err = _reader_stops_early(home, *args)
    assert head  # the reader got the start of the output
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == EXIT_PIPE_CLOSED


def test_cli_output_uses_the_datasets_class_words(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HITL_HOME", str(tmp_path / "ws"))
    code, out, err = _cli(capsys, "init", "--dataset", "breast_cancer")
    assert code == 0, err
    assert "classes benign and malignant" in out
    code, out, err = _cli(capsys, "replay", "--steps", "120")
    assert code == 0, err
    assert re.search(r"Malignant flagged: [1-9]", out), out
    _, status, _ = _cli(capsys, "status")
    assert re.search(r"flagged +malignant [1-9]", status), status
    _, evaluation, _ = _cli(capsys, "evaluate")
    assert re.search(r"held-out rows \([\d,]+ malignant\)", evaluation), evaluation
    code, history, err = _cli(capsys, "history", "--status", "malignant")
    assert code == 0, err
    assert " malignant " in history
    for text in (out, status, evaluation, history):
        assert "fraud" not in text.lower()
    # Machine-readable output keeps the core's status names.
    _, as_json, _ = _cli(capsys, "history", "--status", "abnormal", "--format", "json")
    assert {row["status"] for row in json.loads(as_json)} == {"fraud"}
    code, _, err = _cli(capsys, "history", "--status", "malignant,bogus")
    assert code == 2 and "unknown status bogus; choose from benign, malignant, uncertain, unknown" in err


def test_demo_output_keeps_speaking_of_fraud(home: Path, capsys):
    code, out, err = _cli(capsys, "replay", "--steps", "200")
    assert code == 0, err
    assert "Fraud flagged:" in out
    _, status, _ = _cli(capsys, "status")
    assert re.search(r"flagged +fraud \d", status)


def _readme_walkthrough() -> list[list[str]]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### The same without a browser", 1)[1].split("\n### ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("python -m hitl_core "):
            commands.append(line.removeprefix("python -m hitl_core ").split())
    return commands


def test_the_readmes_history_example_prints_rows_at_that_point_of_the_walkthrough(tmp_path):
    commands = _readme_walkthrough()
    replay = next(c for c in commands if c[0] == "replay")
    history = next(c for c in commands if c[0] == "history")
    assert commands.index(replay) < commands.index(history)
    home = tmp_path / "ws"
    for args in (["status"], replay, history):
        proc = run_cli(home, *args)
        assert proc.returncode == 0, (args, proc.stderr)
    rows = proc.stdout.strip().splitlines()
    assert len(rows) > 1, f"`{' '.join(history)}` printed only {rows}"


# -- the review policy ---------------------------------------------------------------------


def test_policy_is_shown_changed_and_followed_by_the_queue(home, capsys):
    from tests.conftest import digest

    code, out, _ = _cli(capsys, "policy", "--format", "json")
    assert code == 0 and json.loads(out)["shares"]["alert"] > 0
    code, out, err = _cli(
        capsys, "policy", "--share", "unknown=0,alert=100,uncertain=0,exploration=0", "--order", "alert=newest"
    )
    assert code == 0, err
    assert "100% alert" in out
    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(1_500)
    queue = ws.queue(with_features=False)
    alerts = queue[queue["reason"] == "alert"]
    assert len(alerts) and (queue["reason"].head(len(alerts)) == "alert").all()
    assert (np.diff(alerts["point_id"].to_numpy()) < 0).all()  # newest first

    # Bad input: a clear error and the stored policy unchanged.
    before = digest(home / "artifacts")
    for bad in (
        ["--share", "alert=-5"],
        ["--share", "alert"],
        ["--order", "alert=loudest"],
        ["--alert-capacity", "-1"],
    ):
        code, _, err = _cli(capsys, "policy", *bad)
        assert code == 2 and err.startswith("error:") and "Traceback" not in err, (bad, err)
    assert digest(home / "artifacts") == before
    code, out, _ = _cli(capsys, "policy", "--reset", "--format", "json")
    assert code == 0 and json.loads(out)["order"]["alert"] == "most confident"
