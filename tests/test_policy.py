"""The review policy: reasons, the mix of the queue's head, the daily alert capacity, orderings."""

from __future__ import annotations

import numpy as np
import pytest

from hitl_core.errors import InvalidInput
from hitl_core.policy import ReviewPolicy, build_queue, exploration_flags, queue_reasons


def _stream(n: int = 2_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 3.0, n)  # mostly confident normal, some uncertain
    confident = rng.random(n) < 0.04
    p[confident] = rng.uniform(0.9, 1.0, confident.sum())  # and some confident alerts
    unknown = rng.random(n) < 0.02
    novelty = rng.gamma(2.0, 1.0, n) + np.where(unknown, 10, 0)
    return {
        "point_ids": np.arange(10_000, 10_000 + n),
        "p": p,
        "novelty": novelty,
        "threshold": np.full(n, 8.0),
        "unknown": unknown,
        "requested": np.zeros(n, dtype=bool),
        "labelled": np.zeros(n, dtype=bool),
        "explore": exploration_flags(np.arange(10_000, 10_000 + n)),
        "time": np.linspace(0, 3 * 86_400, n),
    }


def test_confident_alerts_reach_the_queue_with_their_own_reason():
    s = _stream()
    q = build_queue(ReviewPolicy.default(), **s)
    alerts = q[q["reason"] == "alert"]
    confident = s["point_ids"][(s["p"] >= 0.9) & ~s["unknown"]]
    assert len(confident) > 20
    assert set(confident) <= set(alerts["point_id"]), "an alert with p >= 0.9 never reached a human"
    assert (alerts["p"] >= 0.5).all()


def test_the_head_of_the_queue_mixes_reasons_by_their_shares():
    s = _stream(5_000)
    policy = ReviewPolicy.default().with_changes(
        shares={"unknown": 0.25, "alert": 0.25, "uncertain": 0.25, "exploration": 0.25}
    )
    head = build_queue(policy, **s).head(40)["reason"].value_counts()
    for reason in ("unknown", "alert", "uncertain", "exploration"):
        assert 8 <= head.get(reason, 0) <= 12, head.to_dict()
    # A share of 0 keeps those points, behind the mix.
    only = ReviewPolicy.default().with_changes(shares={"unknown": 0, "alert": 1, "uncertain": 0, "exploration": 0})
    q = build_queue(only, **s)
    n_alerts = int((q["reason"] == "alert").sum())
    assert (q["reason"].head(n_alerts) == "alert").all()
    assert set(q["reason"]) >= {"unknown", "uncertain"}


def test_alerts_beyond_the_daily_capacity_wait_at_the_end():
    s = _stream(3_000)
    policy = ReviewPolicy.default().with_changes(alert_capacity=5)
    q = build_queue(policy, **s)
    alerts = q[q["reason"] == "alert"]
    kept = alerts[~alerts["over_capacity"]]
    days = np.floor(s["time"] / 86_400)
    by_id = dict(zip(s["point_ids"], days, strict=True))
    per_day = kept["point_id"].map(by_id).value_counts()
    assert (per_day <= 5).all() and len(per_day) == 3
    over = q[q["over_capacity"]]
    assert len(over) and (q.index[q["over_capacity"]] >= len(q) - len(over)).all()
    # Within a day the most confident alerts are the ones kept (the default order).
    for day in per_day.index:
        in_day = alerts[alerts["point_id"].map(by_id) == day]
        assert in_day.loc[~in_day["over_capacity"], "p"].min() >= in_day.loc[in_day["over_capacity"], "p"].max()


def test_orderings_within_a_reason_follow_the_policy():
    s = _stream()
    q = build_queue(ReviewPolicy.default(), **s)
    unknown = q[q["reason"] == "unknown"]
    assert (np.diff((unknown["novelty"] / unknown["threshold"]).to_numpy()) <= 1e-12).all()
    uncertain = q[q["reason"] == "uncertain"]
    assert (np.diff(np.abs(uncertain["p"].to_numpy() - 0.5)) >= -1e-12).all()
    newest = ReviewPolicy.default().with_changes(order={"alert": "newest"})
    alerts = build_queue(newest, **s).query("reason == 'alert'")["point_id"].to_numpy()
    assert (np.diff(alerts) < 0).all()


def test_labelled_points_leave_and_picked_points_lead():
    s = _stream()
    s["labelled"][:500] = True
    s["requested"][1_500:1_503] = True
    q = build_queue(ReviewPolicy.default(), **s)
    assert not set(q["point_id"]) & set(s["point_ids"][:500])
    assert q["reason"].head(3).tolist() == ["picked for review"] * 3


def test_reason_precedence():
    reasons = queue_reasons(
        np.array([0.95, 0.95, 0.3, 0.01, 0.01, 0.01]),
        np.array([False, True, False, False, False, True]),
        np.array([False, False, False, False, True, False]),
        np.array([False, False, False, True, False, False]),
    )
    assert reasons.tolist() == [2, 1, 3, 4, 0, 1]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"shares": {"alert": -1}}, "non-negative"),
        ({"shares": {"alerts": 1}}, "no review reason"),
        ({"shares": {"alert": 0, "unknown": 0, "uncertain": 0, "exploration": 0}}, "above zero"),
        ({"alert_capacity": 2.5}, "whole number"),
        ({"alert_capacity": -3}, "negative"),
        ({"order": {"alert": "loudest"}}, "can be ordered by"),
        ({"order": {"picked": "newest"}}, "no ordering"),
    ],
)
def test_bad_policies_are_refused_with_the_reason(changes, message):
    with pytest.raises(InvalidInput, match=message):
        ReviewPolicy.default().with_changes(**changes)


def test_a_policy_round_trips_through_json():
    policy = ReviewPolicy.default().with_changes(alert_capacity=40, order={"exploration": "oldest"})
    assert ReviewPolicy.from_json(policy.to_json()) == policy
    with pytest.raises(InvalidInput, match="unknown review-policy setting"):
        ReviewPolicy.from_json({**policy.to_json(), "colour": "red"})


def test_the_exploration_sample_is_deterministic_and_at_its_rate():
    ids = np.arange(200_000)
    a = exploration_flags(ids, 0.01)
    assert np.array_equal(a, exploration_flags(ids, 0.01))
    assert 0.009 < a.mean() < 0.011


def test_the_verify_page_states_the_policy_and_changes_it(home):
    from streamlit.testing.v1 import AppTest

    from hitl_core import Workspace
    from tests.conftest import REPO

    ws = Workspace(home)
    ws.stream.pause()
    ws.replay(1_500)
    at = AppTest.from_file(str(REPO / "Home.py"), default_timeout=120)
    at.switch_page("app_pages/verify.py").run()
    assert not at.exception, at.exception
    assert any(e.label.startswith("Review policy — Picked points first") for e in at.expander)
    at.number_input(key="policy_share_alert").set_value(100)
    for reason in ("unknown", "uncertain", "exploration"):
        at.number_input(key=f"policy_share_{reason}").set_value(0)
    at.number_input(key="policy_capacity").set_value(7)
    at.selectbox(key="policy_order_alert").set_value("least confident")
    at.button[[b.label for b in at.button].index("Save the policy")].click().run()
    assert not at.exception, at.exception
    saved = Workspace(home).policy
    assert saved.shares["alert"] == 1.0 and saved.alert_capacity == 7 and saved.order["alert"] == "least confident"
    assert any("100% alert" in e.label for e in at.expander)
    # All shares at zero: refused with the reason, the stored policy unchanged.
    at.number_input(key="policy_share_alert").set_value(0)
    at.button[[b.label for b in at.button].index("Save the policy")].click().run()
    assert any("above zero" in e.value for e in at.error)
    assert Workspace(home).policy == saved
