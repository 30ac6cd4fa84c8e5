import pandas as pd
import streamlit as st

from hitl_app import charts, context
from hitl_app.state import StateKeys
from hitl_core import monitor
from hitl_core.config import CHART_SECONDS, SPEEDS, TICK_SECONDS

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


def _play():
    context.run_action(lambda: ws.stream.play() and "Playing")


def _pause():
    context.run_action(lambda: ws.stream.pause() and "Paused")


def _step():
    context.run_action(lambda: f"Replayed {ws.replay(STEP_ROWS).rows} rows")


def _reset():
    context.run_action(lambda: ws.stream.reset() and "The stream is back at its first row; labels are kept.")


SPEED_KEY = StateKeys.SPEED
SPEED_DRAWN = StateKeys.SPEED_DRAWN  # the shared speed this session's slider was last set to


def _speed():
    speed = st.session_state[SPEED_KEY]
    st.session_state[SPEED_DRAWN] = speed
    context.run_action(lambda: ws.stream.set_speed(speed) and f"Speed: {speed} rows/s")


def _send(ids: list[int]):
    context.run_action(lambda: f"Sent {ws.pick_for_review(ids)} new point(s) to the review queue.")


@st.fragment(run_every=TICK_SECONDS)
def live() -> None:
    # The controls below rerun only this fragment, not the page: show their outcome here.
    context.show_flash()
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
            with st.popover("Reset", icon=":material/restart_alt:"):
                st.write("Replay the stream from its first row? Scores are cleared; labels and models are kept.")
                st.button("Reset the stream", on_click=_reset, key="reset", type="primary")
            # The speed is shared by every session: when anyone changes it, move this
            # session's slider to the shared value. (Keying the widget by the speed did
            # that too, but left the old slider on screen beside the new one until the
            # next run finished, which while playing can be a while.)
            if SPEED_KEY not in st.session_state or st.session_state.get(SPEED_DRAWN) != snap.speed:
                st.session_state[SPEED_KEY] = snap.speed
                st.session_state[SPEED_DRAWN] = snap.speed
            st.select_slider("Speed (rows per second)", options=SPEEDS, key=SPEED_KEY, on_change=_speed, width=320)
        state_text = "finished" if snap.finished else ("playing" if snap.playing else "paused")
        st.caption(
            f"Stream {state_text} · {c.seen:,} of {c.length:,} rows replayed · figures refresh every "
            f"{TICK_SECONDS:g} s, charts every {CHART_SECONDS:g} s · shared by everyone watching this workspace"
        )

        with st.container(horizontal=True, key="headline"):
            st.metric("Points seen", f"{c.seen:,}", border=True)
            st.metric("Fraud flagged", f"{c.fraud:,}", help="classifier probability ≥ 0.5", border=True)
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
                    "Shaded: the classifier's regions (red = abnormal); other features at their median."
                    if len(features) > 2
                    else "Shaded: the classifier's decision regions (red = abnormal)."
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
            latest = pd.DataFrame({c: window[c][::-1][:10] for c in columns})  # 10 rows fit without a scroll bar
            st.dataframe(
                latest,
                hide_index=True,
                width="stretch",
                column_config={
                    "p": st.column_config.NumberColumn("P(abnormal)", format="%.3f"),
                    "novelty": st.column_config.NumberColumn(format="%.2f"),
                },
            )


live()
charts_section()

with st.expander("Full history", icon=":material/history:"), context.user_errors():
    filt = st.multiselect(
        "Show statuses",
        ["unknown", "uncertain", "fraud", "normal"],
        key=StateKeys.HISTORY_FILTER,
        placeholder="all statuses",
    )
    page_size = 200
    _, total = monitor.history_page(ws, filt, 0, 0)
    pages = max(1, -(-total // page_size))
    if st.session_state.get(StateKeys.HISTORY_PAGE, 1) > pages:
        st.session_state[StateKeys.HISTORY_PAGE] = pages
    frame, _ = monitor.history_page(ws, filt, st.session_state.get(StateKeys.HISTORY_PAGE, 1) - 1, page_size)
    st.number_input(
        f"Page (of {pages:,}; newest first)", min_value=1, max_value=pages, step=1, key=StateKeys.HISTORY_PAGE
    )
    st.caption(f"{total:,} replayed point(s) match. The history is read on demand, {page_size} rows at a time.")
    st.dataframe(frame, hide_index=True, width="stretch")
