"""The workspace: one dataset, its stream, its label store and its model registry.

This is the API the pages and the CLI call, one method per user action. Every method
validates its input completely before it writes anything, so a refused request leaves
the workspace exactly as it was.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hitl_core import datasets, retrain, scoring, wording
from hitl_core import policy as policies
from hitl_core.config import Paths, workspace_home
from hitl_core.datasets import DatasetSpec, PreparedDataset
from hitl_core.durable import atomic_write_json, exclusive, read_json
from hitl_core.errors import IntegrityError, InvalidInput, NotReady
from hitl_core.jobs import Job, JobBoard
from hitl_core.labels import LabelRequest, LabelStore, clean_label, clean_reviewer
from hitl_core.registry import ModelBundle, ModelRegistry
from hitl_core.replay import Advance, StreamState, StreamStore
from hitl_core.tally import RunningTally, Tally, waiting_flags

SPEC_SCHEMA = 1
Progress = Callable[[float, str], None]


def _quiet(fraction: float, message: str) -> None:
    pass


@dataclass(frozen=True)
class Counts:
    """Headline figures of the stream."""

    seen: int
    length: int
    fraud: int
    unknown: int
    uncertain: int
    awaiting_review: int
    labelled: int
    version: int | None


class Workspace:
    """Everything under one ``HITL_HOME``. Thread-safe; share one per process."""

    def __init__(self, home: str | Path | None = None, rescore_in_background: bool = False) -> None:
        """``rescore_in_background``: after a switch of the current version, score the
        replayed points again on a background job (the app, which must stay live)
        rather than before the call returns (the CLI, scripts and tests)."""
        self.paths = Paths(workspace_home(home))
        self.rescore_in_background = rescore_in_background
        self.jobs = JobBoard()
        self._mutex = threading.RLock()
        self._incarnation: tuple | None = ()  # never a real key: the first look opens the stores
        self._sync()

    # -- one incarnation of the workspace ----------------------------------------------
    def _spec_key(self) -> tuple | None:
        """Identity of ``workspace.json`` on disk: every (re-)initialisation writes a new file."""
        try:
            st = self.paths.spec.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _sync(self) -> None:
        """Drop every per-process cache when the workspace was (re-)initialised.

        The single place where cached state is invalidated: a re-initialisation (from
        this process, another session or the CLI) writes a new ``workspace.json`` last,
        and the next look from any thread of this process sees its new identity and
        reopens the stores (label events, stream arrays, registry) with empty caches.
        """
        key = self._spec_key()
        if key == self._incarnation:
            return
        with self._mutex:
            if key == self._incarnation:
                return
            self._labels = LabelStore(self.paths.labels)
            self._registry = ModelRegistry(self.paths.models)
            self._stream = StreamStore(self.paths.stream)
            self._dataset: PreparedDataset | None = None
            self._bundles: dict[int, ModelBundle] = {}
            self._version_labels: dict[int, pd.DataFrame] = {}
            self._thresholds: dict[int, float] = {}
            self._explore: np.ndarray | None = None
            self._tally: RunningTally | None = None
            self._spec: dict[str, Any] | None = None
            self._incarnation = key

    @property
    def labels(self) -> LabelStore:
        self._sync()
        return self._labels

    @property
    def registry(self) -> ModelRegistry:
        self._sync()
        return self._registry

    @property
    def stream(self) -> StreamStore:
        self._sync()
        return self._stream

    @property
    def policy(self) -> policies.ReviewPolicy:
        """The workspace's review policy (``artifacts/policy.json``; the default until changed)."""
        path = self.paths.policy
        if not path.exists():
            return policies.ReviewPolicy.default()
        try:
            return policies.ReviewPolicy.from_json(read_json(path))
        except (InvalidInput, ValueError) as exc:
            raise IntegrityError(f"the review policy in {path} is damaged ({exc}); set it again") from None

    def set_policy(self, **changes: Any) -> policies.ReviewPolicy:
        """Change the review policy (shares, alert_capacity, order); validated before it is stored."""
        if not self.ready:
            raise NotReady(f"the workspace at {self.paths.home} has not been initialised")
        updated = self.policy.with_changes(**changes)
        atomic_write_json(self.paths.policy, updated.to_json())
        return updated

    def reset_policy(self) -> policies.ReviewPolicy:
        """Back to the default review policy."""
        self.paths.policy.unlink(missing_ok=True)
        return self.policy

    @property
    def generation(self) -> str | None:
        """Which initialisation of the workspace this is (its ``created_at``); None before the first.

        Sessions compare it with the one they last drew to drop their own state
        (skipped points, the last retrain's result) after a re-initialisation.
        """
        if not self.ready:
            return None
        spec = self.spec
        return f"{spec.get('created_at')}|{spec.get('fingerprint')}"

    # -- setup -----------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Whether the workspace has a dataset, a current model and a stream."""
        return self.paths.spec.exists()

    @property
    def spec(self) -> dict[str, Any]:
        self._sync()
        with self._mutex:
            if self._spec is None:
                if not self.ready:
                    raise NotReady(f"the workspace at {self.paths.home} has not been initialised")
                self._spec = read_json(self.paths.spec)
            return dict(self._spec)

    @property
    def terms(self) -> wording.Terms:
        """The words for this dataset's classes ("fraud" for the demo, "malignant" for breast cancer)."""
        return wording.terms(self.spec["dataset"])

    def bootstrap(self, progress: Progress = _quiet) -> bool:
        """Initialise with the demo if the workspace is empty; True if it did."""
        if self.ready:
            return False
        self.paths.home.mkdir(parents=True, exist_ok=True)
        with exclusive(self.paths.home / ".hitl-init.lock", wait=600, busy_message="the workspace is being set up"):
            if self.ready:  # another process finished it while we waited
                return False
            self._initialise(datasets.load(self.paths, "demo"), progress)
            return True

    def start_setup(self) -> Job | None:
        """Bootstrap an empty workspace on a background thread of this process.

        The setup then runs to its end whoever watches it: a browser tab that started
        it may close. Every caller gets the same job while it runs (and
        :meth:`bootstrap` itself sets up at most once, also across processes). None
        when the workspace is ready and no setup ran in this process.
        """
        if self.ready:
            return self.jobs.get("setup")
        return self.jobs.start("setup", lambda progress: self.bootstrap(progress=progress))

    def init(
        self,
        dataset: str = "demo",
        data: str | Path | None = None,
        features: str | Sequence[str] | None = None,
        force: bool = False,
        progress: Progress = _quiet,
        *,
        label: str | None = datasets.DEFAULT,
        time: str | None = datasets.DEFAULT,
        positive: str | None = None,
        invalid: str = "refuse",
        base_fraction: float | None = None,
        upload: tuple[str, bytes] | None = None,
    ) -> PreparedDataset:
        """(Re)initialise the workspace on a dataset and train version 1.

        The data is read and validated completely, and version 1 trained, before
        anything is written. An initialised workspace is replaced only with
        ``force``; its labels, models and stream are then moved to ``archive/``.
        """
        progress(0.02, f"Loading dataset {dataset!r}…")
        prepared = datasets.load(
            self.paths,
            dataset,
            data,
            features,
            label=label,
            time=time,
            positive=positive,
            invalid=invalid,
            base_fraction=base_fraction,
            upload=upload,
        )
        if self.ready and not force:
            raise InvalidInput(
                f"the workspace at {self.paths.home} is already initialised "
                f"(dataset {self.spec['dataset']['name']!r}); pass --force to replace it: "
                "its labels, models and stream are then moved to archive/"
            )
        self.paths.home.mkdir(parents=True, exist_ok=True)
        with exclusive(self.paths.home / ".hitl-init.lock", wait=600, busy_message="the workspace is being set up"):
            self._initialise(prepared, progress)
        return prepared

    def preview(
        self,
        dataset: str,
        data: str | Path | None = None,
        upload: tuple[str, bytes] | None = None,
    ) -> pd.DataFrame:
        """Read (not prepare) a dataset's table for a preview; validates the file only."""
        from hitl_core import tables

        builtin = datasets.BUILTINS.get(dataset)
        if builtin is None:
            raise InvalidInput(f"unknown dataset {dataset!r}; choose one of: {', '.join(datasets.BUILTINS)}")
        if upload is not None:
            return tables.read_table(upload[1], upload[0])
        return datasets.read_source(self.paths, builtin, data)[0]

    def _initialise(self, prepared: PreparedDataset, progress: Progress) -> None:
        # Train first: if the data cannot train, nothing has been written yet.
        empty = pd.DataFrame({"point_id": pd.Series([], dtype=np.int64), "label": pd.Series([], dtype=object)})
        models, ts, _ = retrain.train_version(prepared, empty, progress=progress)
        progress(0.7, "Evaluating version 1 on the held-out data…")
        metrics = retrain.evaluate(models, prepared, empty)

        progress(0.8, "Writing the workspace…")
        if self.paths.artifacts.exists():
            archive = self.paths.home / "archive" / f"artifacts-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
            archive.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(self.paths.artifacts, archive)
        self.paths.artifacts.mkdir(parents=True)
        self.paths.locks.mkdir()
        self.paths.lock("retrain").touch()
        prepared.save(self.paths.dataset)
        self.labels.create()
        self.registry.create()
        meta = retrain.version_meta(
            prepared,
            ts,
            models,
            metrics,
            parent=None,
            decision="initial",
            gate={"passed": True, "conditions": []},
            reason="initial training on the base data",
        )
        empty_labels = pd.DataFrame(columns=["point_id", "label", "event_id", "reviewer", "created_at"])
        version = self.registry.write(models, meta, {"labels.parquet": retrain.verified_table(empty_labels)})
        self.registry.set_current(version, "initial")
        self.stream.create(prepared.stream_len, prepared.fingerprint, prepared.X[prepared.train])
        spec = {
            "schema": SPEC_SCHEMA,
            "dataset": prepared.spec.to_json(),
            "fingerprint": prepared.fingerprint,
            "rows": len(prepared),
            "train_rows": prepared.n_train,
            "holdout_rows": prepared.n_base - prepared.n_train,
            "stream_rows": prepared.stream_len,
            "created_at": datetime.now(UTC).isoformat(),
        }
        atomic_write_json(self.paths.spec, spec)  # written last: marks the workspace ready
        self._sync()  # this process sees the new incarnation at once (others on their next look)
        progress(1.0, f"Ready: {len(prepared):,} rows, version {version} trained.")

    # -- data and models ---------------------------------------------------------------
    @property
    def dataset(self) -> PreparedDataset:
        self._sync()
        with self._mutex:
            if self._dataset is None:
                spec = self.spec
                dataset = PreparedDataset.from_parquet(self.paths.dataset, DatasetSpec.from_json(spec["dataset"]))
                if dataset.fingerprint != spec["fingerprint"]:
                    raise IntegrityError(
                        "the workspace's prepared dataset no longer matches its recorded fingerprint; "
                        "it was changed after initialisation. Re-initialise the workspace."
                    )
                self._dataset = dataset
            return self._dataset

    def current_version(self) -> int | None:
        return self.registry.current_version()

    def models(self, version: int | None = None) -> ModelBundle:
        """A verified, loaded model version (default: current), cached per process."""
        version = self.current_version() if version is None else version
        if version is None:
            raise NotReady("no model has been trained yet")
        with self._mutex:
            if version not in self._bundles:
                bundle = self.registry.load(version)
                dataset = self.dataset
                if bundle.meta["features"] != list(dataset.features):
                    raise IntegrityError(
                        f"model version {version} uses features {bundle.meta['features']}, "
                        f"the workspace uses {list(dataset.features)}"
                    )
                if bundle.meta["dataset"]["fingerprint"] != dataset.fingerprint:
                    raise IntegrityError(f"model version {version} was trained on a different dataset")
                self._bundles[version] = bundle
            return self._bundles[version]

    def thresholds(self, versions: np.ndarray | None = None) -> np.ndarray:
        """Detector threshold per version number (an array indexed by version).

        Versions are immutable, so each sidecar is read once per process."""
        wanted = set(self.registry.version_numbers() if versions is None else np.unique(versions).tolist())
        with self._mutex:
            for v in wanted - set(self._thresholds):
                self._thresholds[v] = self.registry.meta(v)["detector"]["threshold"]
            known = dict(self._thresholds)
        out = np.full(max(known, default=0) + 1, np.nan)
        for v, t in known.items():
            out[v] = t
        return out

    def _exploration_flags(self) -> np.ndarray:
        """The exploration sample over every stream position (deterministic; computed once)."""
        with self._mutex:
            if self._explore is None:
                ds = self.dataset
                self._explore = policies.exploration_flags(ds.n_base + np.arange(ds.stream_len, dtype=np.int64))
            return self._explore

    # -- the stream --------------------------------------------------------------------
    def _stream_features(self, start: int, stop: int) -> np.ndarray:
        ds = self.dataset
        return ds.X[ds.n_base + start : ds.n_base + stop]

    def _score(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        bundle = self.models()
        scores = bundle.models.score(X)
        return scores.p, scores.novelty, scores.unknown, bundle.version

    def tick(self, now: float | None = None) -> Advance:
        """Advance a playing stream by the rows due since it last moved, scoring them."""
        return self.stream.advance(self._stream_features, self._score, rows=None, now=now)

    def replay(self, steps: int) -> Advance:
        """Replay and score the next ``steps`` rows, playing or not."""
        if steps < 0:
            raise InvalidInput("--steps must be a non-negative number of rows")
        return self.stream.advance(self._stream_features, self._score, rows=int(steps))

    def scored(self, start: int = 0, stop: int | None = None, extra: bool = True) -> pd.DataFrame:
        """Replayed rows ``start:stop`` (stream positions) with features and scores."""
        cursor = self.stream.state().cursor
        stop = cursor if stop is None else min(stop, cursor)
        start = max(0, min(start, stop))
        return self.scored_at(np.arange(start, stop), extra)

    def scored_at(self, positions: np.ndarray, extra: bool = True) -> pd.DataFrame:
        """Replayed rows at the given stream positions, with features and scores
        (and the dataset's other columns, e.g. Amount, unless ``extra`` is False)."""
        return pd.DataFrame(self.scored_arrays(positions, extra))

    def scored_arrays(
        self, positions: np.ndarray, extra: bool = True, state: StreamState | None = None
    ) -> dict[str, np.ndarray]:
        """:meth:`scored_at` as plain numpy columns (no DataFrame: the Monitor's hot path)."""
        positions = np.asarray(positions, dtype=np.int64)
        cursor = (state or self.stream.state()).cursor
        if len(positions) and (positions.min() < 0 or positions.max() >= cursor):
            raise InvalidInput("only replayed stream positions have scores")
        arrays = self.stream.arrays()
        ds = self.dataset
        ids = ds.n_base + positions
        columns: dict[str, np.ndarray] = {"point_id": ids, "time": ds.time[ids]}
        for j, name in enumerate(ds.features):
            columns[name] = ds.X[ids, j]
        columns["true_label"] = np.asarray([None, "normal", "abnormal"], dtype=object)[ds.y[ids] + 1]
        for column in ds.extra.columns if extra else ():
            columns[column] = ds.extra[column].to_numpy()[ids]
        columns["p"] = np.asarray(arrays["proba"][positions], dtype=np.float64)
        columns["novelty"] = np.asarray(arrays["novelty"][positions], dtype=np.float64)
        columns["unknown"] = np.asarray(arrays["unknown"][positions])
        columns["status"] = scoring.status_names(arrays["status"][positions])
        columns["version"] = np.asarray(arrays["version"][positions])
        columns["picked"] = np.asarray(arrays["requested"][positions])
        return columns

    def tally(self, state: StreamState | None = None) -> Tally:
        """Whole-history figures of the stream, brought up to date incrementally."""
        state = state or self.stream.state()
        with self._mutex:
            if self._tally is None:
                self._tally = RunningTally(self.stream.layout()[0])
            running = self._tally
        return running.update(state, self.stream.arrays(), self._stream_features, self._exploration_flags())

    def counts(self, state: StreamState | None = None) -> Counts:
        state = state or self.stream.state()
        tally = self.tally(state)
        n = tally.cursor
        # Labelled points leave the queue: subtract those of them the tally counts as waiting.
        labelled = self._labelled_positions(n)
        waiting_labelled = 0
        if len(labelled):
            arrays = self.stream.arrays()
            explore = self._exploration_flags()
            sub = {name: arrays[name][labelled] for name in ("proba", "unknown", "requested")}
            waiting_labelled = int(waiting_flags(sub, explore[labelled], 0, len(labelled)).sum())
        return Counts(
            seen=n,
            length=state.length,
            fraud=tally.fraud,
            unknown=tally.unknown,
            uncertain=int(tally.status[scoring.UNCERTAIN]),
            awaiting_review=max(0, tally.waiting - waiting_labelled),
            labelled=len(labelled),
            version=self.current_version(),
        )

    def _labelled_positions(self, n: int) -> np.ndarray:
        """The stream positions below ``n`` that carry a label in force (sorted, unique)."""
        current = self.labels.current()
        if not len(current):
            return np.empty(0, dtype=np.int64)
        pos = current["point_id"].to_numpy(np.int64) - self.dataset.n_base
        return np.unique(pos[(pos >= 0) & (pos < n)])

    def _labelled_mask(self, n: int) -> np.ndarray:
        """Which of the first ``n`` stream positions carry a label in force."""
        labelled = np.zeros(n, dtype=bool)
        labelled[self._labelled_positions(n)] = True
        return labelled

    def novelty_reasons(self, point_id: int, version: int | None = None, top: int = 3) -> list[dict[str, Any]]:
        """The features that make a point novel, most first (see ``NoveltyDetector.reasons``).

        Each entry: the feature, the point's value, its share of the novelty score, and
        whether the feature alone puts the point over the detector's threshold.
        """
        ds = self.dataset
        pid = int(point_id)
        if not 0 <= pid < len(ds):
            raise InvalidInput(f"there is no point {pid}: point ids run from 0 to {len(ds) - 1}")
        detector = self.models(version).models.detector
        parts = detector.reasons(ds.X[[pid]])[0]
        # No part exceeds the score; for a point novel as a combination the parts add up to it.
        total = float(detector.decision_function(ds.X[[pid]])[0]) or 1.0
        order = np.argsort(-parts)[:top]
        return [
            {
                "feature": ds.features[j],
                "value": float(ds.X[pid, j]),
                "part": float(parts[j]),
                "share": float(min(1.0, parts[j] / total)),
                "alone_unknown": bool(parts[j] > detector.threshold_),
            }
            for j in order
            if parts[j] > 0
        ]

    def pick_for_review(self, point_ids: Sequence[int]) -> int:
        """Send replayed points to the review queue; returns how many were new there.

        Every picked point is marked (picked points lead the queue), but only points
        that were neither waiting already (unknown, alert, uncertain, exploration, picked
        before) nor labelled count as new.
        """
        ids = [self._check_point(pid) for pid in point_ids]
        if not ids:
            raise InvalidInput("no points were selected")
        positions = np.unique(self.dataset.stream_position(np.asarray(ids, dtype=np.int64)))
        arrays = self.stream.arrays()
        queued = policies.queue_reasons(
            np.asarray(arrays["proba"][positions], dtype=np.float64),
            np.asarray(arrays["unknown"][positions]),
            np.zeros(len(positions), dtype=bool),  # picked before: request_review knows, under its lock
            self._exploration_flags()[positions],
        )
        labelled = np.isin(positions, self._labelled_positions(int(positions.max()) + 1))
        return self.stream.request_review(positions, waiting=(queued >= 0) | labelled)

    # -- review ------------------------------------------------------------------------
    def queue(self, with_features: bool = True) -> pd.DataFrame:
        """The review queue under the workspace's policy, best first (see :mod:`hitl_core.policy`)."""
        state = self.stream.state()
        arrays = self.stream.arrays()
        n = state.cursor
        ds = self.dataset
        versions = np.asarray(arrays["version"][:n])
        ids = ds.n_base + np.arange(n, dtype=np.int64)
        queue = policies.build_queue(
            self.policy,
            ids,
            np.asarray(arrays["proba"][:n], dtype=np.float64),
            np.asarray(arrays["novelty"][:n], dtype=np.float64),
            self.thresholds(versions)[versions] if n else np.empty(0),
            np.asarray(arrays["unknown"][:n]),
            np.asarray(arrays["requested"][:n]),
            self._labelled_mask(n),
            self._exploration_flags()[:n],
            time=ds.time[ids] if ds.spec.time else None,
        )
        positions = queue["point_id"].to_numpy(np.int64) - ds.n_base
        queue["status"] = scoring.status_names(np.asarray(arrays["status"])[positions]) if len(queue) else []
        queue["version"] = versions[positions] if len(queue) else []
        if with_features and len(queue):
            rows = ds.rows(queue["point_id"].to_numpy())
            queue = queue.merge(rows, on="point_id", how="left", sort=False)
        return queue

    def _check_point(self, point_id: Any) -> int:
        try:
            pid = int(str(point_id).strip())
        except ValueError:
            raise InvalidInput(f"point id must be a whole number, not {point_id!r}") from None
        ds = self.dataset
        role = ds.role_of(pid)
        if role == "missing":
            raise InvalidInput(f"there is no point {pid}: point ids run from 0 to {len(ds) - 1}")
        if role != "stream":
            raise InvalidInput(
                f"point {pid} belongs to the base data ({role}), not the stream; "
                "only replayed stream points can be labelled"
            )
        cursor = self.stream.state().cursor
        if ds.stream_position(pid) >= cursor:
            raise InvalidInput(
                f"point {pid} has not been replayed yet (the stream has reached point {ds.n_base + cursor - 1})"
            )
        return pid

    def label(
        self,
        point_id: Any,
        label: str,
        reviewer: str,
        source: str = "api",
        note: str | None = None,
    ) -> dict[str, Any]:
        """Store one expert verdict; returns the stored event."""
        return self.label_many([point_id], label, reviewer, source, note)[0]

    def label_many(
        self,
        point_ids: Sequence[Any],
        label: str,
        reviewer: str,
        source: str = "api",
        note: str | None = None,
    ) -> list[dict[str, Any]]:
        """Store the same verdict for several points, all or nothing."""
        label = clean_label(label)
        reviewer = clean_reviewer(reviewer)
        ids = [self._check_point(pid) for pid in point_ids]
        version = self.current_version()
        events = self.labels.append([LabelRequest(pid, label, reviewer, source, version, note) for pid in ids])
        return events.to_dict("records")

    def undo(self, reviewer: str, source: str = "api") -> dict[str, Any]:
        """Cancel the reviewer's most recent label still in force (as an undo event)."""
        return self.labels.undo_last(reviewer, source, self.current_version()).to_dict("records")[0]

    # -- retraining --------------------------------------------------------------------
    def labels_of_version(self, version: int) -> pd.DataFrame:
        with self._mutex:
            if version not in self._version_labels:
                self.registry.verify(version)
                self._version_labels[version] = pd.read_parquet(self.registry.folder(version) / "labels.parquet")
            return self._version_labels[version]

    def new_labels(self) -> int:
        """Points whose label in force differs from what the current version was trained with."""
        version = self.current_version()
        current = self.labels.current_map()
        if version is None:
            return len(current)
        used = self.labels_of_version(version)
        used_map = dict(zip(used["point_id"].astype(int), used["label"], strict=True))
        changed = sum(1 for pid, lab in current.items() if used_map.get(pid) != lab)
        return changed + sum(1 for pid in used_map if pid not in current)

    def retrain(
        self, promote: bool = True, progress: Progress = _quiet, *, anyway: bool = False
    ) -> retrain.RetrainResult:
        """Train a candidate on base data + every verdict, evaluate it, apply the gate.

        The gate (:func:`hitl_core.retrain.assess`) compares the candidate with the
        current version on the same held-out rows, and checks a classifier trained from
        verdicts alone on the replayed stream. With no verdict new since the current
        version it refuses (:class:`InvalidInput`):
        the candidate would be the same models again. ``anyway`` retrains regardless.
        """
        with exclusive(
            self.paths.lock("retrain"),
            wait=0,
            busy_message="a retrain is already running in this workspace; wait for it to finish, then try again",
        ):
            start = time.perf_counter()
            dataset = self.dataset
            parent = self.current_version()
            retrain.require_new_verdicts(self.new_labels(), parent, anyway)
            verified = self.labels.current()
            current = self.models(parent) if parent is not None else None
            base = current.models.base if current is not None else None
            models, ts, _ = retrain.train_version(dataset, verified, base, progress)
            progress(0.7, "Evaluating the candidate and the current version on the same data…")
            report = retrain.assess(
                models,
                current.models if current is not None else None,
                dataset,
                ts,
                replayed=self.stream.state().cursor,
                abnormal=self.terms.abnormal,
                progress=progress,
            )
            decision = ("promoted" if promote else "held") if report.passed else "rejected"
            progress(0.85, "Writing the new version…")
            meta = retrain.version_meta(
                dataset,
                ts,
                models,
                report.candidate_metrics,
                parent=parent,
                decision=decision,
                gate=report.record(),
                parent_metrics=report.current_metrics,
                reason="retrain",
            )
            version = self.registry.write(models, meta, {"labels.parquet": retrain.verified_table(verified)})
            if decision == "promoted":
                self.registry.set_current(version, "promoted")
                self._after_switch(lambda f, m: progress(0.9 + 0.1 * f, m))
            progress(1.0, "Done.")
            return retrain.RetrainResult(
                version,
                parent,
                decision,
                report.conditions,
                report.candidate_metrics,
                report.current_metrics,
                len(verified),
                time.perf_counter() - start,
                differences=report.differences,
                verdict_check=report.verdict_check,
            )

    def rollback(self, version: int, progress: Progress = _quiet) -> None:
        """Make an earlier (or any stored) version current again."""
        version = int(version)
        if version not in self.registry.version_numbers():
            raise InvalidInput(f"there is no model version {version}; versions: {self.registry._listing()}")
        if version == self.current_version():
            raise InvalidInput(f"version {version} is already current")
        self.models(version)  # verifies files and compatibility before switching
        self.registry.set_current(version, "rollback")
        self._after_switch(progress)

    # -- re-scoring after a switch -----------------------------------------------------
    def _after_switch(self, progress: Progress) -> None:
        if self.rescore_in_background:
            self.start_rescore()
        else:
            self.rescore(progress)

    def rescore(self, progress: Progress = _quiet) -> int:
        """Score every replayed, unverified point again with the current version.

        Run after each switch of the current version (promotion or rollback), so the
        queue, the counts and the Monitor reflect the version in force; each point's
        ``version`` records which version scored it. Starts over if yet another
        version becomes current meanwhile. Returns the points scored again.
        """
        while True:
            target = self.current_version()
            if target is None:
                return 0
            bundle = self.models(target)

            def scorer(X: np.ndarray, bundle: ModelBundle = bundle):
                scores = bundle.models.score(X)
                return scores.p, scores.novelty, scores.unknown, bundle.version

            def keep(lo: int, hi: int) -> np.ndarray:
                return self._labelled_mask(hi)[lo:hi]

            generation = self.generation

            def still_wanted(v: int = target, g: str | None = generation) -> bool:
                return self.generation == g and self.current_version() == v

            done = self.stream.rescore(
                self._stream_features,
                scorer,
                keep=keep,
                progress=lambda f, m, v=target: progress(f, f"{m} (version {v})"),
                still_wanted=still_wanted,
            )
            if still_wanted() or self.generation != generation:
                return done

    def start_rescore(self) -> Job:
        """:meth:`rescore` on a background job of this process (one at a time; a switch
        during a run makes that run start over with the new version)."""
        return self.jobs.start("rescore", lambda progress: self.rescore(progress))

    def wait_rescore(self, progress: Progress = _quiet) -> None:
        """Wait for this process's re-scoring to finish, reporting its progress (the CLI)."""
        job = self.jobs.get("rescore")
        while job is not None and not job.wait(0.2):
            progress(*job.progress)
        if job is not None and job.error is not None:
            raise job.error

    def simulate(self, strategies: str | Sequence[str] = "queue", **options: Any) -> list[dict[str, Any]]:
        """The oracle simulation of query strategies, in a private copy (see :mod:`hitl_core.simulate`)."""
        from hitl_core import simulate  # it imports this module

        return simulate.run(self, strategies, **options)

    def history(self) -> pd.DataFrame:
        """One row per version: when, parent, labels used, metrics, decision, current."""
        current = self.current_version()
        rows = []
        for meta in self.registry.versions():
            m = meta.get("metrics", {})
            rows.append(
                {
                    "version": meta["version"],
                    "created_at": pd.Timestamp(meta["created_at"]),
                    "parent": meta.get("parent"),
                    "labels_used": meta.get("labels_used", 0),
                    "holdout_recall": m.get("holdout_recall"),
                    "holdout_pr_auc": m.get("holdout_pr_auc"),
                    "verified_agreement": m.get("verified_agreement"),
                    "holdout_unknown_rate": m.get("holdout_unknown_rate"),
                    "decision": meta.get("decision"),
                    "current": meta["version"] == current,
                }
            )
        frame = pd.DataFrame(rows)
        if len(frame):
            frame["parent"] = frame["parent"].astype("Int64")
        return frame

    # -- evaluation and mode -------------------------------------------------------------
    @property
    def mode(self) -> str:
        """ "classifier" once a classifier exists, else "detector-only" (unlabelled data)."""
        return "classifier" if self.models().models.has_classifier else "detector-only"

    def labels_needed(self) -> dict[str, int]:
        """Verdicts still missing per class before a detector-only workspace gets a classifier."""
        if self.mode == "classifier":
            return {"normal": 0, "abnormal": 0}
        return retrain.labels_needed(self.labels.current())

    def evaluate(self, version: int | None = None, progress: Progress = _quiet) -> dict[str, Any]:
        """A version's held-out metrics (PR-AUC, ROC-AUC, precision and recall at the
        operating threshold, unknown rate) and its agreement with today's verdicts."""
        bundle = self.models(version)
        progress(0.1, f"Scoring the held-out data with version {bundle.version}…")
        metrics = retrain.evaluate(bundle.models, self.dataset, self.labels.current())
        progress(1.0, "Done.")
        return {"version": bundle.version, "mode": self.mode_of(bundle.version), **metrics}

    def mode_of(self, version: int) -> str:
        return "classifier" if self.models(version).models.has_classifier else "detector-only"

    # -- summary -----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        spec = self.spec
        state = self.stream.state()
        counts = self.counts()
        current = self.current_version()
        meta = self.registry.meta(current) if current else {}
        return {
            "home": str(self.paths.home),
            "dataset": spec["dataset"]["name"],
            "mode": self.mode,
            "labels_needed": self.labels_needed(),
            "dropped_rows": spec["dataset"].get("dropped_rows", 0),
            "features": spec["dataset"]["features"],
            "rows": spec["rows"],
            "train_rows": spec["train_rows"],
            "holdout_rows": spec["holdout_rows"],
            "stream_rows": spec["stream_rows"],
            "stream": {
                "cursor": state.cursor,
                "playing": state.playing,
                "speed": state.speed,
                "finished": state.finished,
            },
            "counts": counts.__dict__,
            "current_version": current,
            "versions": len(self.registry.version_numbers()),
            "new_labels": self.new_labels(),
            "current_metrics": meta.get("metrics", {}),
        }
