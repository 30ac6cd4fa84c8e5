import numpy as np
import streamlit as st

from hitl_app import charts, context
from hitl_app.state import StateKeys
from hitl_core import monitor
from hitl_core.labels import clean_reviewer

ws = context.workspace()
st.title("Verify")
context.show_flash()

NAME_KEY = "reviewer_input"


def _set_reviewer():
    try:
        st.session_state[StateKeys.REVIEWER] = clean_reviewer(st.session_state.get(NAME_KEY))
    except ValueError as exc:
        st.session_state[StateKeys.FLASH] = ("error", str(exc))


def _label(point_id: int, verdict: str):
    name = context.reviewer()
    context.run_action(
        lambda: (ws.label(point_id, verdict, name, source="page"), f"Point {point_id} labelled {verdict}")[1]
    )


def _skip(point_id: int):
    st.session_state.setdefault(StateKeys.SKIPPED, []).append(point_id)


def _undo():
    def action():
        event = ws.undo(context.reviewer(), source="page")
        skipped = st.session_state.get(StateKeys.SKIPPED, [])
        if event["point_id"] in skipped:
            skipped.remove(event["point_id"])
        return f"Undid your {event['label']} label on point {event['point_id']}"

    context.run_action(action)


reviewer = context.reviewer()
if reviewer is None:
    with st.container(border=True):
        st.markdown("**Who is reviewing?** Your name is stored with every label you give.")
        with st.form("reviewer_form", border=False, enter_to_submit=True):
            st.text_input("Your name", key=NAME_KEY, placeholder="e.g. Ana Ruiz", max_chars=80)
            st.form_submit_button("Start reviewing", on_click=_set_reviewer, type="primary")
else:
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    c1.markdown(f"Reviewing as **{reviewer}**.")
    if c2.button("Change name", key="change_name"):
        del st.session_state[StateKeys.REVIEWER]
        st.rerun()

with context.user_errors():
    queue = ws.queue()
    skipped = set(st.session_state.get(StateKeys.SKIPPED, []))
    pending = queue[~queue["point_id"].isin(skipped)]
    by_reason = queue["reason"].value_counts()
    st.caption(
        f"**{len(queue)}** point(s) awaiting review"
        + (": " + ", ".join(f"{n} {r}" for r, n in by_reason.items()) if len(queue) else "")
        + (f" · {len(skipped)} skipped this session" if skipped else "")
        + ". Unknown points come first (most novel first), then uncertain ones (closest to 0.5 first)."
    )

    if pending.empty:
        st.info(
            "Nothing to review right now. The queue fills as the stream plays: open the **Monitor** and press Play, "
            "or pick points on its map."
            if queue.empty
            else "You skipped every queued point this session."
        )
        if skipped and st.button("Bring skipped points back", key="unskip"):
            st.session_state[StateKeys.SKIPPED] = []
            st.rerun()
    else:
        point = pending.iloc[0]
        pid = int(point["point_id"])
        bundle = ws.models()
        features = list(ws.dataset.features)
        with st.container(border=True, key="card"):
            st.subheader(f"Point {pid}")
            left, right = st.columns([2, 3])
            with left:
                reason = point["reason"]
                why = {
                    "unknown": "the detector has seen nothing like it",
                    "uncertain": "the classifier is unsure",
                    "picked for review": "someone picked it on the map",
                    "audit sample": "a random check of a confident score",
                }[reason]
                st.markdown(f"**Queued because** {why} · status *{point['status']}*")
                p = point["p"]
                if np.isfinite(p):
                    st.metric(
                        "Classifier: P(abnormal)",
                        f"{p:.3f}",
                        help="≥ 0.5 is flagged as fraud; 0.1–0.9 is the review band",
                    )
                    st.progress(float(p))
                ratio = point["novelty"] / point["threshold"]
                st.metric(
                    "Novelty score",
                    f"{point['novelty']:.2f}",
                    help="distance to the 5th nearest training point, in standard deviations; "
                    "above the threshold the point is unknown",
                )
                st.caption(
                    f"Threshold {point['threshold']:.2f}: "
                    + (f"**{ratio:.1f}× over** — unlike the training data" if ratio > 1 else "within the known data")
                )
                st.dataframe(ws.dataset.rows([pid])[features].T.rename(columns={0: "value"}), width="stretch")
                with st.expander("Dataset's recorded class (a demo aid)"):
                    st.write(point["true_label"] or "not recorded")
            with right:
                state = ws.stream.state()
                pos = ws.dataset.stream_position(pid)
                window = ws.scored_at(np.unique(np.r_[np.arange(max(0, state.cursor - 400), state.cursor), pos]))
                x_f, y_f = features[0], features[1] if len(features) > 1 else features[0]
                x_range, y_range = monitor.plot_ranges(ws, window, x_f, y_f)
                grid = monitor.decision_grid(ws, x_f, y_f, x_range, y_range)
                st.plotly_chart(
                    charts.decision_map(
                        window,
                        grid,
                        monitor.training_sample(ws, 800),
                        x_f,
                        y_f,
                        x_range,
                        y_range,
                        highlight=pid,
                        height=340,
                    ),
                    width="stretch",
                    key="card_map",
                )
                contrib = bundle.models.contributions(ws.dataset.X[[pid]])
                if contrib is not None:
                    st.markdown("**What pushed the classifier's score**")
                    st.plotly_chart(charts.contributions(features, contrib[0][:-1]), width="stretch", key="contrib")
            disabled = reviewer is None
            with st.container(horizontal=True, key="verdict_buttons"):
                st.button(
                    "Normal",
                    icon=":material/check:",
                    on_click=_label,
                    args=(pid, "normal"),
                    shortcut="N",
                    disabled=disabled,
                    key="btn_normal",
                )
                st.button(
                    "Abnormal",
                    icon=":material/warning:",
                    on_click=_label,
                    args=(pid, "abnormal"),
                    shortcut="A",
                    disabled=disabled,
                    key="btn_abnormal",
                    type="primary",
                )
                st.button(
                    "Skip", icon=":material/skip_next:", on_click=_skip, args=(pid,), shortcut="S", key="btn_skip"
                )
                st.button(
                    "Undo my last label",
                    icon=":material/undo:",
                    on_click=_undo,
                    shortcut="U",
                    disabled=disabled,
                    key="btn_undo",
                )
            if disabled:
                st.caption("Enter your name above to label. Keyboard: N normal · A abnormal · S skip · U undo.")
            else:
                st.caption("Keyboard: N normal · A abnormal · S skip · U undo.")

    st.subheader("Labels given so far")
    current = ws.labels.current()
    if current.empty:
        st.caption("No labels yet.")
    else:
        st.dataframe(
            current.sort_values("created_at", ascending=False)[
                ["point_id", "label", "reviewer", "created_at", "source", "model_version"]
            ],
            hide_index=True,
            width="stretch",
            column_config={
                "created_at": st.column_config.DatetimeColumn("labelled at (UTC)", format="YYYY-MM-DD HH:mm:ss")
            },
        )
