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
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
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
    invalid: str = "refuse"  # rows with missing/infinite values: "refuse" the file or "drop" them
    dropped_rows: int = 0
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


INVALID_POLICIES = ("refuse", "drop")


def prepare(frame: pd.DataFrame, spec: DatasetSpec) -> PreparedDataset:
    """Validate ``frame`` against ``spec`` and build the prepared dataset.

    Raises :class:`InvalidInput` naming the column (and data row, counted from 1) at
    fault. Rows with missing or infinite values refuse the whole table unless
    ``spec.invalid == "drop"``, which drops them and records how many. Nothing is
    written here.
    """
    if spec.invalid not in INVALID_POLICIES:
        raise InvalidInput(f"invalid-row policy must be one of {', '.join(INVALID_POLICIES)}")
    if not 0.1 <= spec.base_fraction <= 0.95:
        raise InvalidInput(f"the base fraction must lie between 0.1 and 0.95, not {spec.base_fraction}")
    if frame.empty:
        raise InvalidInput("the table has no rows")
    columns = [str(c) for c in frame.columns]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise InvalidInput(f"duplicate column name(s): {', '.join(duplicated)}")
    frame = frame.set_axis(columns, axis=1).reset_index(drop=True)
    wanted = list(spec.features) + [c for c in (spec.label, spec.time) if c]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise InvalidInput(f"column(s) {', '.join(missing)} not found; the table has: {_listing(frame.columns)}")
    overlap = set(spec.features) & {spec.label, spec.time}
    if overlap:
        raise InvalidInput(f"{', '.join(sorted(overlap))} cannot be both a feature and the label/time column")
    if spec.label and spec.label == spec.time:
        raise InvalidInput(f"{spec.label} cannot be both the label and the time column")

    X = np.column_stack([_numeric_feature(frame[c], c) for c in spec.features])
    bad = ~np.isfinite(X)
    problems = [(c, bad[:, j]) for j, c in enumerate(spec.features)]
    t = _numeric_time(frame[spec.time], spec.time) if spec.time else np.arange(len(frame), dtype=np.float64)
    problems.append((spec.time, ~np.isfinite(t)))
    if spec.label:
        problems.append((spec.label, frame[spec.label].isna().to_numpy()))
    invalid = np.zeros(len(frame), dtype=bool)
    for _, mask in problems:
        invalid |= mask
    dropped = 0
    if invalid.any():
        if spec.invalid == "refuse":
            column, mask = next((c, m) for c, m in problems if m.any())
            row = int(np.flatnonzero(mask)[0])
            what = "missing" if spec.label == column else "missing or infinite"
            raise InvalidInput(
                f"column {column!r} has {int(mask.sum())} {what} value(s), first at data row {row + 1}; "
                f"{int(invalid.sum())} row(s) in all are incomplete. The file was refused: "
                "choose to drop incomplete rows (--drop-invalid) to load the rest"
            )
        keep = ~invalid
        dropped = int(invalid.sum())
        frame, X, t = frame[keep].reset_index(drop=True), X[keep], t[keep]
        spec = replace(spec, dropped_rows=dropped)
    if len(frame) == 0:
        raise InvalidInput("no complete rows are left after dropping the incomplete ones")

    order = np.argsort(t, kind="stable")
    frame, X, t = frame.iloc[order].reset_index(drop=True), X[order], t[order]
    y = _binary_labels(frame[spec.label], spec.label, spec.positive) if spec.label else np.full(len(frame), -1, np.int8)
    extra = frame[[c for c in frame.columns if c not in wanted]].copy() if spec.extra.get("keep_extra") else None
    prepared = PreparedDataset(spec, X, y, t, extra)
    if prepared.n_train < MIN_TRAIN_ROWS:
        raise InvalidInput(
            f"only {prepared.n_train} rows would be used for training (of {len(frame)} usable rows"
            + (f", after dropping {dropped}" if dropped else "")
            + f"); at least {MIN_TRAIN_ROWS} are needed"
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
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(np.float64, na_value=np.nan)
    text = series.astype("string").str.strip()
    values = pd.to_numeric(text.replace({"": pd.NA}), errors="coerce")
    lowered = text.str.lower()
    spelled = lowered.isin(["inf", "+inf", "-inf", "infinity", "-infinity", "nan"])
    bad = values.isna() & text.notna() & (text != "") & ~spelled
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidInput(
            f"column {name!r} is not numeric: data row {row + 1} holds {series.iloc[row]!r} "
            f"({int(bad.sum())} non-numeric value(s) in all)"
        )
    return pd.to_numeric(text, errors="coerce").to_numpy(np.float64, na_value=np.nan)


def _numeric_time(series: pd.Series, name: str) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.astype("int64").to_numpy(np.float64) / 1e9
        values[series.isna().to_numpy()] = np.nan
        return values
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(np.float64, na_value=np.nan)
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().sum() >= series.notna().sum():
        return numeric.to_numpy(np.float64, na_value=np.nan)
    parsed = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
    unparsed = parsed.isna() & series.notna()
    if unparsed.any():
        row = int(np.flatnonzero(unparsed.to_numpy())[0])
        raise InvalidInput(
            f"time column {name!r} is neither numeric nor a date: data row {row + 1} holds {series.iloc[row]!r}"
        )
    values = parsed.astype("int64").to_numpy(np.float64) / 1e9
    values[parsed.isna().to_numpy()] = np.nan
    return values


def _binary_labels(series: pd.Series, name: str, positive: str | None) -> np.ndarray:
    values = series.astype(str).str.strip()
    if pd.api.types.is_float_dtype(series) and (series.dropna() % 1 == 0).all():
        values = series.astype("Int64").astype(str)  # 1.0 -> "1"
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


DEFAULT = "<default>"  # "use the dataset's own choice" for the label and time columns
KAGGLE_FEATURES = (*tuple(f"V{i}" for i in range(1, 29)), "Amount")


@dataclass(frozen=True)
class Builtin:
    """A dataset the product knows by name."""

    name: str
    description: str
    features: tuple[str, ...] | None  # None: every numeric column but the label and time
    label: str | None
    time: str | None
    positive: str | None = None
    required: tuple[str, ...] = ()
    needs_file: bool = False
    all_features: tuple[str, ...] | None = None  # what `--features all` means


BUILTINS: dict[str, Builtin] = {
    "demo": Builtin(
        "demo",
        "Generated credit-card-like transactions with the two planted clusters of the reference scenario.",
        ("V4", "V14"),
        "Class",
        "Time",
        all_features=("V4", "V14", "Amount"),
    ),
    "creditcard": Builtin(
        "creditcard",
        "The Kaggle / ULB credit-card fraud data (Time, V1..V28, Amount, Class) from a CSV, gzipped CSV or "
        "parquet file, or from OpenML (data id 1597) with --data openml.",
        ("V4", "V14"),
        "Class",
        "Time",
        positive="1",
        required=("Time", "Class"),
        needs_file=True,
        all_features=KAGGLE_FEATURES,
    ),
    "breast_cancer": Builtin(
        "breast_cancer",
        "The UCI breast-cancer diagnostic set shipped with scikit-learn (569 rows, 30 features; malignant = abnormal).",
        None,
        "diagnosis",
        None,
        positive="malignant",
    ),
    "table": Builtin(
        "table",
        "Any CSV, gzipped CSV or parquet table with numeric feature columns and, optionally, a two-valued label "
        "column (without one the workspace runs detector-only until experts have labelled enough points).",
        None,
        None,
        None,
        needs_file=True,
    ),
}


def read_source(paths: Paths, builtin: Builtin, data: str | Path | None) -> tuple[pd.DataFrame, str]:
    from hitl_core import openml, tables  # local: tables pulls in the CSV machinery only when needed

    if builtin.name == "demo":
        if data is not None:
            raise InvalidInput("the demo dataset is generated; it takes no data file")
        if not paths.demo_file.exists():
            demo.write(paths.demo_file)
        return pd.read_parquet(paths.demo_file), str(paths.demo_file)
    if builtin.name == "breast_cancer":
        if data is not None:
            raise InvalidInput("the breast_cancer dataset ships with scikit-learn; it takes no data file")
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer(as_frame=True)
        frame = bunch.data.copy()
        frame["diagnosis"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
        return frame, "scikit-learn load_breast_cancer()"
    if data is None:
        raise InvalidInput(f"the {builtin.name} dataset needs a data file: pass --data PATH")
    if builtin.name == "creditcard" and str(data).lower() in ("openml", "openml:1597"):
        return openml.load_creditcard(paths.openml_cache), "OpenML data id 1597"
    return tables.read_table(data), str(Path(data).resolve())


def load(
    paths: Paths,
    name: str = "demo",
    data: str | Path | None = None,
    features: Sequence[str] | str | None = None,
    label: str | None = DEFAULT,
    time: str | None = DEFAULT,
    positive: str | None = None,
    invalid: str = "refuse",
    base_fraction: float | None = None,
    upload: tuple[str, bytes] | None = None,
) -> PreparedDataset:
    """Load, validate and prepare a dataset; writes nothing but the generated demo.

    ``upload`` = (file name, bytes) reads an uploaded file instead of ``data``.
    ``label``/``time`` = None mean "no label column" / "file order".
    """
    if name not in BUILTINS:
        raise InvalidInput(f"unknown dataset {name!r}; choose one of: {', '.join(BUILTINS)}")
    builtin = BUILTINS[name]
    if upload is not None:
        if not builtin.needs_file:
            raise InvalidInput(f"the {name} dataset is built in; it takes no uploaded file")
        from hitl_core import tables

        frame, source = tables.read_table(upload[1], upload[0]), f"upload: {upload[0]}"
    else:
        frame, source = read_source(paths, builtin, data)
    frame = frame.set_axis([str(c).strip() for c in frame.columns], axis=1)
    missing = [c for c in builtin.required if c not in frame.columns]
    if missing:
        raise InvalidInput(
            f"this is not the {name} layout: required column(s) {', '.join(missing)} missing; "
            f"the table has: {_listing(frame.columns)}"
        )
    label = builtin.label if label == DEFAULT else (label or None)
    time = builtin.time if time == DEFAULT else (time or None)
    choice = choose_features(frame, label, time)
    if isinstance(features, str) and features.strip().lower() == "all":
        chosen, origin = builtin.all_features or choice.offered, "all"
    elif features is None:
        chosen, origin = (builtin.features, "dataset") if builtin.features else (choice.features, "inferred")
    else:
        chosen, origin = parse_features(features), "given"
    if not chosen:
        reasons = "; ".join(f"{c}: {r}" for c, r in choice.left_out.items())
        raise InvalidInput(
            "no column can be a feature by default"
            + (f" ({_shorten(reasons)})" if reasons else "")
            + "; name the features with --features"
        )
    spec = DatasetSpec(
        name=name,
        features=tuple(chosen),
        label=label,
        time=time,
        source=source,
        positive=positive if positive is not None else builtin.positive if label == builtin.label else None,
        base_fraction=BASE_FRACTION if base_fraction is None else float(base_fraction),
        invalid=invalid,
        extra={
            "keep_extra": name == "demo",
            "features_from": origin,
            "left_out": {c: r for c, r in choice.left_out.items() if c not in chosen},
        },
    )
    return prepare(frame, spec)


#: Column names (or name parts) that mark a time column: never a default feature.
TIME_WORDS = frozenset({"time", "timestamp", "datetime", "date", "ts"})
#: Column names (or name parts) that, with exactly two values, mark a label column.
LABEL_WORDS = frozenset({"class", "label", "target", "fraud", "isfraud", "y", "outcome"})

LABEL_COLUMN = "label column"
TIME_COLUMN = "time column"
NOT_NUMERIC = "not numeric"
NO_VALUES = "no values (every cell is empty)"
NAMED_LIKE_TIME = "looks like a time column (named like one)"
NEVER_DECREASES = "looks like a time column (its values never decrease)"
LOOKS_LIKE_LABEL = "looks like a label (two values, named like one)"


@dataclass(frozen=True)
class FeatureChoice:
    """The default features of a table, what could be a feature, and why the rest is left out.

    ``offered`` are the numeric columns other than the label and time columns: any of
    them may be chosen explicitly. ``features`` are those a user gets without
    choosing: ``offered`` minus the columns that look like a time or a label column
    (a raw time column makes every later row look novel; a label column leaks the
    answer). ``left_out`` maps every other column to the reason, in table order.
    """

    features: tuple[str, ...]
    offered: tuple[str, ...]
    left_out: dict[str, str]


def choose_features(frame: pd.DataFrame, label: str | None = None, time: str | None = None) -> FeatureChoice:
    """The default features of ``frame`` given its label and time columns (None: none).

    >>> frame = pd.DataFrame({"Time": [0, 5, 9], "V1": [3.0, 1.0, 2.0], "Class": [0, 1, 0], "who": list("abc")})
    >>> choice = choose_features(frame)
    >>> choice.features, choice.offered
    (('V1',), ('Time', 'V1', 'Class'))
    >>> choice.left_out["Time"], choice.left_out["Class"], choice.left_out["who"]
    ('looks like a time column (named like one)', 'looks like a label (two values, named like one)', 'not numeric')
    >>> choose_features(frame, label="Class", time="Time").left_out["Class"]
    'label column'
    """
    features, offered, left_out = [], [], {}
    for column in frame.columns:
        series = frame[column]
        name = str(column)
        if name == label:
            left_out[name] = LABEL_COLUMN
        elif name == time:
            left_out[name] = TIME_COLUMN
        elif series.isna().all():
            left_out[name] = NO_VALUES
        elif not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            left_out[name] = NOT_NUMERIC
        else:
            offered.append(name)
            reason = _looks_like(name, series)
            if reason:
                left_out[name] = reason
            else:
                features.append(name)
    return FeatureChoice(tuple(features), tuple(offered), left_out)


def _looks_like(name: str, series: pd.Series) -> str | None:
    """Why a numeric column should not be a default feature, or None."""
    words = _name_words(name)
    if words & TIME_WORDS:
        return NAMED_LIKE_TIME
    if words & LABEL_WORDS and series.nunique(dropna=True) == 2:
        return LOOKS_LIKE_LABEL
    if len(series) > 1 and series.is_monotonic_increasing and series.iloc[-1] > series.iloc[0]:
        return NEVER_DECREASES
    return None


def _name_words(name: str) -> set[str]:
    """``"is_fraud"`` -> {"is_fraud", "is", "fraud", "isfraud"}; camelCase splits too."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.strip())
    parts = [p for p in re.split(r"[^a-z0-9]+", spaced.lower()) if p]
    return {name.strip().lower(), "".join(parts), *parts}


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
