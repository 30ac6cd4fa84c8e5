"""Shared resources and small helpers for the pages."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager

import streamlit as st

from hitl_app.state import StateKeys
from hitl_core import HitlError, Workspace
from hitl_core.config import workspace_home


@st.cache_resource(show_spinner=False)
def _workspace(home: str) -> Workspace:
    # Re-scoring after a promotion or rollback runs in the background: the Monitor stays live.
    return Workspace(home, rescore_in_background=True)


def workspace() -> Workspace:
    """The process-wide workspace for ``HITL_HOME`` (shared by every session)."""
    return _workspace(str(workspace_home(os.environ.get("HITL_HOME"))))


def ensure_ready(ws: Workspace) -> None:
    """First start: generate the demo and train version 1, showing progress.

    The setup runs on a background thread of the server (:meth:`Workspace.start_setup`),
    not in this session's script run: it finishes, exactly once, even when this tab is
    closed, and every tab that connects meanwhile watches the same progress.
    """
    if ws.ready:
        return
    job = ws.start_setup()
    placeholder = st.empty()
    with placeholder.status(
        "Setting up the workspace: generating the demo data and training version 1…", expanded=True
    ) as box:
        bar = st.progress(0.0, text="Starting…")
        while job is not None and not job.wait(0.25):
            fraction, message = job.progress
            bar.progress(fraction, text=message)
        error = job.error if job is not None else None
        if error is not None:
            box.update(label="Setting up the workspace failed", state="error")
            reason = str(error) if isinstance(error, HitlError) else f"{type(error).__name__}: {error}"
            st.error(f"Setting up the workspace failed: {reason}. Reload the page to try again.")
            st.stop()
    placeholder.empty()
    st.toast("Workspace ready: demo data generated and version 1 trained.", icon=":material/check_circle:")


def follow_workspace(ws: Workspace) -> None:
    """Drop this session's workspace-bound state when the workspace was re-initialised.

    Skipped points, the last retrain's result, the history page, the charted features
    and the map selection belong to one initialisation; after another session (or the
    CLI) re-initialised the workspace they would show the old dataset's points.
    """
    generation = ws.generation
    seen = st.session_state.get(StateKeys.WORKSPACE_GENERATION)
    if seen is not None and seen != generation:
        for key in StateKeys.WORKSPACE_BOUND:
            st.session_state.pop(key, None)
    st.session_state[StateKeys.WORKSPACE_GENERATION] = generation


@contextmanager
def user_errors():
    """Show a core error as a message in the page instead of a traceback."""
    try:
        yield
    except HitlError as exc:
        st.error(str(exc), icon=":material/error:")


def run_action(action: Callable[[], str | None]) -> None:
    """Run one mutating action; keep its outcome for the next run (toast or error)."""
    try:
        message = action()
    except HitlError as exc:
        st.session_state[StateKeys.FLASH] = ("error", str(exc))
    else:
        if message:
            st.session_state[StateKeys.FLASH] = ("ok", message)


def show_flash() -> None:
    """Show (once) the outcome stored by :func:`run_action`."""
    flash = st.session_state.pop(StateKeys.FLASH, None)
    if flash is None:
        return
    kind, message = flash
    if kind == "error":
        st.error(message, icon=":material/error:")
    else:
        st.toast(message, icon=":material/check_circle:")


def feature_summary(features: list[str], shown: int = 4) -> str:
    """A short line naming the features: all of a few, the first few and a count of many.

    >>> feature_summary(["V4", "V14"])
    'features V4, V14'
    >>> feature_summary([f"V{i}" for i in range(1, 30)])
    '29 features: V1, V2, V3, V4, … (see Data)'
    """
    if len(features) <= shown + 1:
        return "features " + ", ".join(features)
    return f"{len(features)} features: {', '.join(features[:shown])}, … (see Data)"


def reviewer() -> str | None:
    return st.session_state.get(StateKeys.REVIEWER) or None
