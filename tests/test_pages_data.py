"""The Data page with uploaded tables, driven by AppTest from Home.py: default columns,
what is left out and why, choices per file, why Initialise is unavailable, class words."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from hitl_app.state import StateKeys
from hitl_core import Workspace
from tests.conftest import REPO

TIMEOUT = 120


def _app() -> AppTest:
    return AppTest.from_file(str(REPO / "Home.py"), default_timeout=TIMEOUT)


def _captions(at: AppTest) -> str:
    return "\n".join(str(c.value) for c in at.caption)


def _table(rows: int = 400, seed: int = 0, label: str = "Class", values=(0, 1)) -> pd.DataFrame:
    """Time (increasing), three numeric features, a two-valued label, a text column."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "Time": np.arange(rows) * 7,
            "V1": rng.normal(size=rows).round(4),
            "V2": rng.normal(size=rows).round(4),
            "Amount": rng.gamma(2.0, 30.0, size=rows).round(2),
            label: np.where(rng.random(rows) < 0.2, values[1], values[0]),
            "merchant": rng.choice(["shop", "cafe", "fuel"], size=rows),
        }
    )


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key=StateKeys.DATA_UPLOAD).set_value((name, data, "text/csv"))
    return at.run()


def _features(at: AppTest) -> list[str]:
    return list(at.multiselect[0].value)


def _selectbox(at: AppTest, label_start: str):
    return next(s for s in at.selectbox if s.label.startswith(label_start))


@pytest.fixture
def table_page(ws: Workspace) -> AppTest:
    """The Data page of a demo workspace, with "Any table" picked and nothing uploaded yet."""
    at = _app()
    at.switch_page("app_pages/data.py").run()
    at.radio(key=StateKeys.DATA_SOURCE).set_value("table").run()
    assert not at.exception, at.exception
    return at


def test_upload_defaults_leave_out_label_time_and_text_columns_and_say_why(table_page: AppTest):
    at = _upload(table_page, "mine.csv", _csv(_table()))
    assert not at.exception, at.exception
    assert _features(at) == ["V1", "V2", "Amount"]  # not Time, not Class: the label would leak
    captions = _captions(at)
    assert "Time — looks like a time column" in captions
    assert "Class — looks like a label" in captions
    assert "merchant — not numeric" in captions

    _selectbox(at, "Label column").set_value("Class").run()
    assert _features(at) == ["V1", "V2", "Amount"]
    assert "Class — label column" in _captions(at)
    _selectbox(at, "Time column").set_value("Time").run()
    assert "Time — time column" in _captions(at)
    # The label moved to a column that was a feature: it is a feature no more.
    _selectbox(at, "Label column").set_value("Amount").run()
    assert not at.exception, at.exception
    assert _features(at) == ["V1", "V2"]
    assert "Amount — label column" in _captions(at)
    assert "Amount" not in at.multiselect[0].options


def test_choices_do_not_carry_over_to_the_next_file(table_page: AppTest):
    first = _table(seed=1)
    at = _upload(table_page, "mine.csv", _csv(first))
    _selectbox(at, "Label column").set_value("V1").run()
    at.multiselect[0].set_value(["V2"]).run()
    assert _features(at) == ["V2"]

    # Same name, same size, other content: a different file all the same.
    second = first.assign(V2=first["V2"].to_numpy()[::-1])
    assert len(_csv(second)) == len(_csv(first)) and _csv(second) != _csv(first)
    at = _upload(at, "mine.csv", _csv(second))
    assert not at.exception, at.exception
    assert _selectbox(at, "Label column").value == "(none)"
    assert _features(at) == ["V1", "V2", "Amount"]
    preview = at.dataframe[0].value
    assert preview["V2"].tolist()[:5] == second["V2"].tolist()[:5]  # the new file's rows, not the old preview
    stale = [k for k in at.session_state if str(k).startswith(StateKeys.DATA_CHOICES) and str(k).endswith("_label")]
    assert len(stale) == 1  # the first file's choices are gone


def test_a_disabled_initialise_button_says_why(table_page: AppTest):
    at = _upload(table_page, "mine.csv", _csv(_table()))
    button = at.button(key=StateKeys.DATA_INIT)
    assert button.disabled
    assert "tick “Replace the current workspace”" in button.help
    assert "Initialise is unavailable: tick “Replace the current workspace” above." in _captions(at)

    at.multiselect[0].set_value([]).run()
    assert "choose at least one feature and tick" in at.button(key=StateKeys.DATA_INIT).help
    at.checkbox(key=StateKeys.DATA_CONFIRM).check().run()
    assert at.button(key=StateKeys.DATA_INIT).disabled
    assert "Initialise is unavailable: choose at least one feature." in _captions(at)

    at.multiselect[0].set_value(["V1"]).run()
    assert not at.button(key=StateKeys.DATA_INIT).disabled
    assert "Initialise is unavailable" not in _captions(at)


def test_the_page_uses_the_datasets_own_class_words(table_page: AppTest, ws: Workspace):
    assert "classes: normal and fraud" in _captions(table_page)  # the demo
    frame = _table(label="status", values=("ok", "chargeback"))
    at = _upload(table_page, "mine.csv", _csv(frame))
    _selectbox(at, "Label column").set_value("status").run()
    assert _selectbox(at, "Value meaning abnormal").value == "ok"  # the larger text value is the default
    _selectbox(at, "Value meaning abnormal").set_value("chargeback").run()
    assert "call the two classes *normal* and *chargeback*" in _captions(at)
    assert "fraud" not in _captions(at).split("classes: normal and fraud", 1)[1]

    at.checkbox(key=StateKeys.DATA_CONFIRM).check().run()
    at.button(key=StateKeys.DATA_INIT).click().run()
    assert not at.exception, at.exception
    assert Workspace(ws.paths.home).spec["dataset"]["positive"] == "chargeback"
    assert "classes: normal and chargeback" in _captions(at)
