import pandas as pd
import streamlit as st

from hitl_app import context
from hitl_app.state import StateKeys
from hitl_core import HitlError
from hitl_core.config import BASE_FRACTION, MAX_INPUT_MB
from hitl_core.datasets import BUILTINS, KAGGLE_FEATURES

ws = context.workspace()
st.title("Data")
context.show_flash()

SOURCES = {
    "demo": "Demo (generated, with the reference scenario)",
    "breast_cancer": "Breast cancer (ships with scikit-learn)",
    "creditcard": "Credit-card fraud file (Kaggle layout: Time, V1..V28, Amount, Class)",
    "table": "Any table: CSV, gzipped CSV or parquet",
}
NONE = "(none)"

with context.user_errors():
    spec = ws.spec
    d = spec["dataset"]
    st.subheader("This workspace")
    cols = st.columns(4)
    cols[0].metric("Dataset", d["name"])
    cols[1].metric("Rows", f"{spec['rows']:,}")
    cols[2].metric("Features", len(d["features"]))
    cols[3].metric("Mode", "classifier" if ws.mode == "classifier" else "detector-only")
    st.caption(
        f"Source: {d['source']} · label column: {d['label'] or 'none'} · replay order: "
        f"{'by ' + d['time'] if d['time'] else 'file order'} · {spec['train_rows']:,} training rows, "
        f"{spec['holdout_rows']:,} held out, {spec['stream_rows']:,} to replay"
        + (f" · {d['dropped_rows']:,} incomplete rows dropped" if d.get("dropped_rows") else "")
        + f" · features: {', '.join(d['features'])}"
    )

st.subheader("Start over with another dataset")
st.write(
    "Pick a dataset, check the preview, choose the columns, then initialise. The earliest part of the rows "
    "trains version 1 (its latest fifth is held out to evaluate every version); the rest is replayed."
)
name = st.radio("Dataset", list(SOURCES), format_func=SOURCES.get, key="data_source")
builtin = BUILTINS[name]
upload = None
if builtin.needs_file:
    file = st.file_uploader(
        f"Upload the file (at most {MAX_INPUT_MB} MB)", type=["csv", "gz", "parquet"], key="data_upload"
    )
    if file is None:
        st.info("Upload a file to see its preview and choose its columns.")
        st.stop()
    upload = (file.name, file.getvalue())

cache = st.session_state.setdefault("data_preview_cache", {})
cache_key = (name, upload[0], len(upload[1])) if upload else (name,)
try:
    if cache_key not in cache:
        cache.clear()
        cache[cache_key] = ws.preview(name, upload=upload)
    frame: pd.DataFrame = cache[cache_key]
except HitlError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

st.markdown(f"**Preview** — {len(frame):,} rows × {frame.shape[1]} columns")
st.dataframe(frame.head(20), width="stretch", height=260)

columns = [str(c) for c in frame.columns]
numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])]
default_label = builtin.label if builtin.label in columns else NONE
default_time = builtin.time if builtin.time in columns else NONE
with st.container(border=True):
    c1, c2 = st.columns(2)
    label = c1.selectbox(
        "Label column (two values; none = detector-only)",
        [NONE, *columns],
        index=[NONE, *columns].index(default_label),
        key=f"data_label_{name}",
    )
    time = c2.selectbox(
        "Time column (replay order; none = file order)",
        [NONE, *columns],
        index=[NONE, *columns].index(default_time),
        key=f"data_time_{name}",
    )
    positive = None
    if label != NONE:
        values = sorted(frame[label].dropna().astype(str).str.strip().unique().tolist())[:20]
        default_positive = builtin.positive if builtin.positive in values else (values[-1] if values else None)
        positive = c1.selectbox(
            "Value meaning abnormal",
            values,
            index=values.index(default_positive) if default_positive in values else 0,
            key=f"data_positive_{name}_{label}",
        )
    candidates = [c for c in numeric if c not in (label, time)]
    default_features = [f for f in (builtin.features or candidates) if f in candidates]
    features_key = f"data_features_{name}_{label}_{time}"
    st.session_state.setdefault(features_key, default_features)
    everything = [f for f in (builtin.all_features or ()) if f in candidates]
    if len(everything) > len(default_features):
        c2.button(
            f"Use all {len(everything)} features",
            key=f"all_{name}",
            on_click=lambda: st.session_state.__setitem__(features_key, everything),
        )
    features = st.multiselect("Features", candidates, key=features_key)
    c3, c4 = st.columns(2)
    invalid = c3.radio(
        "Rows with missing or infinite values",
        ["refuse", "drop"],
        horizontal=True,
        key="data_invalid",
        format_func={"refuse": "refuse the file", "drop": "drop those rows"}.get,
    )
    base_fraction = c4.slider("Share of rows that trains version 1", 0.3, 0.9, BASE_FRACTION, 0.05, key="data_base")
    if label == NONE:
        st.caption(
            "Without a label column the workspace runs **detector-only** until experts have labelled ten "
            "normal and ten abnormal points; then Retrain trains the first classifier."
        )
    if name == "creditcard" and set(features) >= set(KAGGLE_FEATURES):
        st.caption(
            "All V1..V28 + Amount: the detector keeps a bounded reference set of 10,000 rows in this many "
            "dimensions, so scoring stays fast."
        )

confirmed = True
if ws.ready:
    confirmed = st.checkbox(
        "Replace the current workspace: its labels, models and stream move to archive/ (nothing is deleted)",
        key="data_confirm",
    )
if st.button("Initialise the workspace", type="primary", disabled=not confirmed or not features, key="data_init"):
    with st.status(f"Initialising with {name}…", expanded=True) as box:
        bar = st.progress(0.0)
        try:
            ws.init(
                name,
                None,
                features,
                force=True,
                progress=lambda f, m: bar.progress(min(1.0, f), text=m),
                label=None if label == NONE else label,
                time=None if time == NONE else time,
                positive=positive,
                invalid=invalid,
                base_fraction=base_fraction,
                upload=upload,
            )
        except HitlError as exc:
            box.update(label="Nothing was changed", state="error")
            st.error(str(exc), icon=":material/error:")
        else:
            for key in (StateKeys.LAST_RETRAIN, StateKeys.SKIPPED, "data_confirm"):
                st.session_state.pop(key, None)
            st.session_state[StateKeys.FLASH] = ("ok", f"Workspace initialised with {name}; version 1 trained.")
            st.rerun()
