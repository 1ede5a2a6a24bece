from __future__ import annotations

import numpy as np
import pytest

from app.analytics._validation import AnalyticsInputError
from app.analytics.bgnbd import BGNBD
from app.analytics.gamma_gamma import GammaGamma


@pytest.fixture(scope="module")
def cdnow_models(cdnow_summary_with_transactions):
    data = cdnow_summary_with_transactions
    spend = GammaGamma.fit(data["x"], data["zbar"])
    purchases = BGNBD.fit(data["x"], data["t_x"], data["T"])
    return data, spend, purchases


def test_fit_on_cdnow_reproduces_fader_hardie(cdnow_models):
    data, spend, _ = cdnow_models
    assert spend.p == pytest.approx(6.25, rel=0.02)
    assert spend.q == pytest.approx(3.74, rel=0.02)
    assert spend.gamma == pytest.approx(15.44, rel=0.02)
    assert spend.log_likelihood == pytest.approx(-4055.9, abs=0.5)
    assert spend.n_customers == int((data["x"] > 0).sum()) == 946
    assert spend.converged and spend.v == spend.gamma


def test_conditional_expected_spend_is_the_weighted_average(cdnow_models):
    _, spend, _ = cdnow_models
    p, q, g = spend.p, spend.q, spend.gamma
    x, m = np.array([1.0, 4.0, 0.0]), np.array([20.0, 50.0, 99.0])
    weight = p * x / (p * x + q - 1)
    expected = (1 - weight) * spend.population_mean_spend + weight * m
    np.testing.assert_allclose(spend.conditional_expected_average_spend(x, m), expected, rtol=1e-12)
    # No repeat purchase: the population mean p * gamma / (q - 1), whatever m says.
    assert spend.conditional_expected_average_spend([0], [99.0])[0] == pytest.approx(p * g / (q - 1))


def test_clv_matches_lifetimes_on_cdnow(cdnow_models):
    data, spend, purchases = cdnow_models
    clv = spend.customer_lifetime_value(
        purchases, data["x"], data["t_x"], data["T"], data["zbar"], months=12, discount_rate=0.01, time_unit="W"
    )
    # lifetimes 0.11.3 GammaGammaFitter.customer_lifetime_value(BetaGeoFitter, ..., time=12,
    # discount_rate=0.01, freq="W") on the same file gives these for the first customers.
    np.testing.assert_allclose(clv[:3], [36.27849576, 4.63746633, 8.34409312], rtol=1e-5)


def test_clv_is_the_discounted_sum_of_monthly_expected_value(cdnow_models):
    data, spend, purchases = cdnow_models
    x, t_x, T, m = 2.0, 30.43, 38.86, 22.35
    by_month = [
        purchases.conditional_expected_purchases(4.345 * k, x, t_x, T)
        - purchases.conditional_expected_purchases(4.345 * (k - 1), x, t_x, T)
        for k in range(1, 4)
    ]
    value = spend.conditional_expected_average_spend([x], [m])[0]
    expected = sum(value * n / 1.05**k for k, n in enumerate(by_month, start=1))
    clv = spend.customer_lifetime_value(purchases, [x], [t_x], [T], [m], months=3, discount_rate=0.05)
    assert clv[0] == pytest.approx(float(expected), rel=1e-12)


def test_grouped_likelihood_equals_the_per_customer_sum(cdnow_summary_with_transactions):
    from app.analytics.gamma_gamma import _GroupedLikelihood, _log_likelihood_terms

    data = cdnow_summary_with_transactions[cdnow_summary_with_transactions["x"] > 0]
    x, m = data["x"].to_numpy(float), data["zbar"].to_numpy(float)
    params = np.array([5.0, 3.0, 12.0])
    total, grad = _GroupedLikelihood(x, m)(params)
    ll, per_customer = _log_likelihood_terms(params, x, m, gradient=True)
    assert total == pytest.approx(ll.sum(), rel=1e-12)
    np.testing.assert_allclose(grad, per_customer.sum(axis=1), rtol=1e-10)


def test_fit_rejects_non_positive_spend_and_too_few_customers():
    with pytest.raises(AnalyticsInputError, match="positive amounts"):
        GammaGamma.fit([1, 2, 3], [10.0, 0.0, 5.0])
    with pytest.raises(AnalyticsInputError, match="at least 2"):
        GammaGamma.fit([0, 0, 1], [0.0, 0.0, 5.0])


def test_fit_recovers_simulated_parameters():
    rng = np.random.default_rng(11)
    p, q, g = 4.0, 5.0, 60.0
    n = 20_000
    x = rng.integers(1, 12, n).astype(float)
    nu = rng.gamma(q, 1.0 / g, n)
    m = np.array([rng.gamma(p, 1.0 / nu_i, int(k)).mean() for nu_i, k in zip(nu, x, strict=True)])
    model = GammaGamma.fit(x, m)
    assert model.p == pytest.approx(p, rel=0.1)
    assert model.q == pytest.approx(q, rel=0.15)
    assert model.population_mean_spend == pytest.approx(p * g / (q - 1), rel=0.05)
