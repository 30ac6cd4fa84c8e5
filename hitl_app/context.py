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
    return Workspace(home)


def workspace() -> Workspace:
    """The process-wide workspace for ``HITL_HOME`` (shared by every session)."""
    return _workspace(str(workspace_home(os.environ.get("HITL_HOME"))))


def ensure_ready(ws: Workspace) -> None:
    """First start: generate the demo and train version 1, showing progress."""
    if ws.ready:
        return
    placeholder = st.empty()
    with placeholder.status(
        "Setting up the workspace: generating the demo data and training version 1…", expanded=True
    ) as box:
        bar = st.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(1.0, fraction), text=message)

        try:
            ws.bootstrap(progress=progress)
        except HitlError as exc:
            box.update(label="Setting up the workspace failed", state="error")
            st.error(str(exc))
            st.stop()
    placeholder.empty()
    st.toast("Workspace ready: demo data generated and version 1 trained.", icon=":material/check_circle:")


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


def reviewer() -> str | None:
    return st.session_state.get(StateKeys.REVIEWER) or None
