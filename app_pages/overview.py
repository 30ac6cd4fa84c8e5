import streamlit as st

from hitl_app import context

ws = context.workspace()
st.title("Human-in-the-loop anomaly detection")
st.markdown(
    """
A replayed stream of transactions is scored live by two models:

* a **classifier** (LightGBM) that knows the fraud it was trained on and gives each point a probability of
  being abnormal;
* a **novelty detector** (k-nearest neighbours) that flags points unlike anything in its training data as
  **unknown** — where the classifier's score means little.

Points that are unknown, or that the classifier is unsure about (0.1 < p < 0.9), wait for an expert.
"""
)
c1, c2, c3 = st.columns(3)
with c1, st.container(border=True):
    st.subheader("1 · Watch")
    st.write("The stream plays by itself; every new point is scored as it arrives.")
    st.page_link("app_pages/monitor.py", label="Open the Monitor", icon=":material/monitoring:")
with c2, st.container(border=True):
    st.subheader("2 · Verify")
    st.write("Experts mark each queued point *Normal* or *Abnormal*; every verdict is stored with who and when.")
    st.page_link("app_pages/verify.py", label="Open the review queue", icon=":material/fact_check:")
with c3, st.container(border=True):
    st.subheader("3 · Retrain")
    st.write(
        "One click retrains both models with the verdicts. The new version replaces the current one only if it "
        "follows every verdict without losing fraud the current one catches."
    )
    st.page_link("app_pages/retrain.py", label="Open Retrain", icon=":material/model_training:")

with context.user_errors():
    s = ws.status()
    st.subheader("This workspace")
    cols = st.columns(4)
    cols[0].metric("Dataset", s["dataset"])
    cols[1].metric("Rows to replay", f"{s['stream_rows']:,}")
    cols[2].metric("Labels in force", s["counts"]["labelled"])
    cols[3].metric("Model version", s["current_version"])
    st.caption(
        f"Stored under `{s['home']}` (set `HITL_HOME` to use another folder). "
        f"Base data: {s['train_rows']:,} training rows and {s['holdout_rows']:,} held-out rows for evaluation."
    )
