"""The label store: append-only events, undo as an event, concurrency and crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from hitl_core.errors import InvalidInput
from hitl_core.labels import COMPACT_AFTER, LabelRequest, LabelStore
from tests.conftest import REPO


@pytest.fixture
def store(tmp_path) -> LabelStore:
    s = LabelStore(tmp_path / "labels")
    s.create()
    return s


def test_events_carry_the_contract_fields_and_current_label_is_the_latest(store):
    store.append([LabelRequest(7, "abnormal", "ana", "page", 1, "looks odd")])
    store.append([LabelRequest(7, "normal", "bo", "cli", 1)])
    events = store.events()
    assert list(events.columns) == [
        "event_id",
        "action",
        "point_id",
        "label",
        "undoes",
        "reviewer",
        "created_at",
        "source",
        "model_version",
        "note",
    ]
    assert events["created_at"].dt.tz is not None  # UTC
    assert events.loc[0, "note"] == "looks odd" and events.loc[0, "model_version"] == 1
    assert store.current_map() == {7: "normal"}


def test_undo_is_an_event_and_restores_the_previous_verdict(store):
    store.append([LabelRequest(1, "abnormal", "ana")])
    store.append([LabelRequest(1, "normal", "ana")])
    store.append([LabelRequest(2, "normal", "bo")])
    undo = store.undo_last("ana")
    assert undo.loc[0, "action"] == "undo" and undo.loc[0, "point_id"] == 1
    assert store.current_map() == {1: "abnormal", 2: "normal"}  # ana's earlier verdict is back in force
    assert len(store.events()) == 4  # nothing was removed
    store.undo_last("ana")
    assert store.current_map() == {2: "normal"}
    with pytest.raises(InvalidInput, match="no label to undo"):
        store.undo_last("ana")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (LabelRequest(1, "maybe", "ana"), "normal' or 'abnormal"),
        (LabelRequest(1, "normal", "   "), "reviewer name is required"),
        (LabelRequest(1, "normal", "x" * 81), "longer than"),
        (LabelRequest(1, "normal", "ana\n"), None),  # surrounding whitespace is trimmed, accepted
        (LabelRequest(1, "normal", "a\tb"), "control characters"),
        (LabelRequest(-3, "normal", "ana"), "non-negative"),
        (LabelRequest(1, "normal", "ana", source="email"), "source must be"),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(store, request_, message):
    if message is None:
        store.append([request_])
        assert store.events().loc[0, "reviewer"] == "ana"
        return
    with pytest.raises(InvalidInput, match=message):
        store.append([LabelRequest(2, "normal", "ok"), request_])  # all or nothing
    assert store.events().empty


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from hitl_core.labels import LabelRequest, LabelStore
    store = LabelStore(Path(sys.argv[1]))
    name, count = sys.argv[2], int(sys.argv[3])
    for i in range(count):
        event = store.append([LabelRequest(i, "normal" if i % 2 else "abnormal", name, "api")])
        print(event.loc[0, "event_id"], flush=True)
    """
)


def _writer(root: Path, name: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), name, str(count)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_writing_500_each_end_with_exactly_1000_events(store):
    writers = [_writer(store.root, name, 500) for name in ("w1", "w2")]
    outputs = [w.communicate(timeout=300) for w in writers]
    assert all(w.returncode == 0 for w in writers), [err for _, err in outputs]
    acknowledged = [line for out, _ in outputs for line in out.split()]
    events = store.events()
    assert len(events) == 1000
    assert events["event_id"].is_unique
    assert set(events["event_id"]) == set(acknowledged)
    assert events["reviewer"].value_counts().to_dict() == {"w1": 500, "w2": 500}
    # Compaction ran while both were writing (more than COMPACT_AFTER segments were written).
    assert any(p.name.startswith("compacted-") for p in store.root.iterdir())
    assert len(list(store.segments.glob("*.parquet"))) < COMPACT_AFTER + 2


def test_a_writer_killed_mid_write_leaves_a_store_with_every_completed_event(store):
    writer = _writer(store.root, "doomed", 100_000)
    acknowledged = []
    deadline = time.time() + 120
    while len(acknowledged) < 150 and time.time() < deadline:
        acknowledged.append(writer.stdout.readline().strip())
    writer.send_signal(signal.SIGKILL)  # no chance to clean up, wherever it was
    writer.wait(timeout=30)
    # An interrupted write leaves at most a temporary file; plant one more to be sure.
    (store.segments / ".00000000000000000001-torn.parquet.tmp").write_bytes(b"PAR1\x00\x15 truncated")
    events = LabelStore(store.root).events()  # a fresh reader, as after a restart
    assert len(acknowledged) == 150
    assert set(acknowledged) <= set(events["event_id"])
    assert events["event_id"].is_unique
    # The store keeps working afterwards.
    store.append([LabelRequest(1, "normal", "survivor")])
    assert len(LabelStore(store.root).events()) == len(events) + 1


def test_compaction_interrupted_before_cleanup_neither_loses_nor_duplicates(store):
    for i in range(10):
        store.append([LabelRequest(i, "normal", "ana")])
    segments = {p.name: p.read_bytes() for p in store.segments.glob("*.parquet")}
    assert store.compact() == 10
    # Simulate a crash between writing the compacted file and deleting the segments.
    for name, data in segments.items():
        (store.segments / name).write_bytes(data)
    assert len(LabelStore(store.root).events()) == 10
    store.append([LabelRequest(99, "abnormal", "bo")])
    assert store.compact() == 11
    assert not list(store.segments.glob("*.parquet"))
    assert len(LabelStore(store.root).events()) == 11


def test_reading_is_incremental_and_sees_other_writers(store):
    reader = LabelStore(store.root)
    assert reader.events().empty
    other = LabelStore(store.root)
    other.append([LabelRequest(5, "abnormal", "ana")])
    assert reader.current_map() == {5: "abnormal"}
    other.append([LabelRequest(6, "normal", "ana")])
    assert reader.current_map() == {5: "abnormal", 6: "normal"}


def test_events_are_never_rewritten(store):
    store.append([LabelRequest(1, "normal", "ana")])
    first = {p.name: p.read_bytes() for p in store.segments.glob("*.parquet")}
    store.append([LabelRequest(1, "abnormal", "ana")])
    store.undo_last("ana")
    for name, data in first.items():
        assert (store.segments / name).read_bytes() == data
    assert isinstance(store.events(), pd.DataFrame) and len(store.events()) == 3
    assert os.listdir(store.segments)
