"""The replayed stream: one deterministic cursor over the stream part of the dataset.

The cursor, the play/pause state and the score of every replayed row live in the
workspace, not in a browser session: every session sees the same stream, and it
survives a server restart. Scores sit in fixed-size memory-mapped arrays (one slot per
stream row), so each refresh writes only the rows that are new since the last one and
reading the history costs no parsing. The cursor is moved in ``state.json`` *after*
the new rows' scores are written, so a crash in between only means those rows are
scored again.

Durability. Scores go through the page cache, so every process sees them at once
and a process crash or restart loses nothing. They are flushed to disk (with a
durable state write) at most every :data:`SYNC_SECONDS`, on every explicit step,
pause, reset and at the end of the stream — not on every tick: flushing seven
arrays and fsyncing the state cost ~8 ms of a ~10 ms refresh. The state records the
cursor as of the last flush and the machine's boot id; a process that finds the
state written in an earlier boot (a power cut) rewinds the cursor to the last
flushed row, so rows whose scores might not have reached the disk are scored again.

While playing, the stream advances by wall-clock time at ``speed`` rows per second,
however many sessions are watching: each refresh asks "how many rows are due since
the stream last moved" under a lock. A gap longer than
:data:`~hitl_core.config.MAX_CATCH_UP_SECONDS` (nobody watching, server down) does
not make it jump ahead: the stream plays while someone watches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from hitl_core import scoring
from hitl_core.config import DEFAULT_SPEED, HISTOGRAM_BINS, MAX_CATCH_UP_SECONDS, MAX_ROWS_PER_TICK, SPEEDS
from hitl_core.durable import atomic_write_json, boot_id, exclusive, read_json
from hitl_core.errors import IntegrityError, InvalidInput, NotReady

#: name -> dtype of the per-row arrays (one slot per stream row).
ARRAYS = {
    "proba": np.float32,  # classifier P(abnormal); NaN where there was no classifier
    "novelty": np.float32,  # detector score (distance to k-th neighbour, standardised)
    "unknown": np.bool_,  # detector flag at scoring time
    "status": np.int8,  # see hitl_core.scoring
    "version": np.int32,  # model version that scored the row
    "requested": np.bool_,  # a person picked the row for review
}

#: Longest time scores stay in the page cache before they are flushed to disk.
SYNC_SECONDS = 5.0

#: scorer(X) -> (p, novelty, unknown, version)
Scorer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, int]]


@dataclass(frozen=True)
class StreamState:
    cursor: int
    length: int
    playing: bool
    speed: int
    clock: float
    epoch: int
    dataset_fingerprint: str
    updated_at: str
    synced: int = 0  # cursor as of the last flush to disk
    synced_at: float = 0.0
    boot: str = ""
    picks: int = 0  # bumped whenever points are picked for review
    rescores: int = 0  # bumped whenever replayed rows are scored again (a new current version)

    @property
    def finished(self) -> bool:
        return self.cursor >= self.length


@dataclass(frozen=True)
class Advance:
    """What one call to :meth:`StreamStore.advance` did."""

    start: int
    stop: int
    state: StreamState

    @property
    def rows(self) -> int:
        return self.stop - self.start


class StreamStore:
    """The stream's state and per-row scores under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.state_path = self.root / "state.json"
        self.layout_path = self.root / "layout.json"
        self._lock_path = self.root / "stream.lock"
        self._arrays: dict[str, np.memmap] | None = None
        self._recovered = False  # a power cut is looked for once, before the state is first read
        self._layout: tuple[list[np.ndarray], list[np.ndarray]] | None = None

    # -- creation --------------------------------------------------------------------
    def create(self, length: int, dataset_fingerprint: str, train_features: np.ndarray) -> None:
        """Lay out empty arrays and the initial state (cursor 0, paused)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_path.touch(exist_ok=True)
        for name, dtype in ARRAYS.items():
            arr = np.lib.format.open_memmap(self.root / f"{name}.npy", mode="w+", dtype=dtype, shape=(length,))
            arr.flush()
            del arr
        edges, baseline = _histogram_layout(train_features)
        # The bins never change: they live apart from the state rewritten on every tick.
        atomic_write_json(self.layout_path, {"edges": edges, "baseline": baseline})
        self._write_state(
            {
                "cursor": 0,
                "length": length,
                "playing": True,  # a new workspace's stream plays as soon as someone watches
                "speed": DEFAULT_SPEED,
                "clock": time.time(),
                "epoch": 0,
                "dataset_fingerprint": dataset_fingerprint,
            }
        )
        self._arrays = None
        self._layout = None
        self._recovered = True

    @property
    def exists(self) -> bool:
        return self.state_path.exists()

    # -- state -----------------------------------------------------------------------
    def state(self) -> StreamState:
        if not self.exists:
            raise NotReady("the stream has not been set up in this workspace")
        self._recover_once()
        return StreamState(**read_json(self.state_path))

    def _write_state(self, raw: dict, durable: bool = True, now: float | None = None) -> StreamState:
        """Write the state; ``durable`` flushes the score arrays first and fsyncs."""
        raw = {**raw, "updated_at": datetime.now(UTC).isoformat(), "boot": boot_id()}
        if durable or not raw["boot"]:
            if self._arrays is not None:
                for arr in self._arrays.values():
                    arr.flush()
            raw.update(synced=raw["cursor"], synced_at=time.time() if now is None else now)
            durable = True
        atomic_write_json(self.state_path, raw, durable=durable, compact=True)
        return StreamState(**raw)

    def _recover_once(self) -> None:
        """After a power cut, rewind to the last row whose scores were flushed.

        Done once per process, before its first look at the state or the arrays.
        """
        if self._recovered or not self.exists:
            return
        raw = read_json(self.state_path)
        if raw.get("boot", "") in ("", boot_id()) or raw.get("synced", 0) >= raw["cursor"]:
            self._recovered = True
            return
        with self._lock():
            raw = read_json(self.state_path)
            if raw.get("boot", "") not in ("", boot_id()) and raw.get("synced", 0) < raw["cursor"]:
                raw["cursor"] = raw["synced"]
                self._write_state(raw)
        self._recovered = True

    def arrays(self) -> dict[str, np.memmap]:
        """The per-row arrays (memory-mapped; slots past the cursor are meaningless)."""
        if self._arrays is None:
            state = self.state()
            arrays = {}
            for name in ARRAYS:
                path = self.root / f"{name}.npy"
                try:
                    arr = np.load(path, mmap_mode="r+")
                except (FileNotFoundError, ValueError) as exc:
                    raise IntegrityError(
                        f"stream scores file {path.name} is missing or damaged ({exc}); reset the stream"
                    ) from None
                if arr.shape != (state.length,):
                    raise IntegrityError(
                        f"stream scores file {path.name} has {arr.shape[0]} slots, expected {state.length}"
                    )
                arrays[name] = arr
            self._arrays = arrays
        return self._arrays

    def layout(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per feature: histogram bin edges, and the training share of each bin."""
        if self._layout is None:
            raw = read_json(self.layout_path)
            self._layout = ([np.asarray(e) for e in raw["edges"]], [np.asarray(b) for b in raw["baseline"]])
        return self._layout

    def _lock(self):
        return exclusive(self._lock_path, wait=30, busy_message="the stream is busy; try again")

    def _locked(self):
        """The stream's lock, taken after any power-cut recovery (which takes it itself)."""
        self._recover_once()
        return self._lock()

    def _update(self, **changes) -> StreamState:
        with self._locked():
            raw = read_json(self.state_path)
            raw.update(changes)
            return self._write_state(raw)

    def play(self) -> StreamState:
        return self._update(playing=True, clock=time.time())

    def pause(self) -> StreamState:
        return self._update(playing=False)

    def set_speed(self, speed: int) -> StreamState:
        if speed not in SPEEDS:
            raise InvalidInput(f"speed must be one of {', '.join(map(str, SPEEDS))} rows per second")
        return self._update(speed=int(speed), clock=time.time())

    def reset(self) -> StreamState:
        """Back to the first stream row; scores and picks are cleared (labels are not)."""
        with self._locked():
            raw = read_json(self.state_path)
            for arr in self.arrays().values():
                arr[:] = 0
                arr.flush()
            raw.update(
                cursor=0,
                playing=False,
                clock=time.time(),
                epoch=raw["epoch"] + 1,
            )
            return self._write_state(raw)

    def request_review(self, positions: np.ndarray, waiting: np.ndarray | None = None) -> int:
        """Mark replayed rows as picked for review; returns how many are new in the queue.

        ``waiting`` (aligned with ``positions``) flags rows that are in the queue for
        another reason already, or labelled: they are marked too, but not counted. A
        row picked before is never counted again.
        """
        positions = np.asarray(positions, dtype=np.int64)
        waiting = np.zeros(len(positions), dtype=bool) if waiting is None else np.asarray(waiting, dtype=bool)
        if waiting.shape != positions.shape:
            raise InvalidInput("one waiting flag per position is needed")
        positions, first = np.unique(positions, return_index=True)
        waiting = waiting[first]
        with self._locked():
            raw = read_json(self.state_path)
            if len(positions) and (positions.min() < 0 or positions.max() >= raw["cursor"]):
                raise InvalidInput("only points that have already been replayed can be sent to review")
            requested = self.arrays()["requested"]
            unmarked = ~np.asarray(requested[positions], dtype=bool)
            if unmarked.any():
                requested[positions] = True
                raw["picks"] = raw.get("picks", 0) + 1  # tallies of the history recount the queue
                self._write_state(raw)  # durable: flushes the arrays too
            return int((unmarked & ~waiting).sum())

    # -- re-scoring ------------------------------------------------------------------
    def rescore(
        self,
        features: Callable[[int, int], np.ndarray],
        scorer: Scorer,
        keep: Callable[[int, int], np.ndarray] | None = None,
        progress: Callable[[float, str], None] | None = None,
        still_wanted: Callable[[], bool] | None = None,
        chunk: int = 20_000,
    ) -> int:
        """Score the replayed rows again (with ``scorer``: a newly current version).

        Rows where ``keep(start, stop)`` is True keep the scores they have (verified
        points keep the scores their reviewer saw). The rows are scored in chunks
        outside the stream's lock, so ticks go on meanwhile; each chunk is written under
        the lock, unless the stream was reset since, or ``still_wanted()`` says another
        version has become current (then the caller starts over). Rows the stream
        reaches meanwhile are scored by the ticks, already with the new version.
        Returns the rows scored again.
        """
        state = self.state()
        epoch, stop = state.epoch, state.cursor
        done = 0
        for lo in range(0, stop, chunk):
            if still_wanted is not None and not still_wanted():
                return done
            hi = min(stop, lo + chunk)
            p, novelty, unknown, version = scorer(features(lo, hi))
            mask = np.ones(hi - lo, dtype=bool) if keep is None else ~np.asarray(keep(lo, hi), dtype=bool)
            with self._locked():
                raw = read_json(self.state_path)
                if raw["epoch"] != epoch:
                    return done  # reset meanwhile: those rows are no longer replayed
                arrays = self.arrays()
                values = {
                    "proba": p,
                    "novelty": novelty,
                    "unknown": unknown,
                    "status": scoring.statuses(p, unknown),
                    "version": np.full(hi - lo, version, dtype=np.int32),
                }
                for name, new in values.items():
                    view = arrays[name][lo:hi]
                    view[mask] = np.asarray(new)[mask]
                raw["rescores"] = raw.get("rescores", 0) + 1  # tallies recount statuses and bands
                self._write_state(raw, durable=hi >= stop)
            done += int(mask.sum())
            if progress is not None:
                progress(hi / stop, f"Re-scoring replayed points: {hi:,} of {stop:,}")
        return done

    # -- advancing -------------------------------------------------------------------
    def advance(
        self,
        features: Callable[[int, int], np.ndarray],
        scorer: Scorer,
        rows: int | None = None,
        now: float | None = None,
    ) -> Advance:
        """Score the rows that are due and move the cursor past them.

        ``rows=None`` is a clock tick: only a playing stream moves, by the rows due
        at its speed since it last moved. ``rows=N`` steps N rows whatever the state.
        ``features(start, stop)`` returns the feature rows of stream positions
        ``start:stop``.
        """
        now = time.time() if now is None else now
        with self._locked():
            raw = read_json(self.state_path)
            cursor, length = raw["cursor"], raw["length"]
            if rows is None:
                if not raw["playing"]:
                    return Advance(cursor, cursor, StreamState(**raw))
                elapsed = max(0.0, now - raw["clock"])
                if elapsed > MAX_CATCH_UP_SECONDS:
                    due = int(MAX_CATCH_UP_SECONDS * raw["speed"])
                    raw["clock"] = now
                else:
                    due = int(elapsed * raw["speed"])
                    raw["clock"] += due / raw["speed"]
                due = min(due, MAX_ROWS_PER_TICK)
            else:
                if rows < 0:
                    raise InvalidInput("the number of rows to replay must not be negative")
                due = rows
            stop = min(length, cursor + due)
            if stop == cursor and not (raw["playing"] and stop >= length):
                return Advance(cursor, cursor, StreamState(**raw))
            if stop > cursor:
                self._score(raw, cursor, stop, features(cursor, stop), scorer)
            raw["cursor"] = stop
            if stop >= length:
                raw["playing"] = False  # the stream has ended
            durable = rows is not None or stop >= length or now - raw.get("synced_at", 0.0) >= SYNC_SECONDS
            return Advance(cursor, stop, self._write_state(raw, durable=durable, now=now))

    def _score(self, raw: dict, start: int, stop: int, X: np.ndarray, scorer: Scorer) -> None:
        arrays = self.arrays()
        # Score in bounded batches so a large step never holds huge temporaries.
        for lo in range(start, stop, 50_000):
            hi = min(stop, lo + 50_000)
            batch = X[lo - start : hi - start]
            p, novelty, unknown, version = scorer(batch)
            arrays["proba"][lo:hi] = p
            arrays["novelty"][lo:hi] = novelty
            arrays["unknown"][lo:hi] = unknown
            arrays["status"][lo:hi] = scoring.statuses(p, unknown)
            arrays["version"][lo:hi] = version
            arrays["requested"][lo:hi] = False


def _histogram_layout(train: np.ndarray) -> tuple[list[list[float]], list[list[float]]]:
    """Bin edges per feature from the training range, and the training share per bin.

    Bins cover the central 99% of training values padded by 25% on each side; two
    open-ended bins catch everything below and above, so novel values stay visible.
    """
    edges, baseline = [], []
    for j in range(train.shape[1]):
        col = train[:, j]
        lo, hi = np.quantile(col, [0.005, 0.995])
        pad = 0.25 * (hi - lo) if hi > lo else 1.0
        e = np.linspace(lo - pad, hi + pad, HISTOGRAM_BINS + 1)
        counts = np.bincount(np.searchsorted(e, col, side="right"), minlength=len(e) + 1)
        edges.append(e.tolist())
        baseline.append((counts / max(1, counts.sum())).tolist())
    return edges, baseline
