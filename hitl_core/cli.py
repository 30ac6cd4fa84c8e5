"""``python -m hitl_core``: the workbench's operations without a browser.

Every command works on the workspace at ``HITL_HOME`` (default: the repository) and
bootstraps it with the demo if it is empty. Listings take ``--format json`` for
scripts. Errors go to stderr with a non-zero exit status; progress lines go to
stderr too, so stdout stays machine-readable. Output piped into a reader that
stops early (``head``, say) ends the command quietly, as it ends any Unix filter.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

import pandas as pd

from hitl_core.config import FRAUD_THRESHOLD, MIN_LABELS_PER_CLASS
from hitl_core.datasets import BUILTINS, DEFAULT, LOOKS_LIKE_LABEL, NAMED_LIKE_TIME, NEVER_DECREASES
from hitl_core.errors import HitlError, InvalidInput
from hitl_core.scoring import STATUS_NAMES
from hitl_core.wording import Terms
from hitl_core.workspace import Workspace

#: How an exit caused by a closed output pipe is reported (as if killed by SIGPIPE).
EXIT_PIPE_CLOSED = 128 + signal.SIGPIPE
#: At most this many left-out columns are named one per line after `init`.
LEFT_OUT_SHOWN = 12


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


_FEATURES_FROM = {
    "given": "as given with --features",
    "all": "all, as asked with --features all",
    "dataset": "the dataset's default",
    "inferred": "the numeric columns that look like neither a time nor a label column",
}
_HINTS = {
    NAMED_LIKE_TIME: "--time {name} replays in its order",
    NEVER_DECREASES: "--time {name} replays in its order",
    LOOKS_LIKE_LABEL: "--label {name} trains a classifier on it",
}


def _report_features(spec_extra: dict, features: Sequence[str]) -> None:
    """Which features `init` chose, and every column it left out with the reason (to stderr)."""
    origin = _FEATURES_FROM.get(spec_extra.get("features_from", ""))
    print(f"Features{f' ({origin})' if origin else ''}: {', '.join(features)}", file=sys.stderr)
    left_out = spec_extra.get("left_out") or {}
    if not left_out:
        return
    print("Left out:", file=sys.stderr)
    width = min(max(len(c) for c in left_out), 24)
    for column, reason in list(left_out.items())[:LEFT_OUT_SHOWN]:
        hint = _HINTS.get(reason)
        tail = f"; {hint.format(name=column)}, or name it in --features" if hint else ""
        print(f"  {column:<{width}}  {reason}{tail}", file=sys.stderr)
    if len(left_out) > LEFT_OUT_SHOWN:
        print(f"  … and {len(left_out) - LEFT_OUT_SHOWN} more", file=sys.stderr)


def cmd_init(args: argparse.Namespace) -> None:
    ws = Workspace()
    prepared = ws.init(
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
    _report_features(prepared.spec.extra, prepared.features)
    status = ws.status()
    terms = ws.terms
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
        f"{status['stream_rows']:,} to replay); features {', '.join(status['features'])}; "
        f"classes {terms.normal} and {terms.abnormal}; version 1 is current.",
    )


def cmd_replay(args: argparse.Namespace) -> None:
    ws = _open(args)
    step = ws.replay(args.steps)
    counts = ws.counts()
    terms = ws.terms
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
        f"{step.state.length:,}. {terms.title} flagged: {counts.fraud}, unknown: {counts.unknown}, "
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
        print(_shown(queue, ws.terms).to_string(index=False) if len(queue) else "The review queue is empty.")


def cmd_label(args: argparse.Namespace) -> None:
    label = args.label
    ws = _open(args)
    events = ws.label_many(args.point_ids, label, args.reviewer, source="cli", note=args.note)
    ids = ", ".join(str(e["point_id"]) for e in events)
    text = f"Stored: point{'s' if len(events) > 1 else ''} {ids} {'are' if len(events) > 1 else 'is'} {label} "
    _emit(events if len(events) > 1 else events[0], args.format, text + f"(by {events[0]['reviewer']}).")


def cmd_history(args: argparse.Namespace) -> None:
    ws = _open(args)
    wanted = _statuses(args.status, ws.terms) if args.status else None
    frame = ws.scored(args.start, None if args.limit is None else args.start + args.limit)
    if wanted is not None:
        frame = frame[frame["status"].isin(wanted)]
    if args.format == "json":
        _emit(frame.to_dict("records"), "json", "")
    elif args.format == "csv":
        sys.stdout.write(frame.to_csv(index=False))
    else:
        print(_shown(frame, ws.terms).to_string(index=False) if len(frame) else "No replayed rows in that range.")


def _statuses(text: str, terms: Terms) -> list[str]:
    """--status: the core's status names; the dataset's class words and "abnormal" mean its flag."""
    aliases = {"abnormal": "fraud", terms.abnormal: "fraud", terms.normal: "normal"}
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in STATUS_NAMES and n not in aliases]
    if unknown or not names:
        choices = ", ".join(dict.fromkeys([terms.normal, terms.abnormal, "uncertain", "unknown"]))
        raise InvalidInput(f"unknown status {', '.join(unknown) or repr(text)}; choose from {choices}")
    return sorted({n if n in STATUS_NAMES else aliases[n] for n in names})


def _shown(frame: pd.DataFrame, terms: Terms) -> pd.DataFrame:
    """A listing for people: statuses in the dataset's own class words."""
    if "status" not in frame.columns:
        return frame
    return frame.assign(status=frame["status"].map(terms.status))


def cmd_evaluate(args: argparse.Namespace) -> None:
    ws = _open(args)
    m = ws.evaluate(args.version, progress=_progress)
    terms = ws.terms

    def fmt(key: str, pattern: str = "{:.3f}") -> str:
        return "n/a" if m.get(key) is None else pattern.format(m[key])

    text = "\n".join(
        [
            f"version {m['version']} ({m['mode']}) on {m['holdout_rows']:,} held-out rows "
            f"({m['holdout_frauds']:,} {terms.abnormal})",
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
        # candidate - current per held-out metric, with its paired bootstrap interval
        "differences": {name: d.to_json() for name, d in result.differences.items()},
        "verdict_classifier": result.verdict_check.to_json() if result.verdict_check else None,
        "candidate": result.candidate_metrics,
        "current": result.current_metrics,
    }
    # The held-out conditions' details carry each difference with its interval.
    lines = [result.summary()] + [
        f"  {'pass' if c.passed else 'FAIL'}  {c.name}: {c.detail}" for c in result.conditions
    ]
    _emit(out, args.format, "\n".join(lines))


def cmd_rollback(args: argparse.Namespace) -> None:
    ws = _open(args)
    ws.rollback(args.version, progress=_progress)
    _emit({"current_version": ws.current_version()}, args.format, f"Version {args.version} is current now.")


def _pairs(text: str | None, what: str) -> dict[str, str]:
    """``a=1,b=2`` as a dict; a clear error naming the malformed part."""
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidInput(f"{what} must be given as REASON=VALUE pairs separated by commas, not {part!r}")
        out[name.strip()] = value.strip()
    return out


def cmd_policy(args: argparse.Namespace) -> None:
    ws = _open(args)
    if args.reset:
        policy = ws.reset_policy()
    else:
        changes: dict[str, Any] = {}
        shares = _pairs(args.share, "--share")
        if shares:
            changes["shares"] = {**{r: v * 100 for r, v in ws.policy.shares.items()}, **shares}
        if args.alert_capacity is not None:
            changes["alert_capacity"] = args.alert_capacity
        order = _pairs(args.order, "--order")
        if order:
            changes["order"] = order
        policy = ws.set_policy(**changes) if changes else ws.policy
    text = "\n".join(
        [policy.describe(), ""]
        + [f"  {r:<12} share {policy.shares[r]:>4.0%}   order: {policy.order[r]}" for r in policy.shares]
        + [f"  alerts a day {policy.alert_capacity or 'no limit'}"]
    )
    _emit(policy.to_json(), args.format, text)


def cmd_simulate(args: argparse.Namespace) -> None:
    from hitl_core import simulate

    ws = _open(args)
    results = ws.simulate(
        args.strategy,
        budget=args.budget,
        batch=args.batch,
        seeds=args.seeds,
        progress=_progress,
    )
    text = simulate.describe(results) + "\n" + "\n".join(f"Wrote {r['path']}" for r in results)
    _emit([{k: v for k, v in r.items() if k != "runs"} for r in results], args.format, text)


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
    terms = ws.terms
    c = s["counts"]
    m = s["current_metrics"]
    recall = m.get("holdout_recall")
    text = "\n".join(
        [
            f"workspace   {s['home']}",
            f"dataset     {s['dataset']} ({s['rows']:,} rows; features {', '.join(s['features'])})",
            f"stream      {c['seen']:,} of {c['length']:,} replayed "
            f"({'playing' if s['stream']['playing'] else 'paused'}, {s['stream']['speed']} rows/s)",
            f"flagged     {terms.abnormal} {c['fraud']}, unknown {c['unknown']}, uncertain {c['uncertain']}",
            f"review      {c['awaiting_review']} awaiting, {c['labelled']} labelled, "
            f"{s['new_labels']} new since the current version",
            f"model       version {s['current_version']} of {s['versions']}"
            + (f" (held-out recall {recall:.3f})" if recall is not None else ""),
        ]
    )
    _emit(s, args.format, text)


def _plain(text: str) -> str:
    """Docstring text as help prints it: without reStructuredText's literal quotes."""
    return text.replace("``", "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hitl_core", description=_plain(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="the operation to run (COMMAND --help for its options)"
    )

    def add(
        name: str, func, help_text: str, formats: Sequence[str] = ("text", "json"), usage: str | None = None
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, usage=usage)
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

    p = add(
        "label",
        cmd_label,
        "store an expert verdict, normal or abnormal, on one or more replayed points",
        usage="%(prog)s POINT_ID [POINT_ID ...] {normal,abnormal} --reviewer NAME [--note TEXT] [--format {text,json}]",
    )
    p.add_argument(
        "point_ids", nargs="+", metavar="POINT_ID", help="id(s) of replayed points, as the queue command lists them"
    )
    # Not `choices`: a wrong verdict gets the core's message, like every other bad input.
    p.add_argument("label", metavar="{normal,abnormal}", help="the verdict for every point given")
    p.add_argument("--reviewer", required=True, metavar="NAME", help="who is labelling (stored with the label)")
    p.add_argument("--note", metavar="TEXT", help="optional free text stored with the label")

    p = add("history", cmd_history, "list replayed rows with their scores", formats=("text", "json", "csv"))
    p.add_argument("--start", type=int, default=0, help="first stream position (default 0)")
    p.add_argument("--limit", type=int, help="at most this many rows")
    p.add_argument(
        "--status",
        help="comma-separated statuses to keep: normal, abnormal (the classifier's flag; the dataset's own class "
        "word such as fraud works too), uncertain, unknown",
    )

    p = add("undo", cmd_undo, "undo the reviewer's most recent label")
    p.add_argument("--reviewer", required=True, metavar="NAME", help="whose most recent label to undo")

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

    p = add("rollback", cmd_rollback, "make another stored model version current (back or forward)")
    p.add_argument("version", type=int, help="the version number to make current (the versions command lists them)")

    p = add("evaluate", cmd_evaluate, "held-out metrics of a model version (default: the current one)")
    p.add_argument("--version", type=int, help="model version (default: current)")

    p = add("policy", cmd_policy, "show or change the review policy (which points reach a reviewer, in what order)")
    p.add_argument(
        "--share",
        metavar="REASON=PERCENT,...",
        help="share of the queue's head per reason (unknown, alert, uncertain, exploration), e.g. alert=50,unknown=30; "
        "reasons not named keep theirs, and the shares are scaled to add up to 100",
    )
    p.add_argument(
        "--alert-capacity", type=int, metavar="N", help="alerts the team confirms per day of data (0 = every alert)"
    )
    p.add_argument(
        "--order",
        metavar="REASON=ORDER,...",
        help="order within a reason, e.g. 'alert=least confident' (unknown: most novel|newest; alert: most "
        "confident|least confident|newest; uncertain: closest to the threshold|newest; exploration: newest|oldest)",
    )
    p.add_argument("--reset", action="store_true", help="go back to the default policy")

    p = add(
        "simulate",
        cmd_simulate,
        "oracle simulation: label points by a query strategy with their recorded truth, retrain round by round, "
        "and record the learning curves (in a private copy: the workspace's labels, models and stream are untouched)",
    )
    p.add_argument(
        "--strategy",
        default="queue",
        metavar="NAME[,NAME...]",
        help="queue (the review queue's head under the review policy), random, uncertainty (closest to the "
        "threshold), novelty (most novel), alerts (highest probability), several separated by commas, or all "
        "(default: queue)",
    )
    p.add_argument("--budget", type=int, default=200, metavar="N", help="labels per run (default 200)")
    p.add_argument("--batch", type=int, default=20, metavar="K", help="labels per round, then a retrain (default 20)")
    p.add_argument(
        "--seeds",
        type=int,
        default=3,
        metavar="S",
        help="runs per strategy, each on its own seeded sample of the stream (default 3)",
    )

    add("versions", cmd_versions, "list every model version")
    add("status", cmd_status, "summarise the workspace")
    return parser


def _reader_gone() -> int:
    """The reader of stdout closed it (``| head``): stop without a word, like a filter killed by SIGPIPE."""
    try:  # the interpreter flushes stdout once more on exit: let that flush go nowhere
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (tests capture it)
        pass
    return EXIT_PIPE_CLOSED


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
    except BrokenPipeError:
        return _reader_gone()
    except HitlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
