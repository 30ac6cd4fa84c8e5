"""The review policy on the Verify page: what it is, in a sentence, and a form to change it."""

from __future__ import annotations

import streamlit as st

from hitl_app import context
from hitl_core import HitlError, Workspace
from hitl_core.policy import MIXED, ORDERINGS


def _save(ws: Workspace) -> None:
    form = st.session_state
    shares = {reason: form[f"policy_share_{reason}"] for reason in MIXED}
    order = {reason: form[f"policy_order_{reason}"] for reason in ORDERINGS}
    context.run_action(
        lambda: (
            ws.set_policy(shares=shares, alert_capacity=int(form["policy_capacity"]), order=order),
            "Review policy saved: the queue follows it now.",
        )[1]
    )


def _reset(ws: Workspace) -> None:
    context.run_action(lambda: (ws.reset_policy(), "Review policy back to the default.")[1])


def show(ws: Workspace) -> None:
    """One line stating the policy, and an expander to change it (shared by every reviewer)."""
    try:
        policy = ws.policy
    except HitlError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    with st.expander(f"Review policy — {policy.describe()}", icon=":material/rule:"):
        st.caption(
            "How the queue is made: each reason's share of the points at its head, how many alerts the team "
            "confirms a day (later ones wait at the end; 0 = every alert), and the order within each reason. "
            "It applies to everyone reviewing this workspace; `python -m hitl_core policy` changes it too."
        )
        with st.form("policy_form", border=False):
            cols = st.columns(len(MIXED))
            for col, reason in zip(cols, MIXED, strict=True):
                col.number_input(
                    f"{reason} share (%)",
                    min_value=0,
                    max_value=100,
                    value=round(policy.shares[reason] * 100),
                    step=5,
                    key=f"policy_share_{reason}",
                )
                col.selectbox(
                    f"{reason} order",
                    ORDERINGS[reason],
                    index=ORDERINGS[reason].index(policy.order[reason]),
                    key=f"policy_order_{reason}",
                )
            st.number_input(
                "Alerts confirmed per day (0 = all)",
                min_value=0,
                value=policy.alert_capacity,
                step=10,
                key="policy_capacity",
            )
            left, right = st.columns(2)
            left.form_submit_button("Save the policy", on_click=_save, args=(ws,), type="primary")
            right.form_submit_button("Back to the default", on_click=_reset, args=(ws,))
