"""The embedded demo data reproduces the reference scenario's ingredients."""

from __future__ import annotations

import numpy as np

from hitl_core import demo
from hitl_core.config import BASE_FRACTION, DEFAULT_SPEED


def test_demo_is_deterministic():
    assert demo.generate(5_000).equals(demo.generate(5_000))


def test_demo_marginals_resemble_the_public_credit_card_data():
    frame = demo.generate()
    plain = frame[frame["Scenario"] == ""]
    normal, fraud = plain[plain["Class"] == 0], plain[plain["Class"] == 1]
    assert abs(normal["V4"].mean() - 0.10) < 0.05 and abs(normal["V4"].std() - 1.42) < 0.1
    assert abs(normal["V14"].mean() - 0.33) < 0.05 and abs(normal["V14"].std() - 1.06) < 0.15
    assert abs(fraud["V4"].mean() - 4.47) < 0.4 and abs(fraud["V4"].std() - 2.87) < 0.4
    assert abs(fraud["V14"].mean() - (-6.84)) < 0.6 and abs(fraud["V14"].std() - 4.25) < 0.5
    assert fraud["V4"].min() > -1.6 and fraud["V14"].max() < 3.6  # bounded like the real frauds
    assert -0.75 < np.corrcoef(fraud["V4"], fraud["V14"])[0, 1] < -0.5
    assert 0.014 < plain["Class"].mean() < 0.02
    assert frame["Time"].is_monotonic_increasing


def test_planted_clusters_sit_in_the_stream_and_come_early_at_the_default_speed():
    frame = demo.generate()
    n_base = round(len(frame) * BASE_FRACTION)
    for tag, centers, truth in (("a", demo.CLUSTER_A_CENTERS, 0), ("b", demo.CLUSTER_B_CENTERS, 1)):
        rows = frame.index[frame["Scenario"] == tag].to_numpy()
        assert rows.min() >= n_base  # never in the base data
        assert set(frame.loc[rows, "Class"]) == {truth}
        first_wave = rows[rows - n_base < demo.WAVES[0][1]]
        assert (rows - n_base).max() > 10_000  # and they recur later
        seconds = (first_wave - n_base).max() / DEFAULT_SPEED
        assert seconds < 180  # the whole first wave within three minutes of replay
        centers = np.asarray(centers)
        xy = frame.loc[rows, ["V4", "V14"]].to_numpy()
        nearest = np.min(np.linalg.norm(xy[:, None, :] - centers[None], axis=2), axis=1)
        assert nearest.max() < 1.0
