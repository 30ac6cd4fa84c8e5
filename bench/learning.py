"""``python -m bench.learning``: the loop's own proof, on real data.

The oracle simulation (:mod:`hitl_core.simulate`) of every query strategy on the
credit-card subset (``/work/shared/data/creditcard_subset.parquet``, 27,391 real rows,
473 frauds) with all 29 features (V1..V28 + Amount), 3 seeds, rounds of K = 20 labels
up to a budget of 200; then the ``queue`` strategy under a few variants of the review
policy. Writes ``docs/LEARNING.md`` (tables, the acceptance checks, the policy choice)
and ``docs/learning_curve.png``. Run it under ``nice -n 10``: about 45 minutes on two
shared cores.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import machine
from hitl_core import Workspace, simulate
from hitl_core.policy import ReviewPolicy

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
DATA = REPO.parent / "shared" / "data" / "creditcard_subset.parquet"
BUDGET, BATCH, SEEDS = 200, 20, 3
#: Review-policy variants the ``queue`` strategy is also run under (the default is the
#: main run's). Shares are relative; orders not named keep the default's.
VARIANTS: dict[str, dict[str, Any]] = {
    "10% exploration (the earlier default)": {
        "shares": {"unknown": 0.3, "alert": 0.4, "uncertain": 0.2, "exploration": 0.1}
    },
    "alert-heavy": {"shares": {"unknown": 0.2, "alert": 0.6, "uncertain": 0.2, "exploration": 0.0}},
    "uncertain-heavy": {"shares": {"unknown": 0.2, "alert": 0.3, "uncertain": 0.5, "exploration": 0.0}},
    "alerts least confident first": {"order": {"alert": "least confident"}},
}
COLORS = {"queue": "#d62728", "random": "#6b6f76", "uncertainty": "#f39c12", "novelty": "#7b2cbf", "alerts": "#4c78a8"}


def _progress(started: float):
    def show(fraction: float, message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {message}", flush=True)

    return show


def workspace(data: Path = DATA) -> Workspace:
    """A temporary workspace on the credit-card subset with every feature."""
    if not data.exists():
        raise SystemExit(f"{data} is not present: the benchmark needs the shared credit-card subset")
    ws = Workspace(tempfile.mkdtemp(prefix="hitl-learning-"))
    ws.init("creditcard", data, "all")
    return ws


def run(
    data: Path = DATA,
    strategies: tuple[str, ...] = simulate.STRATEGIES,
    seeds: int = SEEDS,
    budget: int = BUDGET,
    batch: int = BATCH,
    variants: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every strategy under the default policy, then ``queue`` under each variant."""
    variants = VARIANTS if variants is None else variants
    started = time.perf_counter()
    ws = workspace(data)
    try:
        return _run(ws, data, started, strategies, seeds, budget, batch, variants)
    finally:
        shutil.rmtree(ws.paths.home, ignore_errors=True)


def _run(ws: Workspace, data: Path, started: float, strategies, seeds, budget, batch, variants) -> dict[str, Any]:
    progress = _progress(started)
    main = ws.simulate(strategies, budget=budget, batch=batch, seeds=seeds, progress=progress, write=False)
    default = ReviewPolicy.default()
    policies = {"default": main[[r["strategy"] for r in main].index("queue")]} if "queue" in strategies else {}
    for name, change in variants.items():
        policy = default.with_changes(**change)
        (policies[name],) = ws.simulate(
            "queue",
            budget=budget,
            batch=batch,
            seeds=seeds,
            policy=policy,
            reference=False,
            progress=progress,
            write=False,
        )
    return {
        "results": main,
        "policies": policies,
        "seconds": time.perf_counter() - started,
        "machine": machine(),
        "data": str(data),
        "when": datetime.now(UTC),
    }


# -- figures and checks --------------------------------------------------------------------------


def _pm(s: dict, pattern: str = "{:+.3f}") -> str:
    if s["mean"] is None:
        return "—"
    return f"{pattern.format(s['mean'])} ± {pattern.replace('+', '').format(s['sd'])}"


def _by(results: list[dict]) -> dict[str, dict]:
    return {r["strategy"]: r["summary"] for r in results}


def checks(results: list[dict]) -> list[tuple[str, bool, str]]:
    """The acceptance figures: (what, holds, the figures behind it)."""
    s = _by(results)
    q, r = s["queue"], s["random"]
    ratio = q["frauds_per_100"]["mean"] / r["frauds_per_100"]["mean"] if r["frauds_per_100"]["mean"] else float("inf")
    rounds = q["retrains"]
    dry = {name: x["queue_dry_rounds"] for name, x in s.items()}
    unqueued = {name: x["unqueued_rounds"] for name, x in s.items()}
    return [
        (
            "queue finds at least 10x as many frauds per 100 labels as random",
            ratio >= 10,
            f"{q['frauds_per_100']['mean']:.1f} vs {r['frauds_per_100']['mean']:.1f} per 100 labels: {ratio:.0f}x",
        ),
        (
            "queue's held-out recall gain over version 1 exceeds random's",
            q["recall_gain"]["mean"] > r["recall_gain"]["mean"],
            f"{_pm(q['recall_gain'])} vs {_pm(r['recall_gain'])} (mean ± sd over seeds)",
        ),
        (
            "queue's held-out PR-AUC gain over version 1 exceeds random's",
            q["pr_auc_gain"]["mean"] > r["pr_auc_gain"]["mean"],
            f"{_pm(q['pr_auc_gain'], '{:+.4f}')} vs {_pm(r['pr_auc_gain'], '{:+.4f}')} (mean ± sd over seeds)",
        ),
        (
            "with oracle labels the gate promotes in at least 95% of queue rounds",
            q["promotion_rate"] is not None and q["promotion_rate"] >= 0.95,
            f"{q['promoted']} of {rounds} rounds promoted ({q['promotion_rate']:.0%})",
        ),
        (
            "the queue never runs dry while a replayed point qualifies under the current version",
            not any(dry.values()) and not any(unqueued.values()),
            "rounds with an empty queue and a qualifying point: "
            + ", ".join(f"{k} {v}" for k, v in dry.items())
            + "; rounds with a qualifying point missing from the queue: "
            + ", ".join(f"{k} {v}" for k, v in unqueued.items()),
        ),
    ]


def strategy_table(results: list[dict]) -> list[str]:
    s = _by(results)
    random_rate = s["random"]["frauds_per_100"]["mean"] if "random" in s else None
    lines = [
        "| strategy | labels | frauds found | frauds per 100 labels | × random | held-out recall: v1 → final "
        "(gain) | held-out PR-AUC: v1 → final (gain) | gate promoted | queue dry |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |",
    ]
    for r in results:
        x = r["summary"]
        times = f"{x['frauds_per_100']['mean'] / random_rate:.1f}×" if random_rate else "—"  # none by random
        lines.append(
            f"| {r['strategy']} | {x['labels']['mean']:.0f} | {_pm(x['frauds_found'], '{:.1f}')} | "
            f"{_pm(x['frauds_per_100'], '{:.1f}')} | {times} | {x['recall_v1']:.3f} → {x['recall']['mean']:.3f} "
            f"({_pm(x['recall_gain'])}) | {x['pr_auc_v1']:.4f} → {x['pr_auc']['mean']:.4f} "
            f"({_pm(x['pr_auc_gain'], '{:+.4f}')}) | {x['promoted']}/{x['retrains']} | {x['queue_dry_rounds']} |"
        )
    first = results[0]["summary"]
    lines += [
        "",
        f"Full-label reference (a version trained with every stream label, ~{results[0]['runs'][0]['stream_rows']:,} "
        f"verdicts, per seed): held-out recall {_pm(first['reference_recall'], '{:.3f}')}, PR-AUC "
        f"{_pm(first['reference_pr_auc'], '{:.4f}')} as the version scores; its verdict-aware classifier on its own "
        f"{_pm(first['reference_classifier_recall'], '{:.3f}')} and "
        f"{_pm(first['reference_classifier_pr_auc'], '{:.4f}')}. With that many verdicts the detector's "
        "10,000-row reference holds almost nothing but verdicts, so the version reads nearly every held-out point "
        "through its five nearest verdicts (`hitl_core/models.py`): a rule made for regions only experts have "
        "labelled, which here has become a 5-nearest-neighbour vote. Human budgets are hundreds of labels, not ten "
        "thousand; the classifier's own figure is the ceiling to read the curves against.",
    ]
    return lines


def accepted(summary: dict, random_per_100: float | None) -> bool:
    """The acceptance figures a policy must meet: gate, queue, frauds found."""
    return (
        summary["promotion_rate"] is not None
        and summary["promotion_rate"] >= 0.95
        and not summary["queue_dry_rounds"]
        and not summary["unqueued_rounds"]
        and (random_per_100 is None or summary["frauds_per_100"]["mean"] >= 10 * random_per_100)
    )


CHOICE_RULE = (
    "every acceptance figure holds; then the largest held-out gains over version 1 (recall + PR-AUC), gains "
    "within the spread over seeds counting as equal; then the most frauds per 100 labels, the default winning "
    "a tie within the spread"
)


def choose(policies: dict[str, dict], random_per_100: float | None) -> str | None:
    """The best policy by :data:`CHOICE_RULE` (None if none meets the acceptance figures)."""
    ok = {n: r["summary"] for n, r in policies.items() if accepted(r["summary"], random_per_100)}
    if not ok:
        return None
    gain = {n: s["recall_gain"]["mean"] + s["pr_auc_gain"]["mean"] for n, s in ok.items()}
    spread = {n: s["recall_gain"]["sd"] + s["pr_auc_gain"]["sd"] for n, s in ok.items()}
    top = max(gain, key=gain.get)
    tied = [n for n in ok if gain[n] >= gain[top] - max(spread[n], spread[top])]
    per_100 = {n: ok[n]["frauds_per_100"] for n in tied}
    best = max(tied, key=lambda n: per_100[n]["mean"])
    if "default" in tied and per_100["default"]["mean"] >= per_100[best]["mean"] - (
        per_100["default"]["sd"] + per_100[best]["sd"]
    ):
        best = "default"
    return best


def policy_table(policies: dict[str, dict], random_per_100: float | None) -> tuple[list[str], str | None]:
    lines = [
        "| policy | shares (unknown / alert / uncertain / exploration) | alert order | frauds per 100 labels | "
        "recall gain | PR-AUC gain | gate promoted | acceptance holds |",
        "| --- | --- | --- | ---: | --- | --- | ---: | --- |",
    ]
    for name, r in policies.items():
        x, p = r["summary"], r["policy"]
        sh = p["shares"]
        lines.append(
            f"| {name} | {sh['unknown']:.0%} / {sh['alert']:.0%} / {sh['uncertain']:.0%} / {sh['exploration']:.0%} "
            f"| {p['order']['alert']} | {_pm(x['frauds_per_100'], '{:.1f}')} | {_pm(x['recall_gain'])} | "
            f"{_pm(x['pr_auc_gain'], '{:+.4f}')} | {x['promoted']}/{x['retrains']} | "
            f"{'yes' if accepted(x, random_per_100) else 'no'} |"
        )
    return lines, choose(policies, random_per_100)


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("frauds_found", "frauds found"), ("recall", "held-out recall"), ("pr_auc", "held-out PR-AUC"))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for ax, (key, title) in zip(axes, panels, strict=True):
        for r in results:
            curve = r["summary"]["curve"]
            x = [c["labels"]["mean"] for c in curve]
            color = COLORS.get(r["strategy"], "#333333")
            ax.fill_between(x, [c[key]["min"] for c in curve], [c[key]["max"] for c in curve], color=color, alpha=0.15)
            ax.plot(x, [c[key]["mean"] for c in curve], "-o", ms=3, color=color, label=r["strategy"])
        summary = results[0]["summary"]
        if key != "frauds_found" and summary[f"reference_{key}"]["mean"] is not None:
            ax.axhline(summary[f"reference_{key}"]["mean"], color="#333333", ls=":", lw=1, label="every stream label")
            ax.axhline(
                summary[f"reference_classifier_{key}"]["mean"],
                color="#333333",
                ls="-.",
                lw=1,
                label="every stream label, classifier alone",
            )
        ax.set_title(title)
        ax.set_xlabel("labels used")
        ax.grid(color="#e5e8ec")
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=7, loc="lower right", handles=axes[2].get_legend_handles_labels()[0][-2:])
    seeds = results[0]["seeds"]
    fig.suptitle(f"Oracle simulation on the credit-card subset, 29 features (mean over {seeds} seeds; band: min–max)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(r: dict[str, Any]) -> str:
    """The section for docs/BENCHMARKS.md: the strategy table and the checks."""
    lines = [*strategy_table(r["results"]), ""]
    lines += [f"- {'✓' if ok else '✗'} {what}: {detail}" for what, ok, detail in checks(r["results"])]
    lines += ["", "Details, the policy variants and the curves: [LEARNING.md](LEARNING.md)."]
    return "\n".join(lines)


def write(r: dict[str, Any], narrative: str = "") -> Path:
    DOCS.mkdir(exist_ok=True)
    plot(r["results"], DOCS / "learning_curve.png")
    random = _by(r["results"]).get("random")
    rows, best = policy_table(r["policies"], random["frauds_per_100"]["mean"] if random else None)
    default = ReviewPolicy.default().to_json()
    lines = [
        "# Learning curves: does the loop learn?",
        "",
        f"Measured {r['when']:%Y-%m-%d %H:%M} UTC on {r['machine']}, by `nice -n 10 python -m bench.learning` "
        f"({r['seconds'] / 60:.0f} minutes).",
        "",
        "An oracle simulation (`python -m hitl_core simulate`, `hitl_core/simulate.py`) on the credit-card subset "
        f"(`{Path(r['data']).name}`: 27,391 real rows, 473 frauds; features V1..V28 + Amount). The first 60% of the "
        "rows (by time) are the base data: version 1 trains on its first 80% and every version is evaluated on the "
        "rest (3,287 held-out rows, 97 frauds). The stream is the remaining 10,956 rows (251 frauds); each seed "
        f"replays its own seeded {simulate.STREAM_SHARE:.0%} of it, arriving as it would live (before round r of R "
        "the cursor stands at (r + 1) / R of the stream). Each round a strategy picks 20 replayed, unlabelled "
        "points, the recorded label answers for the expert, and the models are retrained through the promotion "
        "gate; a promotion re-scores the replayed points. Held-out figures are those of the version current "
        "after the gate. Mean ± sd over 3 seeds.",
        "",
        "## Strategies",
        "",
        *strategy_table(r["results"]),
        "",
        "![Learning curves](learning_curve.png)",
        "",
        "## Acceptance",
        "",
        *[f"- {'✓' if ok else '✗'} {what}: {detail}" for what, ok, detail in checks(r["results"])],
        "",
        "## The review policy",
        "",
        "The `queue` strategy follows the review policy. Besides the default "
        f"({', '.join(f'{k} {v:.0%}' for k, v in default['shares'].items())}; alerts {default['order']['alert']} "
        "first) it was run under these variants, same seeds:",
        "",
        *rows,
        "",
        f"Best ({CHOICE_RULE}): **{best}**."
        + (
            " It is the default (`REVIEW_POLICY` in `hitl_core/config.py`)."
            if best == "default"
            else " The default in `hitl_core/config.py` is not it: set it there and run this again."
        ),
        "",
        narrative,
    ]
    path = DOCS / "LEARNING.md"
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


NARRATIVE = """## What the simulation found, and what changed

Measured while building this benchmark (same data, same seeds, the queue strategy unless
said otherwise). Each figure below made a change to `hitl_core/models.py`, whose
docstring keeps the argument.

**Held-out PR-AUC fell with every round of honest labels.** Version 1 scores 0.879.
After 200 oracle labels from the queue it scored 0.873-0.877 (3 seeds), and the paired
gate, rightly seeing a loss beyond the noise, refused 63% of the rounds. The cause: the
verdict-aware classifier sees each verdict as 20 rows and a queue's verdicts are mostly
fraud, so its training prior of fraud is several times the base data's and every score
it gives is lifted (by a median 2.0-2.6 log-odds where no verdict is). It scores only the
points near a verdict; the base classifier scores the rest. Mixed unaligned, near-verdict
normal rows at p ~ 1e-3 outranked the hardest held-out frauds, which the base classifier
scores near 0 (one of them fell from 82 to 219 normal rows above it). Moving the
verdict-aware log-odds back by that lift everywhere restored the ranking (0.882-0.884)
but also moved frauds across p = 0.5: recall at the operating threshold fell below
version 1's and the gate refused on recall. Moving them back only below the review band
(p < 0.1), smoothly and monotonically, kept every decision at p >= 0.1 as it was and
gave both: recall +0.13 and PR-AUC 0.879 -> 0.883 on every seed.

**A region only experts have labelled must read as they said, but only where they
agree.** A new fraud pattern planted into the credit-card stream (ordinary traffic
except two features six standard deviations out, `tests/test_generalise.py`) was
verified on its first 15 points; the retrained classifier caught 78%, 98% or 96% of its
45 later points depending on its seed (its trees see a random half of the features, and
a quarter of them see neither of the two). Where the k nearest reference rows are all
verdicts, the point now reads as those verdicts (the mean of their log-odds): 44 of 45
at every seed. The first version of that rule ignored disagreement: a normal verdict
whose other four nearest reference rows were fraud verdicts read as fraud, the gate's
verdict condition failed, and every later retrain of 2 of 3 seeds was refused from
round 7. Verdicts that disagree now leave the point to the classifier.

**Self-training was measured and left out.** With `--self-train` (as it stood in commit
834e776): after each round's human labels, every replayed, unlabelled point the current
version scored at p >= 0.99 became a pseudo-fraud and every known one at p <= 0.01 a
pseudo-normal, each as one training row (an expert verdict counts 20), through the same
gate; ~960 pseudo-labels a round, ~9,640 by round 10. Against the same queue without it
(the earlier default policy, 3 seeds): frauds per 100 labels 64.8 ± 0.3 vs 64.4 ± 0.1;
recall gain +0.131 ± 0.006 in both; PR-AUC 0.8832-0.8837 vs 0.8826 at the end, a
difference below what the paired gate itself counts as noise; mean recall over the
rounds 0.795 vs 0.796; every round promoted in both; a round took 9.3 s against 5.9-7.1 s. It does
not help, and it can harden a confident mistake: a normal cluster the classifier scores
p = 1.0 (the demo's cluster a, `hitl_core/demo.py`) would enter training as pseudo-fraud
rows beside the experts' verdicts against it.

**Noticed, left as it is.** In the first rounds the queue holds fewer than 20 points
(about 20 qualify in the first tenth of the stream), so a round may take 19: those runs
use 199 labels. The uncertainty strategy's labels sit at the decision boundary, and the
gate refused some of its rounds for recall. The full-label reference is discussed under
the strategy table.
"""


def section() -> str:
    """Run everything, write docs/LEARNING.md and the plot; the text for docs/BENCHMARKS.md."""
    r = run()
    write(r, NARRATIVE)
    return report(r)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the credit-card subset (parquet)")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--no-variants", action="store_true", help="skip the review-policy variants")
    args = parser.parse_args()
    r = run(args.data, seeds=args.seeds, variants={} if args.no_variants else None)
    path = write(r, NARRATIVE)
    print(report(r))
    print(f"\nbench.learning: {r['seconds']:.0f} s; wrote {path} and {DOCS / 'learning_curve.png'}")


if __name__ == "__main__":
    main()
