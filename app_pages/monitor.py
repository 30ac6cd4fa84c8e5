import pandas as pd
import streamlit as st

from hitl_app import charts, context
from hitl_app.state import StateKeys
from hitl_core import monitor
from hitl_core.config import CHART_SECONDS, SPEEDS, TICK_SECONDS
from hitl_core.wording import elapsed

ws = context.workspace()
features = list(ws.dataset.features)
has_truth = bool((ws.dataset.y[ws.dataset.n_base :] >= 0).any())

st.title("Monitor")
context.show_flash()

if len(features) > 2:
    st.multiselect(
        "Features to chart (the first two span the map)",
        features,
        default=features[:2],
        key=StateKeys.SHOWN_FEATURES,
        max_selections=6,
    )
shown = st.session_state.get(StateKeys.SHOWN_FEATURES) or features[:2]
if len(shown) < 2 and len(features) >= 2:
    st.info("Pick at least two features to draw the map.")
    st.stop()

STEP_ROWS = 50
terms = ws.terms
has_time = ws.dataset.spec.time is not None
ROW_COLUMNS = {
    "p": st.column_config.NumberColumn(f"P({terms.abnormal})", format="%.3f"),
    "novelty": st.column_config.NumberColumn(format="%.2f"),
    "time": st.column_config.TextColumn("elapsed", help="time since the data's first row (d h:mm:ss)"),
}


def display_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows as a reader wants them: statuses in the dataset's words, times as elapsed time."""
    frame = frame.copy()
    for column in ("status", "true_label"):
        if column in frame:
            frame[column] = [terms.status(v) if isinstance(v, str) else v for v in frame[column]]
    if "time" in frame:
        frame["time"] = [elapsed(t) for t in frame["time"]] if has_time else frame["time"]
    return frame


def _play():
    context.run_action(lambda: ws.stream.play() and "Playing")


def _pause():
    context.run_action(lambda: ws.stream.pause() and "Paused")


def _step():
    context.run_action(lambda: f"Replayed {ws.replay(STEP_ROWS).rows} rows")


def _reset():
    context.run_action(lambda: ws.stream.reset() and "The stream is back at its first row; labels are kept.")


def _speed(step: int):
    # Buttons, not a slider: a slider's value is sent back by every new browser session
    # as it mounts, and a slider drawn at its first option once wrote "1 row/s" into the
    # shared stream for everyone. Only a click changes the speed.
    def action():
        speed = ws.stream.state().speed
        at = min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - speed))
        target = SPEEDS[max(0, min(len(SPEEDS) - 1, at + step))]
        ws.stream.set_speed(target)
        return f"Speed: {target} rows/s"

    context.run_action(action)


def _ask_reset():
    st.session_state[StateKeys.CONFIRM_RESET] = True


def _cancel_reset():
    st.session_state.pop(StateKeys.CONFIRM_RESET, None)


def _reset():
    st.session_state.pop(StateKeys.CONFIRM_RESET, None)
    context.run_action(lambda: ws.stream.reset() and "The stream is back at its first row; labels are kept.")


def _send(ids: list[int]):
    context.run_action(lambda: f"Sent {ws.pick_for_review(ids)} new point(s) to the review queue.")


@st.fragment(run_every=TICK_SECONDS)
def live() -> None:
    # The controls below rerun only this fragment, not the page: show their outcome here.
    context.show_flash()
    # Another session or the CLI re-initialised the workspace or switched the version: the
    # rest of the page (sidebar, charted features, this session's state) follows at once.
    drawn = (ws.generation, ws.current_version())
    if st.session_state.setdefault(StateKeys.MONITOR_DRAWN, drawn) != drawn:
        st.session_state[StateKeys.MONITOR_DRAWN] = drawn
        st.rerun()
    with context.user_errors():
        ws.tick()
        snap = monitor.snapshot(ws)
        c = snap.counts

        with st.container(horizontal=True, vertical_alignment="bottom", key="controls"):
            if snap.playing:
                st.button("Pause", icon=":material/pause:", on_click=_pause, key="pause", type="primary")
            else:
                st.button(
                    "Play",
                    icon=":material/play_arrow:",
                    on_click=_play,
                    key="play",
                    type="primary",
                    disabled=snap.finished,
                )
            st.button(
                f"Step {STEP_ROWS} rows",
                icon=":material/skip_next:",
                on_click=_step,
                key="step",
                disabled=snap.finished,
                help="Replay and score the next rows now, playing or paused.",
            )
            if st.session_state.get(StateKeys.CONFIRM_RESET):
                st.button(
                    "Reset the stream", on_click=_reset, key="reset", type="primary", icon=":material/restart_alt:"
                )
                st.button("Cancel", on_click=_cancel_reset, key="reset_cancel")
            else:
                st.button(
                    "Reset",
                    icon=":material/restart_alt:",
                    on_click=_ask_reset,
                    key="ask_reset",
                    help="Replay the stream from its first row. Scores are cleared; labels and models are kept.",
                )
            st.button(
                "Slower",
                icon=":material/remove:",
                on_click=_speed,
                args=(-1,),
                key="slower",
                disabled=snap.speed <= SPEEDS[0],
            )
            st.markdown(f"**{snap.speed}** rows/s", width="content")
            st.button(
                "Faster",
                icon=":material/add:",
                on_click=_speed,
                args=(1,),
                key="faster",
                disabled=snap.speed >= SPEEDS[-1],
            )
        if st.session_state.get(StateKeys.CONFIRM_RESET):
            st.warning(
                "Replay the stream from its first row? Scores are cleared; labels and models are kept.",
                icon=":material/restart_alt:",
            )
        state_text = "finished" if snap.finished else ("playing" if snap.playing else "paused")
        st.caption(
            f"Stream {state_text} · {c.seen:,} of {c.length:,} rows replayed · figures refresh every "
            f"{TICK_SECONDS:g} s, charts every {CHART_SECONDS:g} s · shared by everyone watching this workspace"
        )

        with st.container(horizontal=True, key="headline"):
            st.metric("Points seen", f"{c.seen:,}", border=True)
            st.metric(f"{terms.title} flagged", f"{c.fraud:,}", help="classifier probability ≥ 0.5", border=True)
            st.metric("Unknown flagged", f"{c.unknown:,}", help="unlike anything in the training data", border=True)
            st.metric("Awaiting review", f"{c.awaiting_review:,}", border=True)
            st.metric("Model version", c.version, border=True)

        if c.seen == 0:
            st.info("Nothing replayed yet. Press **Play** to start the stream, or **Step** to replay a few rows.")


# The charts redraw on a slower timer than the figures above: a browser without a GPU
# could not redraw four Plotly charts every second, so while the stream played the page
# faded behind the stream and clicks (Pause) landed seconds late.
@st.fragment(run_every=CHART_SECONDS)
def charts_section() -> None:
    context.show_flash()
    with context.user_errors():
        snap = monitor.snapshot(ws)
        if snap.counts.seen == 0:
            return
        window = snap.window
        figures = charts.monitor_figures(ws, snap, shown)
        left, right = st.columns([3, 2])
        with left:
            st.subheader("Map of the latest points")
            event = st.plotly_chart(
                figures["map"],
                key=StateKeys.MAP_SELECTION,
                on_select="rerun",
                selection_mode=("box", "lasso"),
                width="stretch",
            )
            picked = sorted(
                {
                    int(p["customdata"][0] if isinstance(p["customdata"], list) else p["customdata"])
                    for p in event.selection.points
                    if p.get("customdata") is not None
                }
            )
            # The selection outlives a click on the button: offer only what is not sent yet.
            sent = set(window["point_id"][window["picked"]].tolist())
            fresh = [pid for pid in picked if pid not in sent]
            if fresh:
                st.button(
                    f"Send {len(fresh)} selected point(s) to review",
                    icon=":material/playlist_add:",
                    on_click=_send,
                    args=(fresh,),
                    key="send_selection",
                    type="primary",
                )
            elif picked:
                st.caption(
                    f":material/check: The {len(picked)} selected point(s) are in the review queue "
                    "(picked for review). Drag another box or lasso to pick more."
                )
            else:
                caption = (
                    f"No regions are shaded: with {len(features)} features the classifier's regions cannot be "
                    "drawn on two axes without contradicting the points. Each point is coloured by its own score."
                    if len(features) > 2
                    else f"Shaded: the classifier's decision regions (red = {terms.abnormal})."
                )
                st.caption(
                    caption + " Drag a box or lasso over points to send them to review "
                    "(pause the stream first so the points hold still)."
                )
        with right:
            st.subheader("Distribution of each feature")
            st.plotly_chart(figures["distributions"], width="stretch", key="distributions")
        st.subheader(f"The last {len(window['point_id']):,} points over time")
        st.plotly_chart(figures["timeseries"], width="stretch", key="timeseries")
        a, b = st.columns([2, 3])
        with a:
            st.subheader("Points per review threshold")
            st.plotly_chart(figures["bands"], width="stretch", key="bands")
        with b:
            st.subheader("Latest rows")
            columns = ["point_id", *shown, "p", "novelty", "status"] + (["true_label"] if has_truth else [])
            if has_time:
                columns.insert(1, "time")
            latest = pd.DataFrame({c: window[c][::-1][:10] for c in columns})  # 10 rows fit without a scroll bar
            st.dataframe(display_rows(latest), hide_index=True, width="stretch", column_config=ROW_COLUMNS)


@st.fragment(run_every=CHART_SECONDS)
def history_section() -> None:
    # A fragment of its own, on the charts' timer: drawn with the rest of the page
    # only, it told the count of an earlier moment while the stream played on.
    with st.expander("Full history", icon=":material/history:"), context.user_errors():
        filt = st.multiselect(
            "Show statuses",
            ["unknown", "uncertain", "fraud", "normal"],
            format_func=terms.status,
            key=StateKeys.HISTORY_FILTER,
            placeholder="all statuses",
        )
        page_size = 200
        state = ws.stream.state()  # one reading of the cursor for the count and the rows
        _, total = monitor.history_page(ws, filt, 0, 0, state=state)
        pages = max(1, -(-total // page_size))
        if st.session_state.get(StateKeys.HISTORY_PAGE, 1) > pages:
            st.session_state[StateKeys.HISTORY_PAGE] = pages
        frame, _ = monitor.history_page(
            ws, filt, st.session_state.get(StateKeys.HISTORY_PAGE, 1) - 1, page_size, state=state
        )
        st.number_input(
            f"Page (of {pages:,}; newest first)", min_value=1, max_value=pages, step=1, key=StateKeys.HISTORY_PAGE
        )
        st.caption(
            f"{total:,} of the {state.cursor:,} replayed point(s) match. The history is read on demand, "
            f"{page_size} rows at a time, and follows the stream."
        )
        st.dataframe(display_rows(frame), hide_index=True, width="stretch", column_config=ROW_COLUMNS)


live()
charts_section()
history_section()
