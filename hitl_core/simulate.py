"""The oracle simulation: how fast each query strategy teaches the models.

The loop's own proof. On a dataset whose stream carries its true labels, the
recorded label plays the expert: round after round a *strategy* picks ``batch``
replayed, unlabelled stream points, the oracle labels them, the models are retrained
(the promotion gate applies, exactly as for a person clicking *Retrain*) and a
promotion re-scores the replayed points. The stream arrives as it would live: before
round ``r`` of ``R`` the cursor stands at ``(r + 1) / R`` of the stream, so early
rounds choose among few points and later ones among many.

Strategies (:data:`STRATEGIES`):

* ``queue``       — the head of :meth:`Workspace.queue` under the review policy;
* ``random``      — uniformly among the replayed, unlabelled points;
* ``uncertainty`` — closest to the operating threshold;
* ``novelty``     — highest novelty relative to the detector threshold;
* ``alerts``      — highest classifier probability.

Everything runs in a private temporary workspace: the user's labels, models and
stream are never touched; only the results are written, as JSON, to
``artifacts/simulations/<time>-<strategy>.json``.

**Seeds.** Each seed replays its own seeded :data:`STREAM_SHARE` of the stream (in
time order; the base data, and so version 1 and the held-out rows, stay the same), and
seeds the random strategy's draws: every seed is a different run of the same
experiment, and results are reported as mean and spread over seeds.

Per round the record holds the labels used, the frauds found so far (labelled
points whose truth is abnormal), the gate's decision, the held-out recall and PR-AUC
of the version current after the gate, the queue's length, and whether the queue ran
dry while some replayed point qualified for it under the current version (checked by
scoring every replayed, unlabelled point with that version, independently of the
stored scores). Each seed also records a *full-label reference*: a version trained
with every stream label as a verdict, the most the stream can teach.

A self-training mode (confident predictions as pseudo-labels at a lower weight) was
measured and left out: it did not help (``docs/LEARNING.md``).
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from hitl_core import policy as policies
from hitl_core import retrain
from hitl_core.config import FRAUD_THRESHOLD
from hitl_core.datasets import PreparedDataset
from hitl_core.durable import atomic_write_json, read_json
from hitl_core.errors import InvalidInput, NotReady

if TYPE_CHECKING:
    from hitl_core.workspace import Workspace

Progress = Callable[[float, str], None]

STRATEGIES = ("queue", "random", "uncertainty", "novelty", "alerts")
#: What each strategy takes, as the summary says it.
EXPLAINED = {
    "queue": "the head of the review queue under the review policy",
    "random": "uniformly random replayed points",
    "uncertainty": "the points closest to the operating threshold",
    "novelty": "the most novel points (novelty / detector threshold)",
    "alerts": "the highest classifier probabilities",
}
#: Share of the stream each seed replays (a seeded sample, kept in time order).
STREAM_SHARE = 0.9
#: The oracle's name in the private workspace's label events.
ORACLE = "oracle"
SCHEMA = 1
#: Folder under the workspace's ``artifacts/`` holding the results.
FOLDER = "simulations"
#: Largest budget accepted (labels per run), against typing mistakes.
MAX_BUDGET = 100_000
MAX_SEEDS = 50


def _quiet(fraction: float, message: str) -> None:
    pass


@dataclass(frozen=True)
class Plan:
    """A validated simulation request."""

    strategies: tuple[str, ...]
    budget: int
    batch: int
    seeds: int
    stream_share: float = STREAM_SHARE

    @property
    def rounds(self) -> int:
        return math.ceil(self.budget / self.batch)

    def batch_of(self, r: int) -> int:
        """Labels round ``r`` may take (the last round takes what is left of the budget)."""
        return min(self.batch, self.budget - r * self.batch)


def _whole(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer | float) or value != int(value):
        raise InvalidInput(f"{what} must be a whole number, not {value!r}")
    value = int(value)
    if not low <= value <= high:
        raise InvalidInput(f"{what} must lie between {low:,} and {high:,}, not {value:,}")
    return value


def plan(
    strategies: str | Sequence[str] = "queue",
    budget: int = 200,
    batch: int = 20,
    seeds: int = 3,
    stream_share: float = STREAM_SHARE,
) -> Plan:
    """Check a request completely (nothing is written); :class:`InvalidInput` names the problem.

    >>> plan("queue,random", budget=40, batch=20, seeds=1).rounds
    2
    >>> plan("queue", budget=10, batch=20)
    Traceback (most recent call last):
    ...
    hitl_core.errors.InvalidInput: the budget (10 labels) is smaller than one batch (20 labels): ...
    """
    names = strategies.split(",") if isinstance(strategies, str) else list(strategies)
    names = [str(n).strip().lower() for n in names if str(n).strip()]
    if names == ["all"]:
        names = list(STRATEGIES)
    if not names:
        raise InvalidInput(f"name at least one strategy: {', '.join(STRATEGIES)} (or all)")
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise InvalidInput(f"unknown strategy {', '.join(map(repr, unknown))}; choose from {', '.join(STRATEGIES)}")
    batch = _whole(batch, "the batch (labels per round)", 1, MAX_BUDGET)
    budget = _whole(budget, "the budget (labels per run)", 1, MAX_BUDGET)
    if budget < batch:
        raise InvalidInput(
            f"the budget ({budget} labels) is smaller than one batch ({batch} labels): "
            "give a budget of at least one batch"
        )
    seeds = _whole(seeds, "the number of seeds", 1, MAX_SEEDS)
    if not 0.1 <= stream_share <= 1.0:
        raise InvalidInput(f"the stream share must lie between 0.1 and 1, not {stream_share}")
    return Plan(tuple(dict.fromkeys(names)), budget, batch, seeds, float(stream_share))


def check_dataset(dataset: PreparedDataset, plan: Plan) -> None:
    """Refuse a dataset that cannot act as its own oracle, or is too short for the budget."""
    stream = dataset.y[dataset.n_base :]
    if not dataset.has_labels or (stream < 0).any():
        raise InvalidInput(
            "the simulation needs the true label of every point to act as the expert, and this dataset has "
            "no labels (it runs detector-only): initialise the workspace with a label column to simulate"
        )
    replayed = round(dataset.stream_len * plan.stream_share)
    if plan.budget > replayed:
        raise InvalidInput(
            f"the budget ({plan.budget:,} labels) exceeds the {replayed:,} stream points each seed replays"
        )


# -- one seed's private workspace ------------------------------------------------------------


def seeded_dataset(dataset: PreparedDataset, seed: int, share: float = STREAM_SHARE) -> PreparedDataset:
    """The base data unchanged and a seeded ``share`` of the stream, in time order.

    >>> from hitl_core.datasets import DatasetSpec
    >>> spec = DatasetSpec("t", ("a",), "y", None, "test")
    >>> ds = PreparedDataset(spec, np.arange(100.0).reshape(-1, 1), np.arange(100) % 2, np.arange(100.0))
    >>> sub = seeded_dataset(ds, seed=1, share=0.5)
    >>> (sub.n_base, sub.n_train, sub.stream_len) == (ds.n_base, ds.n_train, 20)
    True
    """
    keep = round(dataset.stream_len * share)
    picked = np.sort(np.random.default_rng(seed).choice(dataset.stream_len, size=keep, replace=False))
    rows = np.concatenate([np.arange(dataset.n_base), dataset.n_base + picked])
    spec = replace(dataset.spec, base_fraction=dataset.n_base / len(rows))
    extra = dataset.extra.iloc[rows].reset_index(drop=True)
    out = PreparedDataset(spec, dataset.X[rows], dataset.y[rows], dataset.time[rows], extra)
    if (out.n_base, out.n_train) != (dataset.n_base, dataset.n_train):  # pragma: no cover - rounding guard
        raise AssertionError("the seeded stream must leave the base data as it is")
    return out


def full_label_reference(dataset: PreparedDataset, progress: Progress = _quiet) -> dict[str, Any]:
    """Held-out figures of a version trained with every stream label as a verdict."""
    ids = np.arange(dataset.n_base, len(dataset), dtype=np.int64)
    verified = pd.DataFrame({"point_id": ids, "label": np.where(dataset.y[ids] == 1, "abnormal", "normal")})
    models, _, seconds = retrain.train_version(dataset, verified, progress=progress)
    metrics = retrain.holdout_metrics(models, dataset)
    # The verdict-aware classifier on its own too: with thousands of verdicts the
    # detector's reference holds little but verdicts, and the version's local rules
    # (hitl_core.models) then score nearly every point through its nearest verdicts.
    yh = dataset.y[dataset.holdout]
    p = models.adjusted.predict_proba(dataset.X[dataset.holdout])
    return {
        "labels": len(ids),
        "recall": metrics["holdout_recall"],
        "pr_auc": metrics["holdout_pr_auc"],
        "classifier_recall": float(((p >= FRAUD_THRESHOLD) & (yh == 1)).sum() / max(1, (yh == 1).sum())),
        "classifier_pr_auc": float(average_precision_score(yh, p)) if 0 < (yh == 1).sum() < len(yh) else None,
        "seconds": round(seconds, 2),
    }


# -- picking -----------------------------------------------------------------------------------


def _candidates(ws: Workspace) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Replayed, unlabelled stream positions with their stored scores."""
    n = ws.stream.state().cursor
    labelled = np.zeros(n, dtype=bool)
    current = ws.labels.current()
    if len(current):
        pos = current["point_id"].to_numpy(np.int64) - ws.dataset.n_base
        labelled[pos[(pos >= 0) & (pos < n)]] = True
    positions = np.flatnonzero(~labelled)
    arrays = ws.stream.arrays()
    versions = np.asarray(arrays["version"][positions])
    scores = {
        "p": np.asarray(arrays["proba"][positions], dtype=np.float64),
        "ratio": np.asarray(arrays["novelty"][positions], dtype=np.float64)
        / (ws.thresholds(versions)[versions] if len(positions) else 1.0),
    }
    return positions, scores


def pick(strategy: str, ws: Workspace, k: int, rng: np.random.Generator, queue: pd.DataFrame) -> np.ndarray:
    """Point ids the strategy sends to the oracle this round (at most ``k``)."""
    if strategy == "queue":
        return queue["point_id"].to_numpy(np.int64)[:k]
    positions, scores = _candidates(ws)
    if strategy == "random":
        chosen = rng.choice(len(positions), size=min(k, len(positions)), replace=False)
    else:
        key = {
            "uncertainty": np.abs(np.nan_to_num(scores["p"], nan=1.0) - FRAUD_THRESHOLD),
            "novelty": -np.nan_to_num(scores["ratio"], nan=0.0),
            "alerts": -np.nan_to_num(scores["p"], nan=0.0),
        }[strategy]
        chosen = np.lexsort((positions, key))[:k]  # ties: the earliest point
    return ws.dataset.n_base + positions[np.sort(chosen)]


def queue_check(ws: Workspace, queue: pd.DataFrame) -> dict[str, int]:
    """Does the queue hold every replayed point that qualifies under the current version?

    Qualifying is decided afresh: every replayed, unlabelled point is scored with the
    current version and given its review reason (:func:`hitl_core.policy.queue_reasons`).
    """
    positions, _ = _candidates(ws)
    ids = ws.dataset.n_base + positions
    scores = ws.models().models.score(ws.dataset.X[ids])
    requested = np.asarray(ws.stream.arrays()["requested"][positions])
    reasons = policies.queue_reasons(scores.p, scores.unknown, requested, policies.exploration_flags(ids))
    qualifying = ids[reasons >= 0]
    missing = np.setdiff1d(qualifying, queue["point_id"].to_numpy(np.int64))
    return {
        "qualifying": len(qualifying),
        "unqueued": len(missing),
        "dry": bool(len(queue) == 0 and len(qualifying) > 0),
    }


# -- one run -----------------------------------------------------------------------------------


def _held_out(ws: Workspace) -> dict[str, Any]:
    m = ws.registry.meta(ws.current_version()).get("metrics", {})
    return {"recall": m.get("holdout_recall"), "pr_auc": m.get("holdout_pr_auc")}


def _label_truth(ws: Workspace, ids: np.ndarray) -> int:
    """Label ``ids`` with their recorded truth; returns how many are abnormal."""
    truth = ws.dataset.y[ids]
    for value, word in ((1, "abnormal"), (0, "normal")):
        chosen = ids[truth == value]
        if len(chosen):
            ws.label_many(chosen.tolist(), word, ORACLE, source="api", note="simulation")
    return int((truth == 1).sum())


def run_once(ws: Workspace, strategy: str, plan: Plan, seed: int, progress: Progress = _quiet) -> list[dict[str, Any]]:
    """One strategy, one seed, in the (private) workspace ``ws``; one record per round."""
    rng = np.random.default_rng([seed, STRATEGIES.index(strategy)])
    ws.stream.pause()
    length = ws.dataset.stream_len
    records = [
        {
            "round": 0,
            "cursor": 0,
            "labels": 0,
            "frauds_found": 0,
            "decision": "initial",
            "version": ws.current_version(),
            **_held_out(ws),
        }
    ]
    labels = frauds = 0
    for r in range(plan.rounds):
        started = time.perf_counter()
        cursor = ws.stream.state().cursor
        target = round((r + 1) * length / plan.rounds)
        if target > cursor:
            ws.replay(target - cursor)
        queue = ws.queue(with_features=False)
        check = queue_check(ws, queue)
        ids = pick(strategy, ws, plan.batch_of(r), rng, queue)
        reasons = {}
        if strategy == "queue" and len(ids):
            reasons = queue["reason"].iloc[: len(ids)].value_counts().to_dict()
        record: dict[str, Any] = {
            "round": r + 1,
            "cursor": target,
            "queue_length": len(queue),
            "queue_qualifying": check["qualifying"],
            "queue_unqueued": check["unqueued"],
            "queue_dry": check["dry"],
            "picked": len(ids),
            "picked_ids": [int(i) for i in ids],
            "picked_reasons": {str(k): int(v) for k, v in reasons.items()},
        }
        if len(ids):
            found = _label_truth(ws, ids)
            labels += len(ids)
            frauds += found
            result = ws.retrain(anyway=ws.new_labels() == 0)
            record.update(decision=result.decision, failed=[c.name for c in result.failed], frauds_in_batch=found)
        else:
            record.update(decision="nothing to label", failed=[], frauds_in_batch=0)
        record.update(
            labels=labels,
            frauds_found=frauds,
            version=ws.current_version(),
            seconds=round(time.perf_counter() - started, 2),
            **_held_out(ws),
        )
        records.append(record)
        progress(
            (r + 1) / plan.rounds,
            f"{strategy}, seed {seed}: round {r + 1}/{plan.rounds}, {labels} labels, {frauds} abnormal found, "
            f"{record['decision']}",
        )
    return records


# -- the whole simulation ----------------------------------------------------------------------


def _private(root: Path, name: str) -> Workspace:
    from hitl_core.workspace import Workspace

    return Workspace(root / name)


def run(
    ws: Workspace,
    strategies: str | Sequence[str] = "queue",
    budget: int = 200,
    batch: int = 20,
    seeds: int = 3,
    *,
    policy: policies.ReviewPolicy | None = None,
    stream_share: float = STREAM_SHARE,
    reference: bool = True,
    progress: Progress = _quiet,
    write: bool = True,
) -> list[dict[str, Any]]:
    """Simulate each strategy over ``seeds`` runs; one result (a JSON-ready dict) per strategy.

    ``policy`` is the review policy the ``queue`` strategy follows (default: the
    workspace's). ``reference`` trains the full-label reference of each seed. With
    ``write`` each result is stored in ``artifacts/simulations/`` and its ``path``
    recorded. Everything is validated before any work starts.
    """
    request = plan(strategies, budget, batch, seeds, stream_share)
    if not ws.ready:
        raise NotReady(f"the workspace at {ws.paths.home} has not been initialised")
    dataset = ws.dataset
    check_dataset(dataset, request)
    policy = policy if policy is not None else ws.policy
    created = datetime.now(UTC)
    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in request.strategies}
    total = request.seeds * (len(request.strategies) + 1)
    step = 0

    def report(fraction: float, message: str) -> None:
        progress(min(1.0, (step + fraction) / total), message)

    with tempfile.TemporaryDirectory(prefix="hitl-simulation-") as tmp:
        root = Path(tmp)
        for seed in range(request.seeds):
            report(0.0, f"Seed {seed}: setting up a private workspace and training version 1…")
            seeded = seeded_dataset(dataset, seed, request.stream_share)
            template = _private(root, f"seed-{seed}")
            template._initialise(seeded, _quiet)
            template.set_policy(shares=policy.shares, alert_capacity=policy.alert_capacity, order=policy.order)
            version1 = _held_out(template)
            report(0.5, f"Seed {seed}: training the full-label reference…")
            full = full_label_reference(template.dataset) if reference else None
            step += 1
            for strategy in request.strategies:
                target = root / f"seed-{seed}-{strategy}"
                shutil.copytree(template.paths.home, target)
                private = _private(root, target.name)
                rounds = run_once(private, strategy, request, seed, report)
                runs[strategy].append(
                    {
                        "seed": seed,
                        "stream_rows": seeded.stream_len,
                        "stream_abnormal": int((seeded.y[seeded.n_base :] == 1).sum()),
                        "version1": version1,
                        "reference": full,
                        "rounds": rounds,
                    }
                )
                shutil.rmtree(target, ignore_errors=True)
                step += 1
            shutil.rmtree(template.paths.home, ignore_errors=True)
    results = []
    for strategy in request.strategies:
        result = {
            "schema": SCHEMA,
            "created_at": created.isoformat(),
            "strategy": strategy,
            "explained": EXPLAINED[strategy],
            "dataset": ws.spec["dataset"]["name"],
            "fingerprint": dataset.fingerprint,
            "features": list(dataset.features),
            "budget": request.budget,
            "batch": request.batch,
            "rounds": request.rounds,
            "seeds": request.seeds,
            "stream_share": request.stream_share,
            "policy": policy.to_json(),
            "runs": runs[strategy],
        }
        result["summary"] = summarise(result)
        if write:
            result["path"] = str(_store(ws, result, created))
        results.append(result)
    progress(1.0, "Simulation done.")
    return results


def _store(ws: Workspace, result: dict[str, Any], created: datetime) -> Path:
    folder = ws.paths.artifacts / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{created:%Y%m%dT%H%M%S}-{result['strategy']}"
    path = folder / f"{stem}.json"
    n = 1
    while path.exists():  # never overwrite an earlier result
        n += 1
        path = folder / f"{stem}-{n}.json"
    atomic_write_json(path, {k: v for k, v in result.items() if k != "path"})
    return path


# -- figures -------------------------------------------------------------------------------------


def _spread(values: Sequence[float | None]) -> dict[str, float | None]:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if not len(v):
        return {"mean": None, "sd": None, "min": None, "max": None}
    return {
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "min": float(v.min()),
        "max": float(v.max()),
    }


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """Mean and spread over seeds: the curve per round and the headline figures."""
    runs = result["runs"]
    curve = []
    for r in range(result["rounds"] + 1):
        rows = [run["rounds"][r] for run in runs]
        curve.append(
            {
                "round": r,
                "labels": _spread([x["labels"] for x in rows]),
                "frauds_found": _spread([x["frauds_found"] for x in rows]),
                "recall": _spread([x["recall"] for x in rows]),
                "pr_auc": _spread([x["pr_auc"] for x in rows]),
            }
        )
    rounds = [x for run in runs for x in run["rounds"][1:]]
    retrained = [x for x in rounds if x["decision"] in ("promoted", "rejected", "held")]
    last = [run["rounds"][-1] for run in runs]

    def gain(key: str) -> dict[str, float | None]:
        pairs = [(x[key], run["version1"][key]) for x, run in zip(last, runs, strict=True)]
        return _spread([a - b for a, b in pairs if a is not None and b is not None])

    return {
        "labels": _spread([x["labels"] for x in last]),
        "frauds_found": _spread([x["frauds_found"] for x in last]),
        "frauds_per_100": _spread([100 * x["frauds_found"] / x["labels"] if x["labels"] else None for x in last]),
        "recall_v1": runs[0]["version1"]["recall"],
        "pr_auc_v1": runs[0]["version1"]["pr_auc"],
        "recall": _spread([x["recall"] for x in last]),
        "pr_auc": _spread([x["pr_auc"] for x in last]),
        "recall_gain": gain("recall"),
        "pr_auc_gain": gain("pr_auc"),
        "retrains": len(retrained),
        "promoted": sum(x["decision"] == "promoted" for x in retrained),
        "promotion_rate": (sum(x["decision"] == "promoted" for x in retrained) / len(retrained)) if retrained else None,
        "queue_dry_rounds": sum(bool(x.get("queue_dry")) for x in rounds),
        "unqueued_rounds": sum(x.get("queue_unqueued", 0) > 0 for x in rounds),
        "short_rounds": sum(x["picked"] < min(result["batch"], x["queue_qualifying"]) for x in rounds),
        "reference_recall": _spread([(run["reference"] or {}).get("recall") for run in runs]),
        "reference_pr_auc": _spread([(run["reference"] or {}).get("pr_auc") for run in runs]),
        "reference_classifier_recall": _spread([(run["reference"] or {}).get("classifier_recall") for run in runs]),
        "reference_classifier_pr_auc": _spread([(run["reference"] or {}).get("classifier_pr_auc") for run in runs]),
        "seconds": sum(x.get("seconds", 0.0) for x in rounds),
        "curve": curve,
    }


def _pm(s: dict[str, float | None], pattern: str = "{:.3f}") -> str:
    if s["mean"] is None:
        return "—"
    return f"{pattern.format(s['mean'])} ± {pattern.replace('+', '').format(s['sd'])}"


def describe(results: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of the headline figures, one line per strategy."""
    if not results:
        return "No simulation results."
    first = results[0]
    head = (
        f"{first['dataset']}: budget {first['budget']} labels in rounds of {first['batch']}, "
        f"{first['seeds']} seed(s) (mean ± sd over seeds)"
    )
    lines = [
        head,
        f"{'strategy':<12} {'labels':>6} {'abnormal/100':>13} {'recall gain':>15} {'PR-AUC gain':>15} "
        f"{'promoted':>9} {'dry':>4}",
    ]
    for res in results:
        s = res["summary"]
        rate = "—" if s["promotion_rate"] is None else f"{s['promotion_rate']:.0%}"
        lines.append(
            f"{res['strategy']:<12} {s['labels']['mean']:>6.0f} {_pm(s['frauds_per_100'], '{:.1f}'):>13} "
            f"{_pm(s['recall_gain'], '{:+.3f}'):>15} {_pm(s['pr_auc_gain'], '{:+.3f}'):>15} "
            f"{rate:>9} {s['queue_dry_rounds']:>4}"
        )
    s = first["summary"]
    lines.append(
        f"version 1: recall {s['recall_v1']:.3f}, PR-AUC {s['pr_auc_v1']:.3f}; full-label reference: "
        f"recall {_pm(s['reference_recall'])}, PR-AUC {_pm(s['reference_pr_auc'])}"
        if s["recall_v1"] is not None
        else "version 1 has no classifier"
    )
    return "\n".join(lines)


def stored(ws: Workspace) -> list[dict[str, Any]]:
    """Every stored result for this workspace's dataset, oldest first (damaged files skipped)."""
    folder = ws.paths.artifacts / FOLDER
    fingerprint = ws.spec["fingerprint"]
    out = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        try:
            raw = read_json(path)
        except (OSError, ValueError):
            continue
        if isinstance(raw, dict) and raw.get("schema") == SCHEMA and raw.get("fingerprint") == fingerprint:
            out.append({**raw, "path": str(path)})
    return sorted(out, key=lambda r: r.get("created_at", ""))


def latest(ws: Workspace) -> list[dict[str, Any]]:
    """The latest stored result of each strategy, in :data:`STRATEGIES` order."""
    newest: dict[str, dict[str, Any]] = {}
    for result in stored(ws):
        newest[result["strategy"]] = result
    return [newest[s] for s in STRATEGIES if s in newest]
