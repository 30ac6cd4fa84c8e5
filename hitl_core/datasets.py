"""Datasets: the registry of built-in sets, validation, and the prepared table.

A workspace works on one *prepared* dataset: rows in replay order (by the time column
when there is one, else file order, stable), each with a stable ``point_id`` equal to
its position, the chosen numeric features, and a binary label (1 = abnormal,
0 = normal, -1 = not known). Rows split by position into three contiguous parts:

* ``train``   — the earliest rows; version 1 is trained on them;
* ``holdout`` — the latest share of the base data; every version is evaluated on it;
* ``stream``  — everything after the base data; replayed and scored live.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hitl_core import demo
from hitl_core.config import BASE_FRACTION, HOLDOUT_FRACTION, Paths
from hitl_core.durable import atomic_write_bytes
from hitl_core.errors import InvalidInput

#: Fewest rows in the training part for a usable model.
MIN_TRAIN_ROWS = 50
#: Fewest rows in the stream for something to replay.
MIN_STREAM_ROWS = 10


@dataclass(frozen=True)
class DatasetSpec:
    """What a workspace's data is and how it is cut. Stored in ``workspace.json``."""

    name: str
    features: tuple[str, ...]
    label: str | None
    time: str | None
    source: str
    positive: str | None = None  # label value meaning "abnormal", as text; None = the larger of two
    base_fraction: float = BASE_FRACTION
    holdout_fraction: float = HOLDOUT_FRACTION
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        out["features"] = list(self.features)
        return out

    @classmethod
    def from_json(cls, obj: dict) -> DatasetSpec:
        obj = dict(obj)
        obj["features"] = tuple(obj["features"])
        return cls(**obj)


class PreparedDataset:
    """The workspace's rows as arrays, in replay order. Immutable once built."""

    def __init__(
        self,
        spec: DatasetSpec,
        features: np.ndarray,
        labels: np.ndarray,
        time: np.ndarray,
        extra: pd.DataFrame | None = None,
    ) -> None:
        self.spec = spec
        self.X = np.ascontiguousarray(features, dtype=np.float64)
        self.y = np.asarray(labels, dtype=np.int8)
        self.time = np.asarray(time, dtype=np.float64)
        self.extra = extra if extra is not None else pd.DataFrame(index=range(len(self.y)))
        n = len(self.y)
        self.n_base = round(n * spec.base_fraction)
        self.n_train = self.n_base - round(self.n_base * spec.holdout_fraction)
        for arr in (self.X, self.y, self.time):
            arr.setflags(write=False)
        self.fingerprint = _fingerprint(spec.features, self.X, self.y, self.time)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def features(self) -> tuple[str, ...]:
        return self.spec.features

    @property
    def has_labels(self) -> bool:
        """Whether the base data carries a known label on (almost) every row."""
        return bool((self.y[: self.n_base] >= 0).all())

    @property
    def train(self) -> slice:
        return slice(0, self.n_train)

    @property
    def holdout(self) -> slice:
        return slice(self.n_train, self.n_base)

    @property
    def stream_len(self) -> int:
        return len(self) - self.n_base

    def stream_point_id(self, position: int | np.ndarray) -> int | np.ndarray:
        return self.n_base + position

    def stream_position(self, point_id: int | np.ndarray) -> int | np.ndarray:
        return point_id - self.n_base

    def role_of(self, point_id: int) -> str:
        if not 0 <= point_id < len(self):
            return "missing"
        if point_id < self.n_train:
            return "train"
        if point_id < self.n_base:
            return "holdout"
        return "stream"

    def rows(self, point_ids: Sequence[int] | np.ndarray) -> pd.DataFrame:
        """A display frame (point_id, time, features, true label) for the given points."""
        ids = np.asarray(point_ids, dtype=np.int64)
        frame = pd.DataFrame(self.X[ids], columns=list(self.features))
        frame.insert(0, "time", self.time[ids])
        frame.insert(0, "point_id", ids)
        frame["true_label"] = pd.Series(self.y[ids]).map({1: "abnormal", 0: "normal", -1: None})
        return frame

    # -- persistence -----------------------------------------------------------------
    def to_parquet_bytes(self) -> bytes:
        frame = pd.DataFrame(self.X, columns=list(self.features))
        frame.insert(0, "__time", self.time)
        frame["__label"] = self.y
        for column in self.extra.columns:
            frame[f"__extra_{column}"] = self.extra[column].to_numpy()
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()

    @classmethod
    def from_parquet(cls, path: Path, spec: DatasetSpec) -> PreparedDataset:
        frame = pd.read_parquet(path)
        extra_cols = [c for c in frame.columns if c.startswith("__extra_")]
        extra = frame[extra_cols].rename(columns=lambda c: c.removeprefix("__extra_"))
        return cls(
            spec,
            frame[list(spec.features)].to_numpy(np.float64),
            frame["__label"].to_numpy(np.int8),
            frame["__time"].to_numpy(np.float64),
            extra.reset_index(drop=True),
        )

    def save(self, path: Path) -> None:
        atomic_write_bytes(path, self.to_parquet_bytes())


def _fingerprint(features: Sequence[str], *arrays: np.ndarray) -> str:
    digest = hashlib.sha256("\x1f".join(features).encode())
    for arr in arrays:
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


# -- validation and preparation ----------------------------------------------------------


def parse_features(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Turn ``"V4, V14"`` (or a list) into a tuple of names; ``None`` stays ``None``."""
    if text is None:
        return None
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    if not names:
        raise InvalidInput("the feature list is empty: name at least one numeric column")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"the feature list names {', '.join(duplicates)} more than once")
    return tuple(names)


def prepare(frame: pd.DataFrame, spec: DatasetSpec) -> PreparedDataset:
    """Validate ``frame`` against ``spec`` and build the prepared dataset.

    Raises :class:`InvalidInput` naming the column (and row) at fault. Nothing is
    written here.
    """
    if frame.empty:
        raise InvalidInput("the table has no rows")
    columns = [str(c) for c in frame.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise InvalidInput(f"duplicate column name(s): {', '.join(duplicated)}")
    frame = frame.set_axis(columns, axis=1)
    wanted = list(spec.features) + [c for c in (spec.label, spec.time) if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InvalidInput(f"column(s) {', '.join(missing)} not found; the table has: {_listing(frame.columns)}")
    overlap = set(spec.features) & {spec.label, spec.time}
    if overlap:
        raise InvalidInput(f"{', '.join(sorted(overlap - {None}))} cannot be both a feature and the label/time column")

    if spec.time:
        t = _numeric_time(frame[spec.time], spec.time)
        order = np.argsort(t, kind="stable")
    else:
        t = np.arange(len(frame), dtype=np.float64)
        order = np.arange(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    t = t[order]

    X = np.column_stack([_numeric_feature(frame[c], c) for c in spec.features])
    y = _binary_labels(frame[spec.label], spec.label, spec.positive) if spec.label else np.full(len(frame), -1, np.int8)
    extra = frame[[c for c in frame.columns if c not in wanted]].copy() if spec.extra.get("keep_extra") else None
    prepared = PreparedDataset(spec, X, y, t, extra)
    if prepared.n_train < MIN_TRAIN_ROWS:
        raise InvalidInput(
            f"only {prepared.n_train} rows would be used for training (of {len(frame)} in all); "
            f"at least {MIN_TRAIN_ROWS} are needed"
        )
    if prepared.stream_len < MIN_STREAM_ROWS:
        raise InvalidInput(
            f"only {prepared.stream_len} rows would be left to replay; at least {MIN_STREAM_ROWS} are needed"
        )
    if spec.label:
        base = prepared.y[: prepared.n_train]
        if len(np.unique(base)) < 2:
            raise InvalidInput(
                f"the training part (first {prepared.n_train} rows) holds only one class of {spec.label!r}; "
                "both normal and abnormal examples are needed"
            )
    return prepared


def _listing(columns: Sequence[str], limit: int = 12) -> str:
    names = [str(c) for c in columns]
    return ", ".join(names[:limit]) + (f", … ({len(names)} in all)" if len(names) > limit else "")


def _numeric_feature(series: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(series):
        return series.to_numpy(np.float64)
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidInput(f"column {name!r} is not numeric: row {row} holds {series.iloc[row]!r}")
    arr = values.to_numpy(np.float64)
    not_finite = ~np.isfinite(arr)
    if not_finite.any():
        row = int(np.flatnonzero(not_finite)[0])
        raise InvalidInput(
            f"column {name!r} has {int(not_finite.sum())} missing or infinite value(s), "
            f"first at row {row} ({arr[row]!r})"
        )
    return arr


def _numeric_time(series: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.astype("int64").to_numpy(np.float64) / 1e9
    else:
        values = pd.to_numeric(series, errors="coerce").to_numpy(np.float64)
        if np.isnan(values).any():
            parsed = pd.to_datetime(series, errors="coerce", utc=True)
            if parsed.isna().any():
                row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
                raise InvalidInput(
                    f"time column {name!r} is neither numeric nor a date: row {row} holds {series.iloc[row]!r}"
                )
            values = parsed.astype("int64").to_numpy(np.float64) / 1e9
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values))[0])
        raise InvalidInput(f"time column {name!r} has a missing or infinite value at row {row}")
    return values


def _binary_labels(series: pd.Series, name: str, positive: str | None) -> np.ndarray:
    if series.isna().any():
        row = int(np.flatnonzero(series.isna().to_numpy())[0])
        raise InvalidInput(f"label column {name!r} is empty at row {row}")
    values = series.astype(str).str.strip()
    distinct = sorted(values.unique(), key=_label_sort_key)
    if len(distinct) != 2:
        shown = ", ".join(repr(v) for v in distinct[:6]) + (" …" if len(distinct) > 6 else "")
        raise InvalidInput(f"label column {name!r} must hold exactly two values; it holds {len(distinct)}: {shown}")
    if positive is None:
        positive = distinct[1]
    elif positive not in distinct:
        raise InvalidInput(
            f"label column {name!r} has no value {positive!r}; it holds {distinct[0]!r} and {distinct[1]!r}"
        )
    return (values == positive).to_numpy(np.int8)


def _label_sort_key(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


# -- built-in datasets -----------------------------------------------------------------


@dataclass(frozen=True)
class Builtin:
    """A dataset the product knows by name."""

    name: str
    description: str
    load: Callable[[Paths, Path | None], tuple[pd.DataFrame, str]]
    features: tuple[str, ...]
    label: str | None
    time: str | None
    positive: str | None = None


def _load_demo(paths: Paths, data: Path | None) -> tuple[pd.DataFrame, str]:
    if data is not None:
        raise InvalidInput("the demo dataset is generated; it takes no --data file")
    if not paths.demo_file.exists():
        demo.write(paths.demo_file)
    return pd.read_parquet(paths.demo_file), str(paths.demo_file)


BUILTINS: dict[str, Builtin] = {
    "demo": Builtin(
        "demo",
        "Generated credit-card-like transactions with the two planted clusters of the reference scenario.",
        _load_demo,
        ("V4", "V14"),
        "Class",
        "Time",
    ),
}


def load(
    paths: Paths,
    name: str = "demo",
    data: Path | None = None,
    features: Sequence[str] | None = None,
) -> PreparedDataset:
    """Load, validate and prepare a named dataset. Writes only generated demo data."""
    if name not in BUILTINS:
        raise InvalidInput(f"unknown dataset {name!r}; choose one of: {', '.join(BUILTINS)}")
    builtin = BUILTINS[name]
    frame, source = builtin.load(paths, data)
    spec = DatasetSpec(
        name=name,
        features=tuple(features) if features else builtin.features,
        label=builtin.label,
        time=builtin.time,
        source=source,
        positive=builtin.positive,
        extra={"keep_extra": name == "demo"},
    )
    return prepare(frame, spec)
