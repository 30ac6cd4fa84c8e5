import hashlib
import re

import streamlit as st

from hitl_app import context
from hitl_app.state import StateKeys
from hitl_core import HitlError, wording
from hitl_core.config import BASE_FRACTION, MAX_INPUT_MB
from hitl_core.datasets import BUILTINS, KAGGLE_FEATURES, choose_features

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
LEFT_OUT_SHOWN = 30


def plain(text: str) -> str:
    """A column name shown in Markdown as typed (``mean_radius_`` must not turn italic)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~<>$])", r"\\\1", text)


with context.user_errors():
    spec = ws.spec
    d = spec["dataset"]
    terms = ws.terms
    st.subheader("This workspace")
    cols = st.columns(4)
    cols[0].metric("Dataset", d["name"])
    cols[1].metric("Rows", f"{spec['rows']:,}")
    cols[2].metric("Features", len(d["features"]))
    cols[3].metric("Mode", "classifier" if ws.mode == "classifier" else "detector-only")
    st.caption(
        f"Source: {d['source']} · label column: {d['label'] or 'none'} · classes: {terms.normal} and "
        f"{terms.abnormal} · replay order: {'by ' + d['time'] if d['time'] else 'file order'} · "
        f"{spec['train_rows']:,} training rows, {spec['holdout_rows']:,} held out, {spec['stream_rows']:,} to replay"
        + (f" · {d['dropped_rows']:,} incomplete rows dropped" if d.get("dropped_rows") else "")
        + f" · features: {', '.join(d['features'])}"
    )

st.subheader("Start over with another dataset")
st.write(
    "Pick a dataset, check the preview, choose the columns, then initialise. The earliest part of the rows "
    "trains version 1 (its latest fifth is held out to evaluate every version); the rest is replayed."
)
name = st.radio("Dataset", list(SOURCES), format_func=SOURCES.get, key=StateKeys.DATA_SOURCE)
builtin = BUILTINS[name]
upload = None
identity = name
if builtin.needs_file:
    file = st.file_uploader(
        f"Upload the file (at most {MAX_INPUT_MB} MB)", type=["csv", "gz", "parquet"], key=StateKeys.DATA_UPLOAD
    )
    if file is None:
        st.info("Upload a file to see its preview and choose its columns.")
        st.stop()
    content = file.getvalue()
    upload = (file.name, content)
    digests = st.session_state.setdefault(StateKeys.DATA_DIGESTS, {})
    if file.file_id not in digests:  # hash each upload once, not on every rerun
        digests.clear()
        digests[file.file_id] = hashlib.sha256(content).hexdigest()
    identity = f"{name}\x1f{file.name}\x1f{len(content)}\x1f{digests[file.file_id]}"

# Column choices belong to one file: a new file (or dataset) starts from its own defaults.
prefix = f"{StateKeys.DATA_CHOICES}{hashlib.sha256(identity.encode()).hexdigest()[:16]}_"
for key in [k for k in st.session_state if k.startswith(StateKeys.DATA_CHOICES) and not k.startswith(prefix)]:
    del st.session_state[key]

cache = st.session_state.setdefault(StateKeys.DATA_PREVIEW, {})
try:
    if identity not in cache:
        cache.clear()
        preview = ws.preview(name, upload=upload)
        cache[identity] = preview.set_axis([str(c).strip() for c in preview.columns], axis=1)
    frame = cache[identity]
except HitlError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

st.markdown(f"**Preview** — {len(frame):,} rows × {frame.shape[1]} columns")
st.dataframe(frame.head(20), width="stretch", height=260)

columns = list(frame.columns)
default_label = builtin.label if builtin.label in columns else NONE
default_time = builtin.time if builtin.time in columns else NONE
with st.container(border=True):
    c1, c2 = st.columns(2)
    label = c1.selectbox(
        "Label column (two values; none = detector-only)",
        [NONE, *columns],
        index=[NONE, *columns].index(default_label),
        key=prefix + "label",
    )
    time = c2.selectbox(
        "Time column (replay order; none = file order)",
        [NONE, *columns],
        index=[NONE, *columns].index(default_time),
        key=prefix + "time",
    )
    label_column = None if label == NONE else label
    time_column = None if time == NONE else time
    positive = None
    if label_column:
        values = sorted(frame[label].dropna().astype(str).str.strip().unique().tolist())[:20]
        default_positive = builtin.positive if builtin.positive in values else (values[-1] if values else None)
        positive = c1.selectbox(
            "Value meaning abnormal",
            values,
            index=values.index(default_positive) if default_positive in values else 0,
            key=f"{prefix}positive_{label}",
        )
        words = wording.terms({"name": name, "label": label_column, "positive": positive})
        c1.caption(f"Pages will call the two classes *{words.normal}* and *{words.abnormal}*.")

    choice = choose_features(frame, label_column, time_column)
    features_key = prefix + "features"
    if features_key not in st.session_state:
        st.session_state[features_key] = [f for f in (builtin.features or choice.features) if f in choice.offered]
    else:  # a column just made the label or time column stops being a feature
        kept = [f for f in st.session_state[features_key] if f in choice.offered]
        if kept != st.session_state[features_key]:
            st.session_state[features_key] = kept
    everything = [f for f in (builtin.all_features or ()) if f in choice.offered]
    if len(everything) > len(st.session_state[features_key]):
        c2.button(
            f"Use all {len(everything)} features",
            key=prefix + "all",
            on_click=lambda: st.session_state.__setitem__(features_key, everything),
        )
    features = st.multiselect("Features", list(choice.offered), key=features_key)
    left_out = [(c, r) for c, r in choice.left_out.items() if c not in features]
    if left_out:
        shown = "; ".join(f"{plain(c)} — {r}" for c, r in left_out[:LEFT_OUT_SHOWN])
        more = f"; and {len(left_out) - LEFT_OUT_SHOWN} more" if len(left_out) > LEFT_OUT_SHOWN else ""
        st.caption(f"Not used as features: {shown}{more}.")
    c3, c4 = st.columns(2)
    invalid = c3.radio(
        "Rows with missing or infinite values",
        ["refuse", "drop"],
        horizontal=True,
        key=prefix + "invalid",
        format_func={"refuse": "refuse the file", "drop": "drop those rows"}.get,
    )
    base_fraction = c4.slider("Share of rows that trains version 1", 0.3, 0.9, BASE_FRACTION, 0.05, key=prefix + "base")
    if not label_column:
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
        key=StateKeys.DATA_CONFIRM,
    )
blocked = ([] if features else ["choose at least one feature"]) + (
    [] if confirmed else ["tick “Replace the current workspace” above"]
)
why = f"Initialise is unavailable: {' and '.join(blocked)}." if blocked else None
if st.button("Initialise the workspace", type="primary", disabled=bool(blocked), help=why, key=StateKeys.DATA_INIT):
    with st.status(f"Initialising with {name}…", expanded=True) as box:
        bar = st.progress(0.0)
        try:
            ws.init(
                name,
                None,
                features,
                force=True,
                progress=lambda f, m: bar.progress(min(1.0, f), text=m),
                label=label_column,
                time=time_column,
                positive=positive,
                invalid=invalid,
                base_fraction=base_fraction,
                upload=upload,
            )
        except HitlError as exc:
            box.update(label="Nothing was changed", state="error")
            st.error(str(exc), icon=":material/error:")
        else:
            for key in (StateKeys.LAST_RETRAIN, StateKeys.SKIPPED, StateKeys.DATA_CONFIRM):
                st.session_state.pop(key, None)
            st.session_state[StateKeys.FLASH] = ("ok", f"Workspace initialised with {name}; version 1 trained.")
            st.rerun()
if why:
    st.caption(why)
