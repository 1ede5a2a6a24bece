"""Plotly figures for the chat: RFM segments, cohort heatmap, forecast fan chart, CAC/ROAS by channel, win-back.

Each function takes a typed result (or, for channels, a DataFrame) and returns a
`plotly.graph_objects.Figure`; the chat renders it as a plot element and `fig.to_json()` serialises it.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.analytics._validation import require_columns
from app.analytics.churn import ACTIVE_THRESHOLD, CHURNED_THRESHOLD, ChurnResult
from app.analytics.cohort import CohortResult
from app.analytics.forecast import ForecastResult
from app.analytics.rfm import SEGMENTS, RFMResult

SEGMENT_COLORS: dict[str, str] = {
    "Champions": "#1a7f37",
    "Loyal": "#2da44e",
    "Potential Loyalist": "#4ac26b",
    "New Customers": "#54aeff",
    "Promising": "#80ccff",
    "Need Attention": "#d4a72c",
    "About To Sleep": "#bf8700",
    "At Risk": "#e16f24",
    "Can't Lose Them": "#cf222e",
    "Hibernating": "#8c959f",
    "Lost": "#57606a",
}
"""One colour per RFM segment, from healthy (green) to gone (grey)."""

_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 30, "t": 60, "b": 50}}


def rfm_segment_chart(result: RFMResult, kind: Literal["bar", "treemap"] = "bar") -> go.Figure:
    """Customers and revenue per RFM segment.

    Args:
        result: An RFM result.
        kind: `bar` (customers per segment, revenue share in the hover) or `treemap` (area =
            customers, colour = segment).

    Returns:
        The figure.
    """
    order = {name: i for i, name in enumerate(SEGMENTS)}
    segments = sorted(result.segments, key=lambda s: order[s.segment])
    names = [s.segment for s in segments]
    colors = [SEGMENT_COLORS[n] for n in names]
    hover = [
        f"{s.segment}<br>{s.customers:,} customers ({s.share:.1%})<br>revenue ${s.revenue:,.0f} ({s.revenue_share:.1%})"
        for s in segments
    ]
    if kind == "treemap":
        fig = go.Figure(
            go.Treemap(
                labels=names,
                parents=[""] * len(names),
                values=[s.customers for s in segments],
                marker={"colors": colors},
                hovertext=hover,
                hoverinfo="text",
                texttemplate="%{label}<br>%{value:,} customers",
            )
        )
    else:
        fig = go.Figure(
            go.Bar(
                x=names,
                y=[s.customers for s in segments],
                marker_color=colors,
                hovertext=hover,
                hoverinfo="text",
                text=[f"{s.share:.0%}" for s in segments],
                textposition="outside",
            )
        )
        fig.update_yaxes(title_text="customers")
    fig.update_layout(title=f"RFM segments as of {result.as_of.isoformat()} ({result.total_customers:,} customers)")
    fig.update_layout(**_LAYOUT)
    return fig


COHORT_TITLE = "Repeat purchases by first-purchase month"
"""Title of `cohort_heatmap`: what a cell is (a cohort's customers who bought again in a later month)."""
COHORT_MEASURE = "% of cohort buying"
"""What a cell of `cohort_heatmap` holds, for the colour scale and the hover."""


def cohort_heatmap(result: CohortResult, *, title: str = COHORT_TITLE, measure: str = COHORT_MEASURE) -> go.Figure:
    """Each cohort's share buying in each month since its first purchase (rows: cohorts; columns: months).

    Cell (cohort, k) is the percentage of the cohort's customers who bought in the k-th month after their first
    purchase month (k = 0 is the first purchase month itself: 100%). Every cohort is labelled on the y axis.

    Args:
        result: A cohort result.
        title: The chart's title; say what the purchases are ("Hardware repeat purchases ...").
        measure: What a cell holds, for the colour scale and the hover.

    Returns:
        The figure; unobserved cells are blank.
    """
    z = [[None if v is None else round(100.0 * v, 1) for v in row] for row in result.retention]
    labels = [f"{c} (n={n:,})" for c, n in zip(result.cohorts, result.sizes, strict=True)]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(p) for p in result.periods],
            y=labels,
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar={"title": measure},
            text=[["" if v is None else f"{v:.0f}%" for v in row] for row in z],
            texttemplate="%{text}",
            hovertemplate=f"cohort %{{y}}<br>month %{{x}}<br>%{{z:.1f}} {measure}<extra></extra>",
        )
    )
    # Plotly thins the labels of a crowded category axis (every other cohort): name each cohort explicitly,
    # with a row tall enough to read.
    fig.update_yaxes(
        autorange="reversed", title_text="first-purchase month", tickmode="array", tickvals=labels, ticktext=labels
    )
    fig.update_xaxes(
        title_text="months since first purchase", tickmode="array", tickvals=[str(p) for p in result.periods]
    )
    fig.update_layout(title=title, height=max(400, 140 + 22 * len(labels)), **_LAYOUT)
    return fig


def winback_chart(accounts: pd.DataFrame) -> go.Figure:
    """The accounts selected for a win-back campaign, by the 12-month value a reactivation brings back.

    Args:
        accounts: One row per selected account, most valuable first, with columns `customer_id`, `name`, `plan`,
            `mrr` (former MRR) and `clv_12m` (12-month hardware CLV).

    Returns:
        A stacked horizontal bar per account: former MRR × 12 and hardware CLV (every account labelled).

    Raises:
        AnalyticsInputError: if a column is missing.
    """
    require_columns(accounts, ["customer_id", "name", "plan", "mrr", "clv_12m"], what="win-back accounts")
    data = accounts.iloc[::-1]  # the most valuable at the top
    ids = data["customer_id"].astype(str).tolist()
    subscription = (data["mrr"].astype(float) * 12.0).round(2)
    hardware = data["clv_12m"].astype(float).round(2)
    custom = list(zip(data["name"].astype(str), data["plan"].astype(str), strict=True))
    fig = go.Figure()
    for values, name, color in (
        (subscription, "former MRR × 12", "#2da44e"),
        (hardware, "12-month hardware CLV", "#54aeff"),
    ):
        fig.add_trace(
            go.Bar(
                x=values.tolist(),
                y=ids,
                orientation="h",
                name=name,
                marker_color=color,
                customdata=custom,
                hovertemplate=f"%{{y}} %{{customdata[0]}} (%{{customdata[1]}})<br>{name} $%{{x:,.0f}}<extra></extra>",
            )
        )
    fig.update_yaxes(title_text="account", tickmode="array", tickvals=ids, ticktext=ids)
    fig.update_xaxes(title_text="12-month value $ (former MRR × 12 + hardware CLV)")
    fig.update_layout(
        title=f"Win-back: the {len(ids)} selected account{'s' if len(ids) != 1 else ''} by 12-month value",
        barmode="stack",
        height=max(400, 140 + 22 * len(ids)),
        legend={"orientation": "h", "y": -0.15},
        **_LAYOUT,
    )
    return fig


def forecast_fan_chart(result: ForecastResult, *, title: str = "Revenue forecast", unit: str = "$") -> go.Figure:
    """History, point forecast and the prediction band.

    Args:
        result: A forecast result.
        title: Chart title.
        unit: Prefix of values in the hover.

    Returns:
        The figure.
    """
    band = f"{result.interval:.0%} interval"
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=result.dates + result.dates[::-1],
            y=result.upper + result.lower[::-1],
            fill="toself",
            fillcolor="rgba(9,105,218,0.18)",
            line={"width": 0},
            hoverinfo="skip",
            name=band,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=result.history_dates,
            y=result.history,
            mode="lines+markers",
            line={"color": "#24292f"},
            name="actual",
            hovertemplate=f"%{{x}}<br>{unit}%{{y:,.0f}}<extra>actual</extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=result.history_dates[-1:] + result.dates,
            y=result.history[-1:] + result.mean,
            mode="lines+markers",
            line={"color": "#0969da", "dash": "dash"},
            name="forecast",
            hovertemplate=f"%{{x}}<br>{unit}%{{y:,.0f}}<extra>forecast</extra>",
        )
    )
    fig.update_layout(title=f"{title} ({result.method}, {band})", hovermode="x unified", **_LAYOUT)
    return fig


def channel_chart(df: pd.DataFrame) -> go.Figure:
    """CAC and ROAS by marketing channel, side by side, with spend in the hover.

    Args:
        df: One row per channel with columns `channel`, `spend`, `cac` and `roas`.

    Returns:
        The figure.

    Raises:
        AnalyticsInputError: if a column is missing.
    """
    require_columns(df, ["channel", "spend", "cac", "roas"], what="channel metrics")
    data = df.sort_values("roas", ascending=False)
    channels = data["channel"].astype(str).tolist()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("CAC (cost per new customer)", "ROAS (revenue / spend)"))
    fig.add_trace(
        go.Bar(
            x=channels,
            y=data["cac"],
            marker_color="#cf222e",
            name="CAC",
            customdata=data["spend"],
            hovertemplate="%{x}<br>CAC $%{y:,.2f}<br>spend $%{customdata:,.0f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=channels,
            y=data["roas"],
            marker_color="#1a7f37",
            name="ROAS",
            customdata=data["spend"],
            hovertemplate="%{x}<br>ROAS %{y:.2f}x<br>spend $%{customdata:,.0f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_hline(y=1.0, line_dash="dot", line_color="#57606a", row=1, col=2)
    fig.update_layout(title="CAC and ROAS by channel", showlegend=False, **_LAYOUT)
    return fig


def churn_chart(result: ChurnResult, top: int = 15) -> go.Figure:
    """Churn risk: repeat buyers per P(alive) band, and the customers with the most value at risk.

    Args:
        result: A churn analysis (BG/NBD scores per customer).
        top: How many at-risk customers to show on the right.

    Returns:
        The figure.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.35, 0.65],
        subplot_titles=("Repeat buyers by P(alive)", f"Top {top} by value at risk ($ spend × P(churned))"),
    )
    bands = [
        ("active", f"active (≥ {ACTIVE_THRESHOLD:.0%})", "#2da44e"),
        ("at_risk", f"at risk ({CHURNED_THRESHOLD:.0%}–{ACTIVE_THRESHOLD:.0%})", "#d4a72c"),
        ("likely_churned", f"likely churned (< {CHURNED_THRESHOLD:.0%})", "#cf222e"),
    ]
    fig.add_trace(
        go.Bar(
            x=[label for _, label, _ in bands],
            y=[result.bands.get(key, 0) for key, _, _ in bands],
            marker_color=[color for _, _, color in bands],
            name="customers",
            hovertemplate="%{x}: %{y} customers<extra></extra>",
        ),
        row=1,
        col=1,
    )
    risky = result.at_risk(top).iloc[::-1]
    fig.add_trace(
        go.Bar(
            x=risky["value_at_risk"],
            y=risky["customer_id"].astype(str),
            orientation="h",
            marker_color="#e16f24",
            customdata=risky[["p_alive", "total_spend"]].to_numpy(),
            hovertemplate="%{y}: $%{x:,.0f} at risk<br>P(alive) %{customdata[0]:.2f}, spend $%{customdata[1]:,.0f}<extra></extra>",
            name="value at risk",
        ),
        row=1,
        col=2,
    )
    fig.update_layout(title=f"Churn risk (BG/NBD, data to {result.observation_end})", showlegend=False, **_LAYOUT)
    return fig
