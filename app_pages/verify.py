import numpy as np
import streamlit as st

from hitl_app import charts, context, policy_editor
from hitl_app.state import StateKeys
from hitl_core import monitor
from hitl_core.config import FRAUD_THRESHOLD, UNCERTAIN_BAND
from hitl_core.labels import clean_reviewer
from hitl_core.policy import EXPLAINED

ws = context.workspace()
st.title("Verify")
context.show_flash()

NAME_KEY = "reviewer_input"
terms = ws.terms


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


def _verdict_label(generic: str, word: str) -> str:
    """ "Abnormal (malignant)": the stored verdict, with the dataset's own word when it has one."""
    return generic.title() if word == generic else f"{generic.title()} ({word})"


reviewer = context.reviewer()
if reviewer is None:
    with st.container(border=True):
        st.markdown("**Who is reviewing?** Your name is stored with every label you give.")
        with st.form("reviewer_form", border=False, enter_to_submit=True):
            st.text_input("Your name", key=NAME_KEY, placeholder="e.g. Ana Ruiz", max_chars=80)
            st.form_submit_button("Start reviewing", on_click=_set_reviewer, type="primary")

with context.user_errors():
    queue = ws.queue()
    skipped = set(st.session_state.get(StateKeys.SKIPPED, []))
    pending = queue[~queue["point_id"].isin(skipped)]
    by_reason = queue["reason"].value_counts()
    bar, change = st.columns([6, 1], vertical_alignment="center")
    bar.caption(
        (f"Reviewing as **{reviewer}** · " if reviewer else "")
        + f"**{len(queue)}** point(s) awaiting review"
        + (": " + ", ".join(f"{n} {r}" for r, n in by_reason.items()) if len(queue) else "")
        + (f" · {len(skipped)} skipped this session" if skipped else "")
        + "."
    )
    policy_editor.show(ws)
    if reviewer is not None and change.button("Change name", key="change_name", width="stretch"):
        del st.session_state[StateKeys.REVIEWER]
        st.rerun()

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
        features = list(ws.dataset.features)
        pos = ws.dataset.stream_position(pid)
        version = int(ws.scored_at(np.array([pos]), extra=False)["version"][0])
        p = float(point["p"])
        ratio = point["novelty"] / point["threshold"]
        why = EXPLAINED[point["reason"]] + (" (over today's alert capacity)" if point["over_capacity"] else "")
        with st.container(border=True, key="card"):
            # The verdict comes first: buttons and the two scores fit above the fold of a
            # 1280×720 screen; the evidence (values, map, contributions) follows below.
            st.subheader(f"Point {pid}")
            score = (
                f"P({terms.abnormal}) **{charts.probability_text(p)}** (version {version})"
                if np.isfinite(p)
                else "no classifier yet"
            )
            novelty = f"novelty **{ratio:.1f}×** the threshold" + (" — unlike the training data" if ratio > 1 else "")
            st.markdown(f"**Queued because** {why} · status *{terms.status(point['status'])}* · {score} · {novelty}")
            disabled = reviewer is None
            with st.container(horizontal=True, vertical_alignment="center", key="verdict_buttons"):
                st.button(
                    _verdict_label("normal", terms.normal),
                    icon=":material/check:",
                    on_click=_label,
                    args=(pid, "normal"),
                    shortcut="N",
                    disabled=disabled,
                    key="btn_normal",
                )
                st.button(
                    _verdict_label("abnormal", terms.abnormal),
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
                st.caption(
                    ("Enter your name above to label. " if disabled else "")
                    + "Keyboard: N normal · A abnormal · S skip · U undo."
                )

            left, right = st.columns([2, 3])
            with left:
                if np.isfinite(p):
                    st.metric(
                        f"Classifier: P({terms.abnormal})",
                        charts.probability_text(p),
                        help=f"≥ {FRAUD_THRESHOLD} is flagged as {terms.abnormal}; "
                        f"{UNCERTAIN_BAND[0]}–{UNCERTAIN_BAND[1]} is the review band. "
                        f"Scored by model version {version}.",
                    )
                    st.progress(p)
                st.metric(
                    "Novelty score",
                    f"{point['novelty']:.2f}",
                    help="distance to the 5th nearest training point in standard deviations, or, where one "
                    "feature alone is that rare, the distance that is equally rare; above the threshold the point "
                    "is unknown",
                )
                st.caption(
                    f"Threshold {point['threshold']:.2f}: "
                    + (f"**{ratio:.1f}× over** — unlike the training data" if ratio > 1 else "within the known data")
                )
                reasons = ws.novelty_reasons(pid, version)
                if reasons:
                    st.caption(
                        "Novel mostly in "
                        + ", ".join(
                            f"**{r['feature']}** = {r['value']:.4g} ({r['share']:.0%} of the score"
                            + ("; unknown on this feature alone" if r["alone_unknown"] else "")
                            + ")"
                            for r in reasons
                        ),
                        help="Each feature's part of the novelty score: its share of the distance to the nearest "
                        "training points, or, where it alone is far out, the novelty it gives on its own.",
                    )
                values = ws.dataset.rows([pid])[features].T.rename(columns={0: "value"})
                st.dataframe(values, width="stretch", height=min(36 * len(features) + 38, 260))
                recorded = {"normal": terms.normal, "abnormal": terms.abnormal}.get(point["true_label"])
                st.caption(f"Dataset's recorded class (a demo aid): {recorded or 'not recorded'}")
            with right:
                state = ws.stream.state()
                window = ws.scored_at(np.unique(np.r_[np.arange(max(0, state.cursor - 400), state.cursor), pos]))
                x_f, y_f = features[0], features[1] if len(features) > 1 else features[0]
                x_range, y_range = monitor.plot_ranges(ws, window, x_f, y_f)
                # As on the Monitor: beyond two features a slice at the others' medians would
                # contradict the points' own scores, so the points carry their own colours.
                grid = monitor.decision_grid(ws, x_f, y_f, x_range, y_range) if len(features) <= 2 else None
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
                        height=300,
                        terms=terms,
                    ),
                    width="stretch",
                    key="card_map",
                )
            contrib = ws.models(version).models.contributions(ws.dataset.X[[pid]])
            if contrib is not None:
                st.markdown(
                    f"**Why P({terms.abnormal}) = {charts.probability_text(p)}**: version {version}'s score in "
                    "log-odds, from the average training row through each feature's push to this point "
                    f"(red towards {terms.abnormal}, blue towards {terms.normal}; 0 is p = 0.5)."
                )
                st.plotly_chart(
                    charts.contributions(
                        features,
                        contrib[0][:-1],
                        float(contrib[0][-1]),
                        ws.dataset.X[pid],
                        abnormal=terms.abnormal,
                        normal=terms.normal,
                    ),
                    width="stretch",
                    key="contrib",
                )

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
