import pandas as pd
import streamlit as st

from hitl_app import context, learning_curve
from hitl_app.state import StateKeys
from hitl_core import HitlError
from hitl_core.config import FRAUD_THRESHOLD

ws = context.workspace()
st.title("Retrain")
context.show_flash()


def _fmt(value, pattern):
    return "—" if value is None or (isinstance(value, float) and pd.isna(value)) else pattern.format(value)


def _switch(version: int):
    context.run_action(lambda: (ws.rollback(version), f"Version {version} is current now")[1])


with context.user_errors():
    terms = ws.terms
    metrics = [
        ("holdout_recall", f"{terms.title} recall (held-out)", "{:.3f}"),
        ("holdout_precision", "Precision (held-out)", "{:.3f}"),
        ("holdout_pr_auc", "PR-AUC (held-out)", "{:.3f}"),
        ("holdout_roc_auc", "ROC-AUC (held-out)", "{:.3f}"),
        ("holdout_unknown_rate", "Unknown rate (held-out)", "{:.2%}"),
        ("verified_agreement", "Agreement with verified labels", "{:.0%}"),
        ("verified_unknown", "Verified points still unknown", "{}"),
    ]
    current = ws.current_version()
    labelled = len(ws.labels.current())
    new = ws.new_labels()
    c1, c2, c3 = st.columns(3)
    c1.metric("Current version", current, border=True)
    c2.metric("Verified labels in force", labelled, border=True)
    c3.metric("New since the current version", new, border=True)
    held = ws.registry.meta(current).get("metrics", {})
    st.markdown(
        f"**Version {current} on the held-out data** — {held.get('holdout_rows', 0):,} rows, "
        f"{held.get('holdout_frauds', 0):,} {terms.abnormal}; operating threshold p ≥ {FRAUD_THRESHOLD}"
    )
    if held.get("holdout_pr_auc") is None:
        st.caption(
            "No classifier yet, or no labelled held-out rows: only the detector's unknown rate can be "
            f"measured ({held.get('holdout_unknown_rate', 0):.2%})."
        )
    else:
        e = st.columns(5)
        for col, (key, label, pattern) in zip(
            e,
            [
                ("holdout_pr_auc", "PR-AUC", "{:.3f}"),
                ("holdout_roc_auc", "ROC-AUC", "{:.3f}"),
                ("holdout_precision", "Precision", "{:.3f}"),
                ("holdout_recall", f"{terms.title} recall", "{:.3f}"),
                ("holdout_unknown_rate", "Unknown rate", "{:.2%}"),
            ],
            strict=True,
        ):
            col.metric(label, _fmt(held.get(key), pattern))
    if ws.mode == "detector-only":
        needed = ws.labels_needed()
        if any(needed.values()):
            st.info(
                f"Detector-only: a retrain now refits the detector with the verdicts. The first classifier needs "
                f"{needed['normal']} more normal and {needed['abnormal']} more abnormal verdict(s)."
            )
        else:
            st.info("Detector-only, with enough verdicts: the next retrain trains the first classifier from them.")
    st.markdown(
        "Retraining fits both models on the base training data **plus every verified label**: each verdict weighs "
        "as much as twenty base rows, so even one verdict can overrule its neighbours, and it changes the scores "
        "of the points around it only. The candidate is then compared with the current version on the held-out "
        f"rows. It is promoted unless **held-out {terms.abnormal} recall or PR-AUC is worse beyond its 95% "
        "paired-bootstrap interval and by more than its tolerance**, and only if **every verified point is "
        "classified as the experts said**."
    )
    anyway = False
    nothing_new = f"No new verdicts since version {current} was trained: a retrain would build the same models again."
    if new == 0:
        st.info(nothing_new + " Label points on the **Verify** page first.", icon=":material/info:")
        anyway = st.checkbox(
            "Retrain anyway",
            key=StateKeys.RETRAIN_ANYWAY,
            help="Build and evaluate a new version from the same verdicts (it will score like the current one).",
        )
    clicked = st.button(
        "Retrain both models",
        icon=":material/model_training:",
        type="primary",
        key="retrain",
        disabled=new == 0 and not anyway,
        help=nothing_new if new == 0 and not anyway else None,
    )
    failure = None
    if clicked:
        with st.status("Retraining…", expanded=True) as box:
            bar = st.progress(0.0)
            try:
                result = ws.retrain(progress=lambda f, m: bar.progress(min(1.0, f), text=m), anyway=anyway)
            except (HitlError, OSError) as exc:
                failure = str(exc)
                box.update(label=f"Retraining failed: {failure}", state="error", expanded=False)
            else:
                st.session_state[StateKeys.LAST_RETRAIN] = result
                # "Anyway" is asked each time: it does not carry over to the next retrain.
                st.session_state.pop(StateKeys.RETRAIN_ANYWAY, None)
                box.update(label=f"Retrained in {result.seconds:.1f} s", state="complete", expanded=False)
                st.rerun()  # redraw the figures above (current version, new labels) and the sidebar
    if failure is not None:
        st.error(f"Retraining failed: {failure}. Stored labels and models are unchanged.", icon=":material/error:")

    result = st.session_state.get(StateKeys.LAST_RETRAIN)
    if result is not None:
        st.subheader(f"Candidate version {result.version} vs version {result.parent}")
        if result.outdated(current):
            st.info(result.summary(current), icon=":material/history:")
        elif result.promoted:
            st.success(result.summary(current), icon=":material/verified:")
        else:
            st.warning(result.summary(current), icon=":material/block:")
        cur = result.current_metrics or {}
        differences = getattr(result, "differences", {})  # a result kept from before intervals has none
        compared = {"holdout_recall": differences.get("recall"), "holdout_pr_auc": differences.get("pr_auc")}
        rows = [
            {
                "metric": label,
                f"version {result.parent}": _fmt(cur.get(key), pat),
                f"candidate (version {result.version})": _fmt(result.candidate_metrics.get(key), pat),
                "difference [interval]": compared[key].interval if compared.get(key) else "—",
            }
            for key, label, pat in metrics
        ]
        left, right = st.columns([3, 2])
        left.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        if differences:
            d = next(iter(differences.values()))
            left.caption(
                f"Difference = candidate − version {result.parent}, with its {d.confidence:.0%} interval from a "
                f"paired bootstrap: both versions scored on the same {d.positives + d.negatives:,} held-out rows "
                f"({d.positives:,} {terms.abnormal}), {d.resamples:,} resamples. A held-out metric refuses the "
                "candidate only when its whole interval lies below 0."
            )
        with right:
            st.markdown("**Promotion gate**")
            for cond in result.conditions:
                st.markdown(
                    f"{':material/check_circle:' if cond.passed else ':material/cancel:'} **{cond.name}** — "
                    f"{cond.detail}"
                )

    st.subheader("Version history")
    history = ws.history()
    st.dataframe(
        history.sort_values("version", ascending=False),
        hide_index=True,
        width="stretch",
        placeholder="—",  # the first version has no parent; detector-only versions have no recall
        column_config={
            "created_at": st.column_config.DatetimeColumn("trained at (UTC)", format="YYYY-MM-DD HH:mm:ss"),
            "labels_used": st.column_config.NumberColumn("labels used"),
            "holdout_recall": st.column_config.NumberColumn(f"{terms.abnormal} recall", format="%.3f"),
            "holdout_pr_auc": st.column_config.NumberColumn("PR-AUC", format="%.3f"),
            "verified_agreement": st.column_config.NumberColumn("agreement", format="%.2f"),
            "holdout_unknown_rate": st.column_config.NumberColumn("unknown rate", format="%.4f"),
            "current": st.column_config.CheckboxColumn("current"),
        },
    )
    others = history[history["version"] != current]
    if len(others):
        decisions = dict(zip(others["version"].astype(int), others["decision"], strict=True))
        with st.container(horizontal=True, vertical_alignment="bottom"):
            choice = st.selectbox(
                "Switch to version",
                sorted(decisions, reverse=True),
                format_func=lambda v: f"Version {v} ({decisions[v]})",
                key="switch_choice",
            )
            st.button("Make it current", on_click=_switch, args=(choice,), key="switch", icon=":material/history:")
        st.caption(
            "Switching only moves the pointer, back or forward: every version stays stored, and points replayed "
            "from now on are scored by the chosen one."
        )

learning_curve.show(ws)
