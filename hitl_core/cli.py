"""``python -m hitl_core``: the workbench's operations without a browser.

Every command works on the workspace at ``HITL_HOME`` (default: the repository) and
bootstraps it with the demo if it is empty. Listings take ``--format json`` for
scripts. Errors go to stderr with a non-zero exit status; progress lines go to
stderr too, so stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from hitl_core.config import FRAUD_THRESHOLD, MIN_LABELS_PER_CLASS
from hitl_core.datasets import BUILTINS, DEFAULT
from hitl_core.errors import HitlError, InvalidInput
from hitl_core.workspace import Workspace


def _progress(fraction: float, message: str) -> None:
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    if value is pd.NA:
        return None
    return value


def _emit(obj: Any, fmt: str, text: str) -> None:
    if fmt == "json":
        print(json.dumps(_jsonable(obj), indent=2, sort_keys=True))
    else:
        print(text)


def _open(args: argparse.Namespace) -> Workspace:
    ws = Workspace()
    if ws.bootstrap(progress=_progress):
        print("Initialised a new workspace with the demo dataset.", file=sys.stderr)
    return ws


def _column(value: str | None) -> str | None:
    """--label/--time: absent = the dataset's default; "none" = no such column."""
    if value is None:
        return DEFAULT
    return None if value.strip().lower() in ("", "none") else value.strip()


def cmd_init(args: argparse.Namespace) -> None:
    ws = Workspace()
    ws.init(
        args.dataset,
        args.data,
        args.features,
        force=args.force,
        progress=_progress,
        label=_column(args.label),
        time=_column(args.time),
        positive=args.positive,
        invalid="drop" if args.drop_invalid else "refuse",
        base_fraction=args.base_fraction,
    )
    status = ws.status()
    if status["dropped_rows"]:
        print(f"Dropped {status['dropped_rows']:,} incomplete row(s) (--drop-invalid).", file=sys.stderr)
    if status["mode"] == "detector-only":
        print(
            "No label column: the workspace runs detector-only until experts have labelled "
            f"{MIN_LABELS_PER_CLASS} normal and {MIN_LABELS_PER_CLASS} abnormal points.",
            file=sys.stderr,
        )
    _emit(
        status,
        args.format,
        f"Initialised {status['home']} with {status['dataset']!r}: "
        f"{status['rows']:,} rows ({status['train_rows']:,} train, {status['holdout_rows']:,} held out, "
        f"{status['stream_rows']:,} to replay); features {', '.join(status['features'])}; version 1 is current.",
    )


def cmd_replay(args: argparse.Namespace) -> None:
    ws = _open(args)
    step = ws.replay(args.steps)
    counts = ws.counts()
    out = {
        "replayed": step.rows,
        "cursor": step.state.cursor,
        "length": step.state.length,
        "finished": step.state.finished,
        "counts": counts.__dict__,
    }
    _emit(
        out,
        args.format,
        f"Replayed {step.rows:,} rows; the stream is at {step.state.cursor:,} of "
        f"{step.state.length:,}. Fraud flagged: {counts.fraud}, unknown: {counts.unknown}, "
        f"awaiting review: {counts.awaiting_review}.",
    )


def cmd_queue(args: argparse.Namespace) -> None:
    ws = _open(args)
    queue = ws.queue()
    if args.limit is not None:
        queue = queue.head(args.limit)
    if args.format == "json":
        _emit(queue.to_dict("records"), "json", "")
    elif args.format == "csv":
        sys.stdout.write(queue.to_csv(index=False))
    else:
        print(queue.to_string(index=False) if len(queue) else "The review queue is empty.")


def cmd_label(args: argparse.Namespace) -> None:
    *point_ids, label = args.items
    if not point_ids:
        raise InvalidInput("give a point id and a label, e.g. `label 30156 normal --reviewer ana`")
    ws = _open(args)
    events = ws.label_many(point_ids, label, args.reviewer, source="cli", note=args.note)
    ids = ", ".join(str(e["point_id"]) for e in events)
    text = f"Stored: point{'s' if len(events) > 1 else ''} {ids} {'are' if len(events) > 1 else 'is'} {label} "
    _emit(events if len(events) > 1 else events[0], args.format, text + f"(by {events[0]['reviewer']}).")


def cmd_history(args: argparse.Namespace) -> None:
    ws = _open(args)
    frame = ws.scored(args.start, None if args.limit is None else args.start + args.limit)
    if args.status:
        frame = frame[frame["status"].isin(args.status.split(","))]
    if args.format == "json":
        _emit(frame.to_dict("records"), "json", "")
    elif args.format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    else:
        print(frame.to_string(index=False) if len(frame) else "No replayed rows in that range.")


def cmd_evaluate(args: argparse.Namespace) -> None:
    ws = _open(args)
    m = ws.evaluate(args.version, progress=_progress)

    def fmt(key: str, pattern: str = "{:.3f}") -> str:
        return "n/a" if m.get(key) is None else pattern.format(m[key])

    text = "\n".join(
        [
            f"version {m['version']} ({m['mode']}) on {m['holdout_rows']:,} held-out rows "
            f"({m['holdout_frauds']:,} abnormal)",
            f"  PR-AUC     {fmt('holdout_pr_auc')}",
            f"  ROC-AUC    {fmt('holdout_roc_auc')}",
            f"  precision  {fmt('holdout_precision')}   (at p >= {FRAUD_THRESHOLD})",
            f"  recall     {fmt('holdout_recall')}",
            f"  unknown    {fmt('holdout_unknown_rate', '{:.2%}')} of held-out rows flagged by the detector",
            f"  verdicts   {m['verified_points']} verified points, agreement {fmt('verified_agreement', '{:.0%}')}",
        ]
    )
    _emit(m, args.format, text)


def cmd_undo(args: argparse.Namespace) -> None:
    ws = _open(args)
    event = ws.undo(args.reviewer, source="cli")
    _emit(
        event, args.format, f"Undone: the {event['label']} label on point {event['point_id']} by {event['reviewer']}."
    )


def cmd_retrain(args: argparse.Namespace) -> None:
    ws = _open(args)
    result = ws.retrain(promote=args.promote, progress=_progress, anyway=args.anyway)
    out = {
        "version": result.version,
        "parent": result.parent,
        "decision": result.decision,
        "promoted": result.promoted,
        "labels_used": result.labels_used,
        "seconds": round(result.seconds, 3),
        "conditions": [c.__dict__ for c in result.conditions],
        "candidate": result.candidate_metrics,
        "current": result.current_metrics,
    }
    lines = [result.summary()] + [
        f"  {'pass' if c.passed else 'FAIL'}  {c.name}: {c.detail}" for c in result.conditions
    ]
    _emit(out, args.format, "\n".join(lines))


def cmd_rollback(args: argparse.Namespace) -> None:
    ws = _open(args)
    ws.rollback(args.version)
    _emit({"current_version": ws.current_version()}, args.format, f"Version {args.version} is current again.")


def cmd_versions(args: argparse.Namespace) -> None:
    ws = _open(args)
    history = ws.history()
    if args.format == "json":
        _emit(history.to_dict("records"), "json", "")
    else:
        print(history.to_string(index=False))


def cmd_status(args: argparse.Namespace) -> None:
    ws = _open(args)
    s = ws.status()
    c = s["counts"]
    m = s["current_metrics"]
    recall = m.get("holdout_recall")
    text = "\n".join(
        [
            f"workspace   {s['home']}",
            f"dataset     {s['dataset']} ({s['rows']:,} rows; features {', '.join(s['features'])})",
            f"stream      {c['seen']:,} of {c['length']:,} replayed "
            f"({'playing' if s['stream']['playing'] else 'paused'}, {s['stream']['speed']} rows/s)",
            f"flagged     fraud {c['fraud']}, unknown {c['unknown']}, uncertain {c['uncertain']}",
            f"review      {c['awaiting_review']} awaiting, {c['labelled']} labelled, "
            f"{s['new_labels']} new since the current version",
            f"model       version {s['current_version']} of {s['versions']}"
            + (f" (held-out recall {recall:.3f})" if recall is not None else ""),
        ]
    )
    _emit(s, args.format, text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hitl_core", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func, help_text: str, formats: Sequence[str] = ("text", "json")) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--format", choices=formats, default="text", help="output format (default: text)")
        p.set_defaults(func=func)
        return p

    p = add("init", cmd_init, "initialise the workspace on a dataset and train version 1")
    p.add_argument(
        "--dataset",
        default="demo",
        choices=list(BUILTINS),
        help="demo (generated), creditcard, breast_cancer or table (default: demo)",
    )
    p.add_argument("--data", help="data file (CSV, gzipped CSV or parquet); for creditcard also 'openml'")
    p.add_argument("--features", help="comma-separated feature columns, or 'all' (default: the dataset's)")
    p.add_argument("--label", help="label column (default: the dataset's; 'none' = no labels: detector-only)")
    p.add_argument("--time", help="time column giving the replay order (default: the dataset's; 'none' = file order)")
    p.add_argument("--positive", help="label value meaning abnormal (default: the dataset's, else the larger value)")
    p.add_argument(
        "--drop-invalid",
        action="store_true",
        help="drop rows with missing or infinite values instead of refusing the file",
    )
    p.add_argument(
        "--base-fraction",
        type=float,
        help="share of the earliest rows that trains version 1 (default 0.6); the rest is replayed",
    )
    p.add_argument("--force", action="store_true", help="replace an initialised workspace (its state is archived)")

    p = add("replay", cmd_replay, "replay and score the next rows of the stream")
    p.add_argument("--steps", type=int, required=True, help="number of rows to replay")

    p = add("queue", cmd_queue, "list the review queue, best first", formats=("text", "json", "csv"))
    p.add_argument("--limit", type=int, help="show at most this many points")

    p = add("label", cmd_label, "store an expert verdict on replayed point(s): label POINT_ID [POINT_ID ...] LABEL")
    p.add_argument(
        "items", nargs="+", metavar="POINT_ID ... LABEL", help="point id(s) (see `queue`), then normal or abnormal"
    )
    p.add_argument("--reviewer", required=True, help="who is labelling (stored with the label)")
    p.add_argument("--note", help="optional free text stored with the label")

    p = add("history", cmd_history, "list replayed rows with their scores", formats=("text", "json", "csv"))
    p.add_argument("--start", type=int, default=0, help="first stream position (default 0)")
    p.add_argument("--limit", type=int, help="at most this many rows")
    p.add_argument("--status", help="comma-separated statuses to keep (normal,fraud,uncertain,unknown)")

    p = add("undo", cmd_undo, "undo the reviewer's most recent label")
    p.add_argument("--reviewer", required=True)

    p = add("retrain", cmd_retrain, "retrain both models with the verified labels and apply the promotion gate")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--promote",
        dest="promote",
        action="store_true",
        default=True,
        help="make the candidate current if it passes the gate (default)",
    )
    group.add_argument(
        "--no-promote",
        dest="promote",
        action="store_false",
        help="evaluate and store the candidate without making it current",
    )
    p.add_argument(
        "--anyway",
        action="store_true",
        help="retrain even with no verdict new since the current version (refused otherwise: the candidate "
        "would be the same models again)",
    )

    p = add("rollback", cmd_rollback, "make an earlier model version current again")
    p.add_argument("version", type=int)

    p = add("evaluate", cmd_evaluate, "held-out metrics of a model version (default: the current one)")
    p.add_argument("--version", type=int, help="model version (default: current)")

    add("versions", cmd_versions, "list every model version")
    add("status", cmd_status, "summarise the workspace")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except HitlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
