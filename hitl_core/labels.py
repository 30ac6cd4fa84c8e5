"""The label store: append-only expert verdicts, durable and safe under concurrent writers.

Every verdict, and every undo, is an *event*; nothing is rewritten in place. Each
append writes its events as one small parquet *segment* under a unique name (written
to a temporary file, flushed, then renamed), so concurrent writers never touch the
same file and a writer killed mid-write leaves only an ignored temporary file. Once
segments pile up, they are merged into a *compacted* file whose metadata lists the
segments it absorbed; loaders skip those segments, so a crash between writing the
compacted file and deleting the merged segments loses and duplicates nothing.

The current label of a point is derived from the events: its latest label event
that no undo event cancels.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hitl_core.durable import atomic_write_bytes, exclusive
from hitl_core.errors import Busy, InvalidInput, NotReady

LABELS = ("normal", "abnormal")
SOURCES = ("page", "cli", "import", "api")
MAX_REVIEWER_LENGTH = 80
MAX_NOTE_LENGTH = 2_000
#: Segments allowed to accumulate before an append merges them.
COMPACT_AFTER = 256

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("action", pa.string()),
        ("point_id", pa.int64()),
        ("label", pa.string()),
        ("undoes", pa.string()),
        ("reviewer", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("source", pa.string()),
        ("model_version", pa.int32()),
        ("note", pa.string()),
    ]
)
_SEGMENT = re.compile(r"^\d{20}-[0-9a-f]{32}\.parquet$")
_COMPACTED = re.compile(r"^compacted-(\d{8})\.parquet$")
_MANIFEST_KEY = b"hitl.segments"


@dataclass(frozen=True)
class LabelRequest:
    """One verdict to store."""

    point_id: int
    label: str
    reviewer: str
    source: str = "api"
    model_version: int | None = None
    note: str | None = None


def clean_reviewer(reviewer: str | None) -> str:
    """Validate and normalise a reviewer name (stored with every event)."""
    name = (reviewer or "").strip()
    if not name:
        raise InvalidInput("a reviewer name is required: say who is labelling")
    if len(name) > MAX_REVIEWER_LENGTH:
        raise InvalidInput(f"the reviewer name is longer than {MAX_REVIEWER_LENGTH} characters")
    if any(ord(ch) < 32 for ch in name):
        raise InvalidInput("the reviewer name contains control characters")
    return name


def clean_label(label: str | None) -> str:
    value = (label or "").strip().lower()
    if value not in LABELS:
        raise InvalidInput(f"label must be 'normal' or 'abnormal', not {label!r}")
    return value


class LabelStore:
    """Append-only events under ``root`` (a folder of the workspace)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.segments = self.root / "segments"
        self._lock_path = self.root / "compaction.lock"
        self._mutex = threading.Lock()
        self._cache_key: tuple[str | None, frozenset[str]] | None = None
        self._cache: pd.DataFrame | None = None
        self._current: tuple[int, pd.DataFrame] | None = None  # (id of the events frame it came from, frame)

    # -- setup -----------------------------------------------------------------------
    def create(self) -> None:
        self.segments.mkdir(parents=True, exist_ok=True)
        self._lock_path.touch(exist_ok=True)

    @property
    def exists(self) -> bool:
        return self.segments.is_dir()

    # -- writing ---------------------------------------------------------------------
    def append(self, requests: Sequence[LabelRequest]) -> pd.DataFrame:
        """Validate and durably store label events; returns them. All or nothing."""
        rows = []
        for req in requests:
            if req.source not in SOURCES:
                raise InvalidInput(f"source must be one of {', '.join(SOURCES)}")
            note = (req.note or "").strip() or None
            if note and len(note) > MAX_NOTE_LENGTH:
                raise InvalidInput(f"the note is longer than {MAX_NOTE_LENGTH} characters")
            rows.append(
                self._event(
                    "label",
                    int(req.point_id),
                    clean_label(req.label),
                    None,
                    clean_reviewer(req.reviewer),
                    req.source,
                    req.model_version,
                    note,
                )
            )
        return self._write(rows)

    def undo_last(self, reviewer: str, source: str = "api", model_version: int | None = None) -> pd.DataFrame:
        """Cancel ``reviewer``'s most recent label that is still in force."""
        reviewer = clean_reviewer(reviewer)
        # Serialised with compaction so two undos by the same reviewer cannot both
        # target the same event.
        with exclusive(self._lock_path, wait=30, busy_message="the label store is busy; try again"):
            events = self.events()
            live = self._live_labels(events)
            mine = live[live["reviewer"] == reviewer]
            if mine.empty:
                raise InvalidInput(f"{reviewer} has no label to undo")
            last = mine.iloc[-1]
            undo = self._event(
                "undo", int(last["point_id"]), last["label"], last["event_id"], reviewer, source, model_version, None
            )
            return self._write([undo], compact=False)

    def _event(self, action, point_id, label, undoes, reviewer, source, model_version, note) -> dict:
        if point_id < 0:
            raise InvalidInput(f"point id must be non-negative, not {point_id}")
        return {
            "event_id": uuid.uuid4().hex,
            "action": action,
            "point_id": point_id,
            "label": label,
            "undoes": undoes,
            "reviewer": reviewer,
            "created_at": datetime.now(UTC),
            "source": source,
            "model_version": model_version,
            "note": note,
        }

    def _write(self, rows: list[dict], compact: bool = True) -> pd.DataFrame:
        if not self.exists:
            raise NotReady(f"the label store at {self.root} has not been created")
        if not rows:
            return _empty()
        table = pa.Table.from_pylist(rows, schema=SCHEMA)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.parquet"
        atomic_write_bytes(self.segments / name, sink.getvalue().to_pybytes())
        if compact and self._segment_count() >= COMPACT_AFTER:
            with contextlib.suppress(Busy):  # someone else is compacting
                self.compact(wait=0)
        return _to_pandas(table)

    def _segment_count(self) -> int:
        return sum(1 for n in os.listdir(self.segments) if _SEGMENT.match(n))

    # -- compaction ------------------------------------------------------------------
    def compact(self, wait: float = 30) -> int:
        """Merge all segments (and the previous compacted file) into one; returns events kept."""
        with exclusive(self._lock_path, wait=wait, busy_message="another process is compacting the label store"):
            compacted, absorbed = self._latest_compacted()
            segments = sorted(n for n in os.listdir(self.segments) if _SEGMENT.match(n))
            # Leftovers of an interrupted compaction: already inside the compacted file.
            for name in [n for n in segments if n in absorbed]:
                _unlink(self.segments / name)
            fresh = [n for n in segments if n not in absorbed]
            if not fresh:
                return 0 if compacted is None else pq.read_metadata(self.root / compacted).num_rows
            tables = [pq.read_table(self.root / compacted, schema=SCHEMA)] if compacted else []
            tables += [pq.read_table(self.segments / n, schema=SCHEMA) for n in fresh]
            merged = pa.concat_tables(tables).replace_schema_metadata(
                {_MANIFEST_KEY: json.dumps(sorted(set(absorbed) | set(fresh))).encode()}
            )
            seq = 1 + (int(_COMPACTED.match(compacted).group(1)) if compacted else 0)
            sink = pa.BufferOutputStream()
            pq.write_table(merged, sink, compression="zstd")
            atomic_write_bytes(self.root / f"compacted-{seq:08d}.parquet", sink.getvalue().to_pybytes())
            if compacted:
                _unlink(self.root / compacted)
            for name in fresh:
                _unlink(self.segments / name)
            self._clean_temporaries()
            return merged.num_rows

    def _clean_temporaries(self, older_than: float = 3600) -> None:
        now = time.time()
        for folder in (self.root, self.segments):
            for entry in os.scandir(folder):
                if entry.name.endswith(".tmp") and now - entry.stat().st_mtime > older_than:
                    _unlink(Path(entry.path))

    def _latest_compacted(self) -> tuple[str | None, frozenset[str]]:
        names = sorted(n for n in os.listdir(self.root) if _COMPACTED.match(n))
        if not names:
            return None, frozenset()
        meta = pq.read_schema(self.root / names[-1]).metadata or {}
        return names[-1], frozenset(json.loads(meta.get(_MANIFEST_KEY, b"[]")))

    # -- reading ---------------------------------------------------------------------
    def events(self) -> pd.DataFrame:
        """All events, oldest first (a copy)."""
        return self._events().copy()

    def _events(self) -> pd.DataFrame:
        if not self.exists:
            return _empty()
        with self._mutex:
            for _ in range(5):
                try:
                    return self._load()
                except FileNotFoundError:
                    continue  # a compaction removed a segment under us; list again
            raise Busy("the label store kept changing while being read; try again")

    def _load(self) -> pd.DataFrame:
        compacted, absorbed = self._latest_compacted()
        names = frozenset(n for n in os.listdir(self.segments) if _SEGMENT.match(n) and n not in absorbed)
        key = (compacted, names)
        if self._cache is not None and self._cache_key is not None and self._cache_key[0] == compacted:
            # Segments only ever disappear into a new compacted file (a new key above) or
            # with the whole store (a re-initialised workspace): any other change of the
            # listing than new segments means the cache is stale.
            new = sorted(names - self._cache_key[1])
            if names == self._cache_key[1]:
                return self._cache
            if names > self._cache_key[1]:
                frames = [self._cache] + [_read(self.segments / n) for n in new]
                return self._remember(key, frames)
        frames = [_read(self.root / compacted)] if compacted else []
        frames += [_read(self.segments / n) for n in sorted(names)]
        return self._remember(key, frames)

    def _remember(self, key, frames: list[pd.DataFrame]) -> pd.DataFrame:
        frames = [f for f in frames if not f.empty]
        events = pd.concat(frames, ignore_index=True) if frames else _empty()
        events = events.drop_duplicates("event_id").sort_values(["created_at", "event_id"], kind="stable")
        events = events.reset_index(drop=True)
        self._cache_key, self._cache = key, events
        return events

    @staticmethod
    def _live_labels(events: pd.DataFrame) -> pd.DataFrame:
        undone = set(events.loc[events["action"] == "undo", "undoes"])
        return events[(events["action"] == "label") & ~events["event_id"].isin(undone)]

    def current(self) -> pd.DataFrame:
        """The label in force for each labelled point: one row per point, latest verdict (a copy)."""
        events = self._events()
        with self._mutex:
            if self._current is None or self._current[0] != id(events):
                live = self._live_labels(events)
                frame = live.drop_duplicates("point_id", keep="last").sort_values("point_id").reset_index(drop=True)
                self._current = (id(events), frame)
            return self._current[1].copy()

    def current_map(self) -> dict[int, str]:
        cur = self.current()
        return dict(zip(cur["point_id"].astype(int), cur["label"], strict=True))


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas(types_mapper={pa.int32(): pd.Int32Dtype()}.get)


def _read(path: Path) -> pd.DataFrame:
    return _to_pandas(pq.read_table(path, schema=SCHEMA))


def _empty() -> pd.DataFrame:
    return _to_pandas(SCHEMA.empty_table())


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
