"""`gtm insights ...`: RFM segments, churn (BG/NBD), cohort retention, lead scoring, BG/NBD on a file."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.base import CliError, emit_json

if TYPE_CHECKING:
    import pandas as pd


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gtm insights` and its analyses."""
    parser = subparsers.add_parser(
        "insights",
        help="customer analytics: RFM segments, churn, cohorts, lead scoring, BG/NBD",
        description="Customer analytics on the business database (rfm, churn, cohort, leads) or on a file (bgnbd).",
    )
    sub = parser.add_subparsers(dest="insights_command", metavar="ANALYSIS", required=True)

    bg = sub.add_parser(
        "bgnbd",
        help="fit BG/NBD (and Gamma-Gamma) to a transactions file",
        description="Fit the BG/NBD repeat-purchase model by maximum likelihood to a CSV/XLSX transaction log.",
    )
    bg.add_argument("--transactions", required=True, type=Path, metavar="FILE", help="CSV, TSV or XLSX with a header")
    bg.add_argument("--customer-col", required=True, metavar="C", help="customer id column")
    bg.add_argument("--date-col", required=True, metavar="D", help="transaction date column")
    bg.add_argument("--amount-col", metavar="A", help="amount column: also fits Gamma-Gamma")
    bg.add_argument("--observation-end", required=True, metavar="YYYY-MM-DD", help="end of the calibration period")
    bg.add_argument("--time-unit", choices=("W", "D"), default="W", help="unit of recency and T (default W)")
    bg.add_argument(
        "--merge-by",
        choices=("day", "period"),
        default="day",
        help="purchases on the same day count as one (default; Fader-Hardie convention), or all purchases "
        "in the same time-unit period (lifetimes' convention)",
    )
    bg.add_argument("--date-format", metavar="F", help="strftime format of the dates, e.g. %%Y%%m%%d")
    bg.add_argument("--json", action="store_true", help="print one JSON object")
    bg.set_defaults(func=_run_bgnbd)

    rfm = sub.add_parser("rfm", help="RFM scores and named segments of all customers")
    rfm.add_argument(
        "--as-of", metavar="YYYY-MM-DD", help="date recency is measured to (default: after the last order)"
    )
    rfm.add_argument("--top", type=int, default=20, help="customer ids listed per segment (default 20)")
    rfm.add_argument("--chart", type=Path, metavar="HTML", help="also write the segment chart to this HTML file")
    rfm.add_argument("--json", action="store_true", help="print one JSON object")
    rfm.set_defaults(func=_run_rfm)

    churn = sub.add_parser("churn", help="probability-alive and CLV per customer (BG/NBD + Gamma-Gamma)")
    churn.add_argument("--as-of", metavar="YYYY-MM-DD", help="scoring date (default: the last order date)")
    churn.add_argument("--horizon-days", type=int, default=90, help="future period for expected purchases (90)")
    churn.add_argument("--time-unit", choices=("W", "D"), default="W", help="model time unit (default W)")
    churn.add_argument("--top", type=int, default=20, help="at-risk customers listed (default 20)")
    churn.add_argument("--json", action="store_true", help="print one JSON object")
    churn.set_defaults(func=_run_churn)

    cohort = sub.add_parser("cohort", help="monthly cohort retention matrix")
    cohort.add_argument("--end", metavar="YYYY-MM-DD", help="last date included (default: the last order)")
    cohort.add_argument("--max-periods", type=int, help="months after the first shown (default: all)")
    cohort.add_argument("--chart", type=Path, metavar="HTML", help="also write the heatmap to this HTML file")
    cohort.add_argument("--json", action="store_true", help="print one JSON object")
    cohort.set_defaults(func=_run_cohort)

    leads = sub.add_parser("leads", help="lead scoring: logistic regression with a held-out AUC")
    leads.add_argument("--target-col", default="converted", help="outcome column (default converted)")
    leads.add_argument("--id-col", default="lead_id", help="lead id column (default lead_id)")
    leads.add_argument("--top", type=int, default=20, help="top open leads listed (default 20)")
    leads.add_argument("--json", action="store_true", help="print one JSON object")
    leads.set_defaults(func=_run_leads)


def _date_arg(value: str | None, option: str) -> dt.date | None:
    """Parse an optional YYYY-MM-DD option."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CliError(f"{option} must be a date like 2024-06-30, got {value!r}") from exc


def _engine() -> Any:
    """The business database engine from the settings."""
    try:
        from app.data.db import get_engine
    except ImportError as exc:
        raise CliError("the business database module (app.data) is not available") from exc
    from app.settings import get_settings

    return get_engine(get_settings().business_db_url)


def _transactions() -> pd.DataFrame:
    """All transactions of the business database."""
    try:
        from app.data.queries import transactions_frame
    except ImportError as exc:
        raise CliError("the business database module (app.data) is not available") from exc

    try:
        frame = transactions_frame(_engine(), start=None, end=None)
    except CliError:
        raise
    except Exception as exc:  # noqa: BLE001 - a missing database or table is a user-facing condition
        raise CliError(
            f"could not read transactions from the business database ({type(exc).__name__}: {exc}); "
            "run `gtm data seed` or `gtm data import transactions ...` first"
        ) from exc
    if frame.empty:
        raise CliError("the business database has no transactions; run `gtm data seed` or `gtm data import ...`")
    return frame


def _write_chart(figure: Any, path: Path | None) -> None:
    """Write a plotly figure as a standalone HTML file (plotly.js embedded, works offline)."""
    if path is not None:
        figure.write_html(str(path), include_plotlyjs=True, full_html=True)


def _run_bgnbd(args: argparse.Namespace) -> int:
    """Fit BG/NBD (and Gamma-Gamma) to a transactions file."""
    from app.analytics._validation import AnalyticsInputError
    from app.analytics.bgnbd import BGNBD, summary_from_transactions
    from app.analytics.gamma_gamma import GammaGamma
    from app.analytics.tables import read_table

    end = _date_arg(args.observation_end, "--observation-end")
    try:
        frame = read_table(args.transactions, text_columns=[args.customer_col, args.date_col])
        summary = summary_from_transactions(
            frame,
            args.customer_col,
            args.date_col,
            end,
            args.time_unit,
            args.amount_col,
            date_format=args.date_format,
            merge_by=args.merge_by,
        )
        model = BGNBD.fit(summary["frequency"], summary["recency"], summary["T"])
        spend = GammaGamma.fit(summary["frequency"], summary["monetary_value"]) if args.amount_col else None
    except AnalyticsInputError as exc:
        raise CliError(str(exc)) from exc
    out: dict[str, Any] = {
        "r": model.r,
        "alpha": model.alpha,
        "a": model.a,
        "b": model.b,
        "log_likelihood": model.log_likelihood,
        "n_customers": model.n_customers,
        "converged": model.converged,
        "time_unit": args.time_unit,
        "merge_by": args.merge_by,
        "observation_end": end.isoformat() if end else None,
        "repeat_customers": int((summary["frequency"] > 0).sum()),
    }
    if spend is not None:
        out["gamma_gamma"] = {
            "p": spend.p,
            "q": spend.q,
            "gamma": spend.gamma,
            "log_likelihood": spend.log_likelihood,
            "n_customers": spend.n_customers,
            "converged": spend.converged,
        }
    if args.json:
        emit_json(out)
        return 0
    print(f"BG/NBD on {model.n_customers:,} customers ({out['repeat_customers']:,} with repeat purchases)")
    print(f"  r = {model.r:.4f}  alpha = {model.alpha:.4f}  a = {model.a:.4f}  b = {model.b:.4f}")
    print(f"  log-likelihood = {model.log_likelihood:,.2f}  (time unit {args.time_unit}, merged by {args.merge_by})")
    if spend is not None:
        print(f"Gamma-Gamma on {spend.n_customers:,} repeat customers")
        print(f"  p = {spend.p:.4f}  q = {spend.q:.4f}  gamma = {spend.gamma:.4f}  LL = {spend.log_likelihood:,.2f}")
    return 0


def _run_rfm(args: argparse.Namespace) -> int:
    """RFM segments of the business database's customers."""
    from app.analytics._validation import AnalyticsInputError
    from app.analytics.rfm import rfm_segments

    as_of = _date_arg(args.as_of, "--as-of")
    frame = _transactions()
    try:
        result = rfm_segments(frame, as_of, order_col="order_id" if "order_id" in frame.columns else None)
    except AnalyticsInputError as exc:
        raise CliError(str(exc)) from exc
    if args.chart:
        from app.analytics.charts import rfm_segment_chart

        _write_chart(rfm_segment_chart(result), args.chart)
    if args.json:
        emit_json(result.to_dict(max_customers_per_segment=args.top))
        return 0
    print(f"RFM segments as of {result.as_of} ({result.total_customers:,} customers, ${result.total_revenue:,.2f})")
    for s in result.segments:
        print(
            f"  {s.segment:<20} {s.customers:>7,} customers ({s.share:6.1%})  revenue ${s.revenue:>14,.2f} "
            f"({s.revenue_share:6.1%})"
        )
    return 0


def _run_churn(args: argparse.Namespace) -> int:
    """Probability-alive, expected purchases and CLV of the business database's customers."""
    from app.analytics._validation import AnalyticsInputError
    from app.analytics.churn import churn_analysis

    as_of = _date_arg(args.as_of, "--as-of")
    frame = _transactions()
    try:
        result = churn_analysis(frame, observation_end=as_of, time_unit=args.time_unit, horizon_days=args.horizon_days)
    except AnalyticsInputError as exc:
        raise CliError(str(exc)) from exc
    data = result.to_dict(top=args.top)
    if args.json:
        emit_json(data)
        return 0
    m = result.model
    print(f"Churn as of {result.observation_end}: BG/NBD r={m.r:.3f} alpha={m.alpha:.3f} a={m.a:.3f} b={m.b:.3f}")
    print(f"  {data['n_customers']:,} customers, expected active {data['expected_active_customers']:,.0f}")
    print("  repeat buyers: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result.bands.items()))
    print(f"  most valuable at risk (top {args.top}):")
    for row in data["at_risk"]:
        print(f"    {row['customer_id']:<14} P(alive) {row['p_alive']:.2f}  spend ${row['total_spend']:,.2f}")
    return 0


def _run_cohort(args: argparse.Namespace) -> int:
    """Monthly cohort retention of the business database's customers."""
    from app.analytics._validation import AnalyticsInputError
    from app.analytics.cohort import cohort_retention

    end = _date_arg(args.end, "--end")
    frame = _transactions()
    try:
        result = cohort_retention(frame, end=end, max_periods=args.max_periods)
    except AnalyticsInputError as exc:
        raise CliError(str(exc)) from exc
    if args.chart:
        from app.analytics.charts import cohort_heatmap

        _write_chart(cohort_heatmap(result), args.chart)
    if args.json:
        emit_json(result.to_dict())
        return 0
    print(f"Cohort retention (% of each cohort active), through {result.last_month}")
    for cohort, size, row in zip(result.cohorts, result.sizes, result.retention, strict=True):
        cells = " ".join(f"{100 * v:5.1f}" if v is not None else "    ." for v in row[:13])
        print(f"  {cohort} n={size:<6,} {cells}")
    return 0


def _run_leads(args: argparse.Namespace) -> int:
    """Lead scoring on the business database's leads."""
    from app.analytics._validation import AnalyticsInputError
    from app.analytics.leads import score_leads

    try:
        from app.data.queries import leads_frame
    except ImportError as exc:
        raise CliError("the business database module (app.data) is not available") from exc

    try:
        frame = leads_frame(_engine())
    except CliError:
        raise
    except Exception as exc:  # noqa: BLE001 - a missing database or table is a user-facing condition
        raise CliError(f"could not read leads from the business database ({type(exc).__name__}: {exc})") from exc
    id_col = args.id_col if args.id_col in frame.columns else None
    try:
        result = score_leads(frame, args.target_col, id_col=id_col)
    except AnalyticsInputError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        emit_json(result.to_dict(top=args.top))
        return 0
    print(f"Lead scoring: held-out AUC {result.auc:.3f} ({result.n_test:,} leads held out, {result.n_train:,} trained)")
    for feature, coef in result.coefficients[:8]:
        print(f"  {feature:<40} {coef:+.3f}")
    return 0
