from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from app.analytics._validation import AnalyticsInputError
from app.analytics.leads import score_leads


def synthetic_leads(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    employees = rng.lognormal(4, 1.2, n).round()
    source = rng.choice(["paid_search", "events", "partners", "display"], n)
    pages = rng.poisson(4, n)
    noise = rng.normal(0, 1, n)
    logit = -2.0 + 0.6 * np.log(employees) / 2 + 0.25 * pages + np.where(source == "partners", 1.2, 0.0)
    logit += np.where(source == "display", -1.0, 0.0) - 1.0
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "lead_id": [f"L{i:05d}" for i in range(n)],
            "email": [f"person{i}@example.com" for i in range(n)],
            "employees": employees,
            "source": source,
            "pages_viewed": pages,
            "noise": noise,
            "created_at": pd.date_range("2024-01-01", periods=n, freq="h"),
            "converted": converted,
            # Outcome details only known after conversion: must never be features.
            "converted_customer_id": np.where(converted, [f"C{i}" for i in range(n)], None),
            "converted_date": pd.to_datetime(np.where(converted, "2024-06-01", None)),
        }
    )


def test_scores_every_lead_and_reports_a_held_out_auc():
    leads = synthetic_leads()
    result = score_leads(leads, "converted", id_col="lead_id")
    assert 0.7 < result.auc < 1.0
    assert result.n_test == 300 and result.n_train == 900
    assert result.numeric_features == ["employees", "pages_viewed", "noise"]
    assert result.categorical_features == ["source"]
    assert set(result.dropped_features) == {"email", "created_at", "converted_customer_id", "converted_date"}
    assert "leak" in result.dropped_features["converted_customer_id"]
    assert len(result.scores) == len(leads)
    assert result.scores["lead"].tolist() == leads["lead_id"].tolist()
    assert result.scores["score"].between(0, 1).all()
    assert sorted(result.scores["rank"]) == list(range(1, len(leads) + 1))
    coefs = dict(result.coefficients)
    assert coefs["source_partners"] > 0 > coefs["source_display"]
    assert coefs["pages_viewed"] > abs(coefs["noise"])
    data = result.to_dict(top=5)
    json.dumps(data)
    assert len(data["top_leads"]) == 5 and data["top_leads"][0]["rank"] == 1


def test_same_seed_same_result_and_open_leads_are_scored_not_trained():
    leads = synthetic_leads()
    leads["converted"] = leads["converted"].astype(object)
    leads.loc[:99, "converted"] = None  # 100 open leads
    first = score_leads(leads, id_col="lead_id")
    second = score_leads(leads, id_col="lead_id")
    assert first.auc == second.auc
    assert first.n_train + first.n_test == 1100
    top = first.top_leads(10)
    assert len(top) == 10 and top["label"].isna().all()
    assert top["score"].is_monotonic_decreasing


def test_explicit_feature_columns_and_text_targets():
    leads = synthetic_leads(400, seed=3)
    leads["converted"] = np.where(leads["converted"], "yes", "no")
    result = score_leads(leads, feature_cols=["pages_viewed", "source"])
    assert result.numeric_features == ["pages_viewed"] and result.categorical_features == ["source"]
    excluded = score_leads(leads, exclude_cols=["noise", "email"])
    assert "noise" not in excluded.numeric_features and "email" not in excluded.dropped_features
    assert result.scores["lead"].tolist() == list(range(400))


def test_errors():
    leads = synthetic_leads(200)
    leads["converted"] = False
    leads.loc[:4, "converted"] = True
    with pytest.raises(AnalyticsInputError, match="at least 10 converted"):
        score_leads(leads)
    with pytest.raises(AnalyticsInputError, match="must be 0/1"):
        score_leads(leads.assign(converted="maybe"))
    with pytest.raises(AnalyticsInputError, match="no column"):
        score_leads(leads, "won")
