from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from app.analytics._validation import AnalyticsInputError
from app.analytics.bgnbd import (
    BGNBD,
    _GroupedLikelihood,
    _log_likelihood_terms,
    bgnbd_log_likelihood,
    summary_from_transactions,
)

from .conftest import simulate_bgnbd

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}


def assert_published(model: BGNBD) -> None:
    for name, expected in PUBLISHED.items():
        assert getattr(model, name) == pytest.approx(expected, rel=0.01), name
    assert model.converged


def test_fit_on_cdnow_summary_reproduces_fader_hardie_lee(cdnow_summary):
    model = BGNBD.fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])
    assert_published(model)
    assert model.n_customers == 2357
    # Tighter than the 1% requirement: the MLE itself is well determined.
    assert model.log_likelihood == pytest.approx(-9582.43, abs=0.05)


def test_fit_on_raw_cdnow_transactions_reproduces_published_fit(cdnow_raw, cdnow_summary_with_transactions):
    summary = summary_from_transactions(
        cdnow_raw,
        "customer_id",
        "date",
        "1997-09-30",
        time_unit="W",
        amount_col="amount",
        date_format="%Y%m%d",
        merge_by="day",
    )
    assert len(summary) == 2357
    summary.index = summary.index.astype(int)
    summary = summary.sort_index()
    published = cdnow_summary_with_transactions.set_index("ID").sort_index()
    # Same-day purchases merged, weeks = days / 7: the published summary, up to its 2-decimal rounding.
    np.testing.assert_array_equal(summary["frequency"].to_numpy(), published["x"].to_numpy())
    np.testing.assert_allclose(summary["recency"], published["t_x"], atol=0.0051)
    np.testing.assert_allclose(summary["T"], published["T"], atol=0.0051)
    np.testing.assert_allclose(summary["monetary_value"], published["zbar"], atol=0.0051)
    assert_published(BGNBD.fit(summary["frequency"], summary["recency"], summary["T"]))


def test_conditional_expectation_matches_hardie_spreadsheet(cdnow_summary):
    model = BGNBD.fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])
    value = float(model.conditional_expected_purchases(39, 2, 30.43, 38.86))
    assert round(value, 3) == 1.226


def test_conditional_expectation_agrees_with_the_untransformed_formula():
    from scipy.special import hyp2f1

    model = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
    r, al, a, b = model.r, model.alpha, model.a, model.b
    for t, x, t_x, T in [(39, 2, 30.43, 38.86), (10, 0, 0, 20), (52, 7, 35.0, 38.0), (5, 1, 1.0, 30.0)]:
        z = t / (al + T + t)
        direct = (
            (a + b + x - 1)
            / (a - 1)
            * (1 - ((al + T) / (al + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
        )
        direct /= 1 + (x > 0) * a / (b + x - 1) * ((al + T) / (al + t_x)) ** (r + x)
        assert float(model.conditional_expected_purchases(t, x, t_x, T)) == pytest.approx(direct, rel=1e-10)


def test_unconditional_expectation_matches_the_formula_and_the_calibration_total(cdnow_summary):
    from scipy.special import hyp2f1

    model = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
    values = model.expected_purchases([0.0, 10.0, 39.0, 78.0])
    assert values[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(values) > 0)
    r, al, a, b = 0.243, 4.414, 0.793, 2.426
    direct = (a + b - 1) / (a - 1) * (1 - (al / (al + 39)) ** r * hyp2f1(r, b, a + b - 1, 39 / (al + 39)))
    assert values[2] == pytest.approx(direct, rel=1e-10)
    # The fitted model reproduces the calibration-period total of repeat purchases (2,457) within 2%.
    expected_total = model.expected_purchases(cdnow_summary["T"].to_numpy()).sum()
    assert expected_total == pytest.approx(cdnow_summary["frequency"].sum(), rel=0.02)


def test_probability_alive_behaviour():
    model = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert model.probability_alive(0, 0, 38.0)[()] == pytest.approx(1.0)
    recent, stale = model.probability_alive([3, 3], [37.0, 5.0], [38.0, 38.0])
    assert 0 < stale < recent < 1
    # Hand computation of 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)).
    expected = 1 / (1 + 0.793 / (2.426 + 3 - 1) * ((4.414 + 38.0) / (4.414 + 5.0)) ** (0.243 + 3))
    assert stale == pytest.approx(expected, rel=1e-12)


def test_gradient_matches_finite_differences(cdnow_summary):
    x = cdnow_summary["frequency"].to_numpy(float)
    t_x = cdnow_summary["recency"].to_numpy(float)
    T = cdnow_summary["T"].to_numpy(float)
    params = np.array([0.4, 6.0, 1.1, 3.0])
    _, grad = _log_likelihood_terms(params, x, t_x, T, gradient=True)
    numeric = approx_fprime(params, lambda p: _log_likelihood_terms(p, x, t_x, T, gradient=False)[0].sum(), 1e-7)
    np.testing.assert_allclose(grad.sum(axis=1), numeric, rtol=1e-4)
    assert bgnbd_log_likelihood(0.243, 4.414, 0.793, 2.426, x, t_x, T).sum() == pytest.approx(-9582.4, abs=0.1)


def test_grouped_likelihood_equals_the_per_customer_sum():

    x, t_x, T = simulate_bgnbd(5_000, 0.8, 10.0, 0.6, 3.0, t_min=30, t_max=78, seed=5)
    t_x, T = np.round(t_x, 1), np.round(T, 1)  # repeated values, as in real data
    weights = np.random.default_rng(0).integers(1, 4, len(x)).astype(float)
    params = np.array([0.7, 12.0, 0.5, 2.5])
    total, grad = _GroupedLikelihood(x, t_x, T, weights)(params)
    ll, per_customer_grad = _log_likelihood_terms(params, x, t_x, T, gradient=True)
    assert total == pytest.approx(float(weights @ ll), rel=1e-12)
    np.testing.assert_allclose(grad, per_customer_grad @ weights, rtol=1e-10)


def test_weights_are_equivalent_to_repeated_rows(cdnow_summary):
    grouped = cdnow_summary.groupby(["frequency", "recency", "T"]).size().reset_index(name="n")
    model = BGNBD.fit(grouped["frequency"], grouped["recency"], grouped["T"], weights=grouped["n"])
    assert_published(model)
    assert model.n_customers == 2357


def test_fit_recovers_simulated_parameters():
    truth = {"r": 0.8, "alpha": 10.0, "a": 0.6, "b": 3.0}
    x, t_x, T = simulate_bgnbd(20_000, **truth, t_min=30, t_max=78, seed=7)
    model = BGNBD.fit(x, t_x, T)
    assert model.converged
    assert model.r == pytest.approx(truth["r"], rel=0.15)
    assert model.alpha == pytest.approx(truth["alpha"], rel=0.2)
    assert model.a / (model.a + model.b) == pytest.approx(0.6 / 3.6, rel=0.15)


def test_likelihood_terms_for_100k_customers_are_finite_and_group_exactly():
    """The vectorised terms at scale (their speed is measured in bench/bench_analytics.py): finite for every
    customer, and the fast weighted total equals the sum of the terms (a weight of 2 counts a customer twice)."""
    x, t_x, T = simulate_bgnbd(100_000, 0.8, 10.0, 0.6, 3.0, t_min=30, t_max=78, seed=3)
    params = np.array([0.8, 10.0, 0.6, 3.0])
    ll, grad = _log_likelihood_terms(params, x, t_x, T, gradient=True)
    assert ll.shape == (100_000,) and grad.shape == (4, 100_000)
    assert np.isfinite(ll).all() and np.isfinite(grad).all() and (ll < 0).all()
    weights = np.ones_like(x, dtype=float)
    weights[:10_000] = 2.0  # the first 10,000 customers counted twice
    total, _ = _GroupedLikelihood(x, t_x, T, weights)(params)
    assert total == pytest.approx(float(ll.sum() + ll[:10_000].sum()), rel=1e-9)


def small_log() -> pd.DataFrame:
    # 2024-01-01 and 2024-01-08 are Mondays; the observation ends Wednesday 2024-01-10.
    return pd.DataFrame(
        {
            "customer": ["A", "A", "A", "A", "A", "B", "B", "C"],
            "date": [
                "2024-01-01",
                "2024-01-03",
                "2024-01-09",
                "2024-01-12",
                "2024-01-15",
                "2024-01-02",
                "2024-01-02",
                "2024-01-20",
            ],
            "amount": [10.0, 5.0, 7.0, 3.0, 100.0, 4.0, 6.0, 50.0],
        }
    )


def test_summary_by_week_merges_calendar_weeks_like_lifetimes():
    summary = summary_from_transactions(small_log(), "customer", "date", "2024-01-10", "W", "amount")
    assert list(summary.index) == ["A", "B"]  # C bought only after the observation end
    a = summary.loc["A"]
    # Weeks Jan 1-7 ($15) and Jan 8-14 ($7 + $3: the week of the observation end counts whole).
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (1.0, 1.0, 1.0, 10.0)
    b = summary.loc["B"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0.0, 0.0, 1.0, 0.0)


def test_summary_by_day_merges_same_day_purchases_only():
    days = summary_from_transactions(small_log(), "customer", "date", "2024-01-10", "D", "amount")
    a = days.loc["A"]
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (2.0, 8.0, 9.0, 6.0)
    b = days.loc["B"]
    assert (b["frequency"], b["recency"], b["T"]) == (0.0, 0.0, 8.0)
    weeks = summary_from_transactions(small_log(), "customer", "date", "2024-01-10", "W", "amount", merge_by="day")
    np.testing.assert_allclose(weeks[["recency", "T"]].to_numpy(), days[["recency", "T"]].to_numpy() / 7)
    np.testing.assert_array_equal(weeks["frequency"], days["frequency"])


def test_summary_defaults_observation_end_to_last_date_and_keeps_numeric_ids():
    log = pd.DataFrame({"id": [3, 3, 1], "when": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-03"])})
    summary = summary_from_transactions(log, "id", "when", time_unit="D")
    assert list(summary.index) == [1, 3]
    assert summary.loc[3, "T"] == 4.0 and summary.loc[1, "T"] == 2.0
    assert "monetary_value" not in summary.columns


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_unit": "M"}, "time_unit"),
        ({"customer_col": "nope"}, "no column 'nope'"),
        ({"observation_end": "2000-01-01"}, "no transaction"),
        ({"observation_end": "not a date"}, "not a date"),
    ],
)
def test_summary_rejects_bad_input(kwargs, message):
    args = {"customer_col": "customer", "date_col": "date", "observation_end": "2024-01-10", "time_unit": "W"}
    args.update(kwargs)
    with pytest.raises(AnalyticsInputError, match=message):
        summary_from_transactions(small_log(), **args)


def test_summary_names_the_first_bad_date():
    log = small_log()
    log.loc[2, "date"] = "yesterday"
    with pytest.raises(AnalyticsInputError, match="row 3: 'yesterday'"):
        summary_from_transactions(log, "customer", "date", "2024-01-10")


@pytest.mark.parametrize(
    ("x", "t_x", "T", "message"),
    [
        ([1.5], [1.0], [2.0], "whole number"),
        ([1], [3.0], [2.0], "must not exceed T"),
        ([0], [1.0], [2.0], "recency 0"),
        ([1, 2], [1.0], [2.0], "differ in length"),
        ([1], [np.nan], [2.0], "missing"),
    ],
)
def test_fit_rejects_inconsistent_summaries(x, t_x, T, message):
    with pytest.raises(AnalyticsInputError, match=message):
        BGNBD.fit(x, t_x, T)


def test_expected_purchases_stay_finite_when_the_dropout_prior_is_a_point_mass() -> None:
    """A fit on a small seeded database gave a ≈ 5.6e5 and b ≈ 1.8e6 (the dropout probability all but fixed at
    a / (a + b)): Euler's form of the hypergeometric term gave 0 × inf = NaN for every customer, and NaN CLVs."""
    huge = BGNBD(r=1.1756, alpha=19.67, a=555_633.9, b=1_785_092.8)
    x, t_x, T = np.array([1.0, 3.0, 20.0]), np.array([0.14, 11.1, 60.0]), np.array([106.9, 103.1, 106.0])
    expected = huge.conditional_expected_purchases(13.0, x, t_x, T)
    assert np.isfinite(expected).all() and (expected > 0).all(), expected
    # The limit of b, a → ∞ with p = a / (a + b) fixed: 2F1(r+x, b+x; a+b+x-1; z) → (1 - (1-p) z)^-(r+x).
    p = huge.a / (huge.a + huge.b)
    z = 13.0 / (huge.alpha + T + 13.0)
    tail = (1 - z) ** (huge.r + x) * (1 - (1 - p) * z) ** -(huge.r + x)
    from scipy.special import expit

    limit = (huge.a + huge.b + x - 1) / (huge.a - 1) * (1 - tail) * expit(-huge._log_odds_dead(x, t_x, T))
    np.testing.assert_allclose(expected, limit, rtol=1e-4)
    assert np.isfinite(huge.expected_purchases(np.array([1.0, 52.0]))).all()
    # and the published CDNOW parameters still take Euler's form, unchanged
    cdnow = BGNBD(r=0.243, alpha=4.414, a=0.793, b=2.426)
    assert np.isfinite(cdnow.conditional_expected_purchases(39.0, 200.0, 38.0, 39.0))
