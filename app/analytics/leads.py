"""Lead scoring (a logistic regression of conversion on lead features, with a held-out AUC) and lead counts.

Generic over the feature columns: numeric (and boolean) columns are median-imputed and standardised,
text and categorical columns are one-hot encoded (unknown categories ignored). Labelled leads are
split into training and held-out sets with a fixed seed, stratified by outcome; the AUC on the
held-out leads says how well the score ranks converters above non-converters (0.5 = chance). Leads
whose outcome is missing (still open) are scored but not used for training.

`count_leads` counts the leads created in a period, by source channel (or another column), with how many
of them converted so far and the count of a comparison period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.analytics._validation import AnalyticsInputError, require_columns

MIN_PER_CLASS = 10
"""Fewest converted and non-converted labelled leads needed to train and evaluate."""


@dataclass(frozen=True)
class LeadScoringResult:
    """A fitted lead-scoring model's evaluation and the score of every lead.

    Attributes:
        auc: ROC AUC on the held-out leads.
        n_train: Labelled leads used for training.
        n_test: Labelled leads held out for the AUC.
        conversion_rate: Share of labelled leads that converted.
        scores: One row per input lead (input order): `lead` (the id column, or the row position),
            `score` (probability of converting), `rank` (1 = best) and `label` (the known outcome or NaN).
        coefficients: (feature, coefficient on the standardised / one-hot scale), largest magnitude first.
        numeric_features: Numeric columns used.
        categorical_features: Categorical columns used.
        dropped_features: Columns left out and why.
    """

    auc: float
    n_train: int
    n_test: int
    conversion_rate: float
    scores: pd.DataFrame
    coefficients: list[tuple[str, float]]
    numeric_features: list[str]
    categorical_features: list[str]
    dropped_features: dict[str, str] = field(default_factory=dict)

    def top_leads(self, n: int = 10, *, open_only: bool = True) -> pd.DataFrame:
        """The n best-scored leads, by default only those without a known outcome.

        Args:
            n: How many.
            open_only: Skip leads whose outcome is already known.

        Returns:
            Rows of `scores`, best first.
        """
        frame = self.scores[self.scores["label"].isna()] if open_only else self.scores
        return frame.sort_values("rank").head(n)

    def to_dict(self, *, top: int = 20) -> dict[str, Any]:
        """A JSON-ready summary: metrics, the strongest coefficients and the top-scored open leads.

        Args:
            top: How many coefficients and leads to list.

        Returns:
            The result as plain Python types.
        """
        leads = self.top_leads(top, open_only=bool(self.scores["label"].isna().any()))
        return {
            "auc": self.auc,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "conversion_rate": self.conversion_rate,
            "numeric_features": self.numeric_features,
            "categorical_features": self.categorical_features,
            "dropped_features": self.dropped_features,
            "coefficients": [{"feature": f, "coefficient": c} for f, c in self.coefficients[:top]],
            "top_leads": [
                {"lead": str(row.lead), "score": float(row.score), "rank": int(row.rank)}
                for row in leads.itertuples(index=False)
            ],
        }


def _to_label(values: pd.Series, column: str) -> pd.Series:
    """Outcome as float 1/0 with NaN for unknown; accepts booleans, 0/1 and yes/no text."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    if pd.api.types.is_numeric_dtype(values):
        numeric = values.astype("float64")
    else:
        mapping = {"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0, "won": 1.0, "lost": 0.0}
        text = values.astype("string").str.strip().str.lower()
        numeric = text.map(mapping).astype("float64")
        unknown = text.notna() & numeric.isna()
        if unknown.any():
            raise AnalyticsInputError(
                f"target column {column!r} must be 0/1, true/false or yes/no; found {text[unknown].iloc[0]!r}"
            )
    bad = numeric.notna() & ~numeric.isin([0.0, 1.0])
    if bad.any():
        raise AnalyticsInputError(f"target column {column!r} must be 0 or 1; found {numeric[bad].iloc[0]!r}")
    return numeric


def score_leads(
    df: pd.DataFrame,
    target_col: str = "converted",
    *,
    id_col: str | None = None,
    feature_cols: list[str] | None = None,
    exclude_cols: list[str] | None = None,
    test_size: float = 0.25,
    seed: int = 42,
) -> LeadScoringResult:
    """Train a logistic regression on labelled leads and score every lead.

    Args:
        df: One row per lead.
        target_col: Outcome column (1/True = converted); missing values mark open leads.
        id_col: Lead id column, reported with the scores and never used as a feature.
        feature_cols: Features to use; all other columns when `None`. Then date columns, text columns
            unique per lead (identifiers) and columns named like the outcome (`converted_date`,
            `converted_customer_id` for target `converted`: they would leak the answer) are left out.
        exclude_cols: Columns never used as features.
        test_size: Share of labelled leads held out for the AUC.
        seed: Random seed of the split and the solver.

    Returns:
        The held-out AUC, coefficients and scores.

    Raises:
        AnalyticsInputError: on missing columns, an unusable target, no features, or too few
            converted / non-converted leads.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    require_columns(df, [target_col, id_col, *(feature_cols or [])], what="leads")
    if not 0.05 <= test_size <= 0.5:
        raise AnalyticsInputError("test_size must be between 0.05 and 0.5")
    labels = _to_label(df[target_col], target_col)
    explicit = feature_cols is not None
    excluded = set(exclude_cols or [])
    candidates = (
        feature_cols
        if feature_cols is not None
        else [c for c in df.columns if c not in (target_col, id_col) and c not in excluded]
    )
    numeric: list[str] = []
    categorical: list[str] = []
    dropped: dict[str, str] = {}
    for col in candidates:
        series = df[col]
        if not explicit and str(col).startswith(f"{target_col}_"):
            dropped[col] = "describes the outcome (would leak the answer)"
            continue
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            numeric.append(col)
        elif pd.api.types.is_datetime64_any_dtype(series):
            dropped[col] = "date column (derive a numeric feature such as age in days instead)"
        elif series.isna().all():
            dropped[col] = "no values"
        elif not explicit and series.nunique(dropna=True) > max(50, 0.5 * len(series)):
            dropped[col] = "looks like an identifier (almost every value is unique)"
        else:
            categorical.append(col)
    if not numeric and not categorical:
        raise AnalyticsInputError("no usable feature columns for lead scoring")

    labelled = labels.notna().to_numpy()
    y = labels[labelled].to_numpy(dtype=np.int64)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if min(positives, negatives) < MIN_PER_CLASS:
        raise AnalyticsInputError(
            f"need at least {MIN_PER_CLASS} converted and {MIN_PER_CLASS} non-converted leads; "
            f"have {positives} converted and {negatives} not converted"
        )
    features = df[numeric + categorical].copy()
    for col in numeric:
        features[col] = pd.to_numeric(features[col], errors="coerce").astype("float64")
    for col in categorical:
        features[col] = features[col].astype("string").fillna("(missing)").astype(object)
    transformers: list[tuple[str, Pipeline, list[str]]] = []
    if numeric:
        transformers.append(("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        transformers.append(("cat", make_pipeline(OneHotEncoder(handle_unknown="ignore")), categorical))
    model = Pipeline(
        [
            ("prep", ColumnTransformer(transformers)),
            ("logit", LogisticRegression(max_iter=2000, random_state=seed)),
        ]
    )
    x_labelled = features[labelled]
    x_train, x_test, y_train, y_test = train_test_split(
        x_labelled, y, test_size=test_size, random_state=seed, stratify=y
    )
    if len(np.unique(y_test)) < 2:
        raise AnalyticsInputError("the held-out leads contain only one outcome; provide more labelled leads")
    model.fit(x_train, y_train)
    auc = float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
    probabilities = model.predict_proba(features)[:, 1]
    names = [name.split("__", 1)[1] for name in model.named_steps["prep"].get_feature_names_out()]
    coefs = model.named_steps["logit"].coef_[0]
    ranked = sorted(zip(names, (float(c) for c in coefs), strict=True), key=lambda item: -abs(item[1]))
    lead_ids = df[id_col].to_numpy() if id_col is not None else np.arange(len(df))
    scores = pd.DataFrame({"lead": lead_ids, "score": probabilities, "label": labels.to_numpy()})
    scores["rank"] = scores["score"].rank(ascending=False, method="first").astype(np.int64)
    return LeadScoringResult(
        auc=auc,
        n_train=len(y_train),
        n_test=len(y_test),
        conversion_rate=positives / len(y),
        scores=scores[["lead", "score", "rank", "label"]],
        coefficients=ranked,
        numeric_features=numeric,
        categorical_features=categorical,
        dropped_features=dropped,
    )


@dataclass(frozen=True)
class LeadCounts:
    """How many leads were created in a period, in total and by a grouping column, vs the period before.

    Attributes:
        total: Leads created in the period.
        previous_total: Leads created in the comparison period (`None` when none was given).
        converted: Of the period's leads, how many have converted so far.
        by_group: (group value, leads, converted so far), most leads first (ties by name).
        group_col: The column grouped by.
    """

    total: int
    previous_total: int | None
    converted: int
    by_group: list[tuple[str, int, int]]
    group_col: str

    @property
    def change_pct(self) -> float | None:
        """Percentage change of `total` vs `previous_total` (None when there is no previous count or it is 0)."""
        if not self.previous_total:
            return None
        return (self.total - self.previous_total) / self.previous_total * 100.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "total": self.total,
            "previous_total": self.previous_total,
            "change_pct": None if self.change_pct is None else round(self.change_pct, 2),
            "converted": self.converted,
            "group_col": self.group_col,
            "by_group": [{"group": g, "leads": n, "converted": c} for g, n, c in self.by_group],
        }


def count_leads(
    df: pd.DataFrame,
    start: Any,
    end: Any,
    *,
    date_col: str = "created_date",
    group_col: str = "source_channel",
    target_col: str | None = "converted",
    previous: tuple[Any, Any] | None = None,
) -> LeadCounts:
    """Count the leads created between two dates (inclusive), by `group_col`.

    Args:
        df: One row per lead.
        start: First day of the period (a date or anything `pd.Timestamp` reads).
        end: Last day of the period, inclusive (a lead created at any time that day counts).
        date_col: When each lead was created.
        group_col: Column to break the count down by (the source channel by default).
        target_col: Outcome column (1/True = converted) for the converted-so-far counts; `None` to skip.
        previous: (start, end) of a comparison period, counted the same way.

    Returns:
        The counts.

    Raises:
        AnalyticsInputError: on missing columns.
    """
    require_columns(df, [date_col, group_col, *([target_col] if target_col else [])], what="leads")
    created = pd.to_datetime(df[date_col], errors="coerce")

    def within(lo: Any, hi: Any) -> pd.Series:
        first = pd.Timestamp(lo).normalize()
        after_last = pd.Timestamp(hi).normalize() + pd.Timedelta(days=1)
        return (created >= first) & (created < after_last)

    rows = df[within(start, end)]
    won = _to_label(rows[target_col], target_col).fillna(0.0) if target_col else pd.Series(0.0, index=rows.index)
    groups = rows[group_col].astype("string").fillna("(missing)")
    table = pd.DataFrame({"group": groups, "won": won}).groupby("group")["won"].agg(["size", "sum"])
    by_group = sorted(
        ((str(g), int(r["size"]), int(r["sum"])) for g, r in table.iterrows()), key=lambda item: (-item[1], item[0])
    )
    return LeadCounts(
        total=len(rows),
        previous_total=int(within(*previous).sum()) if previous is not None else None,
        converted=int(won.sum()),
        by_group=by_group,
        group_col=group_col,
    )
