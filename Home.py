"""hitl — entry point: page config, first-run setup, navigation, shared sidebar."""

from pathlib import Path

import streamlit as st

from hitl_app import context

# The favicon is a file of the app's own: a material-icon or emoji favicon is fetched
# from an outside font host, which fails offline (nothing the app serves may fetch
# from the internet).
st.set_page_config(
    page_title="hitl · human-in-the-loop anomaly detection",
    page_icon=str(Path(__file__).parent / "hitl_app" / "static" / "icon.png"),
    layout="wide",
)

ws = context.workspace()
context.ensure_ready(ws)
context.follow_workspace(ws)

page = st.navigation(
    [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/info:", url_path="overview"),
        # The default page is served at "/" (Streamlit ignores a url_path on it).
        st.Page("app_pages/monitor.py", title="Monitor", icon=":material/monitoring:", default=True),
        st.Page("app_pages/verify.py", title="Verify", icon=":material/fact_check:", url_path="verify"),
        st.Page("app_pages/retrain.py", title="Retrain", icon=":material/model_training:", url_path="retrain"),
        st.Page("app_pages/data.py", title="Data", icon=":material/dataset:", url_path="data"),
    ]
)

with st.sidebar, context.user_errors():
    spec = ws.spec
    st.caption("WORKSPACE")
    st.markdown(
        f"**{spec['dataset']['name']}** · {spec['rows']:,} rows  \n"
        f"{context.feature_summary(spec['dataset']['features'])}  \n"
        f"model version **{ws.current_version()}**"
    )
    reviewer = context.reviewer()
    st.caption(f"Reviewing as **{reviewer}**" if reviewer else "No reviewer name yet (asked on Verify)")

with context.user_errors():
    needed = ws.labels_needed()
    if ws.mode == "detector-only":
        st.info(
            "**Detector-only mode.** This dataset has no labels, so there is no classifier yet: points are only "
            f"*unknown* or not. Label {needed['normal']} more normal and {needed['abnormal']} more abnormal point(s) "
            "on Verify, then retrain to train the first classifier.",
            icon=":material/radar:",
        )

page.run()
