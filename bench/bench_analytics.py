"""Benchmark: RFM + BG/NBD + Gamma-Gamma on 1,000,000 transactions of 100,000 customers, vs lifetimes.

Run with `.venv/bin/python bench/bench_analytics.py` (options: --customers, --seed, --keep).

The transactions are simulated from a BG/NBD purchase process with Gamma-Gamma spend and known
parameters (some purchases are split into two same-day rows, so merging matters). The project's code
runs in this interpreter; the `lifetimes` package runs in a separate virtualenv,
`bench/.venv-lifetimes`, created on first use (lifetimes is never a project dependency), on the same
data exchanged through a CSV file. The script checks that both produce identical summaries and prints
timings and speed ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.analytics.bgnbd import BGNBD, _GroupedLikelihood, bgnbd_log_likelihood, summary_from_transactions  # noqa: E402
from app.analytics.gamma_gamma import GammaGamma  # noqa: E402
from app.analytics.rfm import rfm_segments  # noqa: E402

LIFETIMES_VENV = ROOT / "bench" / ".venv-lifetimes"
TRUE_BGNBD = {"r": 0.9, "alpha": 20.3, "a": 0.8, "b": 9.0}  # time unit: days
TRUE_GG = {"p": 5.0, "q": 4.0, "gamma": 150.0}
HISTORY_DAYS = 730
OBSERVATION_END = pd.Timestamp("2024-12-31")
SPLIT_SHARE = 0.08  # share of purchases recorded as two rows on the same day
T = TypeVar("T")

LIFETIMES_SCRIPT = textwrap.dedent(
    """
    import json, sys, time, warnings
    warnings.filterwarnings("ignore")
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    data_path, out_dir, end = sys.argv[1], sys.argv[2], sys.argv[3]
    df = pd.read_csv(data_path, dtype={"customer_id": str}, parse_dates=["date"])
    timings = {}
    t = time.perf_counter()
    summary = summary_data_from_transaction_data(
        df, "customer_id", "date", monetary_value_col="amount", observation_period_end=end, freq="D"
    )
    timings["summary_D"] = time.perf_counter() - t
    t = time.perf_counter()
    weekly = summary_data_from_transaction_data(df, "customer_id", "date", observation_period_end=end, freq="W")
    timings["summary_W"] = time.perf_counter() - t
    t = time.perf_counter()
    bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    timings["bgnbd_fit"] = time.perf_counter() - t
    repeat = summary[summary["frequency"] > 0]
    t = time.perf_counter()
    ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    timings["gamma_gamma_fit"] = time.perf_counter() - t
    summary.to_csv(f"{out_dir}/lifetimes_summary_D.csv")
    weekly.to_csv(f"{out_dir}/lifetimes_summary_W.csv")
    params = {k: float(v) for k, v in bgf.params_.items()}
    params.update({f"gg_{k}": float(v) for k, v in ggf.params_.items()})
    json.dump({"timings": timings, "params": params}, open(f"{out_dir}/lifetimes.json", "w"))
    """
)


def ensure_lifetimes_venv() -> Path:
    """Create `bench/.venv-lifetimes` with lifetimes and the project's numpy/pandas/scipy versions if needed."""
    python = LIFETIMES_VENV / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import lifetimes"], capture_output=True).returncode == 0:
        return python
    base = shutil.which("python3") or sys.executable
    print(f"creating {LIFETIMES_VENV.relative_to(ROOT)} (lifetimes 0.11.3) ...", flush=True)
    subprocess.run([base, "-m", "venv", str(LIFETIMES_VENV)], check=True)
    pins = [f"numpy=={version('numpy')}", f"pandas=={version('pandas')}", f"scipy=={version('scipy')}"]
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "lifetimes==0.11.3", "setuptools<81", *pins],
        check=True,
    )
    return python


def simulate(customers: int, seed: int) -> pd.DataFrame:
    """Transactions of a BG/NBD purchase process with Gamma-Gamma spend (times in days)."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = TRUE_BGNBD.values()
    p_shape, q, gamma = TRUE_GG.values()
    first_day = rng.integers(0, HISTORY_DAYS, customers)  # days before the observation end
    rate = rng.gamma(r, 1.0 / alpha, customers)
    dropout = rng.beta(a, b, customers)
    nu = rng.gamma(q, 1.0 / gamma, customers)
    owners = [np.arange(customers)]
    offsets = [np.zeros(customers)]
    clock = np.zeros(customers)
    active = np.arange(customers)
    while len(active):
        clock[active] += rng.exponential(1.0 / rate[active])
        bought = active[clock[active] <= first_day[active]]
        owners.append(bought)
        offsets.append(clock[bought])
        active = bought[rng.random(len(bought)) >= dropout[bought]]
    owner = np.concatenate(owners)
    offset = np.floor(np.concatenate(offsets)).astype(np.int64)
    amount = rng.gamma(p_shape, 1.0 / nu[owner])
    split = rng.random(len(owner)) < SPLIT_SHARE
    share = rng.uniform(0.2, 0.8, int(split.sum()))
    first_part = amount.copy()
    first_part[split] = amount[split] * share
    owner = np.concatenate([owner, owner[split]])
    offset = np.concatenate([offset, offset[split]])
    amount = np.concatenate([first_part, amount[split] * (1.0 - share)])
    days = OBSERVATION_END.normalize() - pd.to_timedelta(first_day[owner] - offset, unit="D")
    frame = pd.DataFrame(
        {
            "customer_id": np.char.add("C", np.char.zfill(owner.astype(str), 6)),
            "date": days,
            "amount": np.round(amount, 2),
        }
    )
    order = rng.permutation(len(frame))
    return frame.iloc[order].reset_index(drop=True)


def timed(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """Run fn and return (result, seconds)."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - started


def compare(ours: pd.DataFrame, theirs: pd.DataFrame, columns: list[str]) -> str:
    """'identical' or a description of the first difference."""
    ours = ours.sort_index()
    theirs = theirs.sort_index()
    if list(ours.index.astype(str)) != list(theirs.index.astype(str)):
        return f"different customers ({len(ours)} vs {len(theirs)})"
    for col in columns:
        a, b = ours[col].to_numpy(float), theirs[col].to_numpy(float)
        exact = col != "monetary_value"
        same = np.array_equal(a, b) if exact else np.allclose(a, b, rtol=1e-9, atol=1e-9)
        if not same:
            i = int(np.flatnonzero(~np.isclose(a, b, rtol=1e-9, atol=1e-9) if not exact else a != b)[0])
            return f"{col} differs for {ours.index[i]}: {a[i]} vs {b[i]}"
    return "identical" + (" (monetary_value to 1e-9)" if "monetary_value" in columns else "")


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args()

    lifetimes_python = ensure_lifetimes_venv()
    df, sim_s = timed(simulate, args.customers, args.seed)
    print(f"simulated {len(df):,} transactions of {df['customer_id'].nunique():,} customers in {sim_s:.1f} s")

    tmp = Path(tempfile.mkdtemp(prefix="bench-analytics-"))
    data_path = tmp / "transactions.csv"
    df.to_csv(data_path, index=False, date_format="%Y-%m-%d")
    # Both sides start from the same parsed frame (CSV round trip, dates parsed), reading not timed.
    df = pd.read_csv(data_path, dtype={"customer_id": str}, parse_dates=["date"])

    ours: dict[str, float] = {}
    rfm, ours["rfm"] = timed(rfm_segments, df, OBSERVATION_END, customer_col="customer_id", date_col="date")
    summary, ours["summary_D"] = timed(
        summary_from_transactions, df, "customer_id", "date", OBSERVATION_END, "D", "amount"
    )
    weekly, ours["summary_W"] = timed(summary_from_transactions, df, "customer_id", "date", OBSERVATION_END, "W")
    model, ours["bgnbd_fit"] = timed(BGNBD.fit, summary["frequency"], summary["recency"], summary["T"])
    spend, ours["gamma_gamma_fit"] = timed(GammaGamma.fit, summary["frequency"], summary["monetary_value"])
    x, t_x, t = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    params = np.array([model.r, model.alpha, model.a, model.b])
    likelihood = _GroupedLikelihood(x, t_x, t, np.ones_like(x))
    _, ll_eval = timed(likelihood, params)

    print("running lifetimes 0.11.3 in bench/.venv-lifetimes ...", flush=True)
    subprocess.run(
        [lifetimes_python, "-c", LIFETIMES_SCRIPT, str(data_path), str(tmp), str(OBSERVATION_END.date())],
        check=True,
    )
    theirs_out = json.loads((tmp / "lifetimes.json").read_text())
    theirs = theirs_out["timings"]
    lt_params = theirs_out["params"]
    lt_summary = pd.read_csv(tmp / "lifetimes_summary_D.csv", dtype={"customer_id": str}).set_index("customer_id")
    lt_weekly = pd.read_csv(tmp / "lifetimes_summary_W.csv", dtype={"customer_id": str}).set_index("customer_id")

    print()
    print(f"{'stage':<34}{'ours (s)':>10}{'lifetimes (s)':>15}{'speed-up':>10}")
    rows = [
        ("RFM scores + segments", "rfm"),
        ("summary, freq D (+ monetary)", "summary_D"),
        ("summary, freq W", "summary_W"),
        ("BG/NBD fit (MLE)", "bgnbd_fit"),
        ("Gamma-Gamma fit (MLE)", "gamma_gamma_fit"),
    ]
    for label, key in rows:
        lt = theirs.get(key)
        ratio = f"{lt / ours[key]:.1f}x" if lt else "-"
        print(f"{label:<34}{ours[key]:>10.3f}{(f'{lt:.3f}' if lt else '-'):>15}{ratio:>10}")
    pipeline = ["rfm", "summary_D", "bgnbd_fit", "gamma_gamma_fit"]
    shared = ["summary_D", "bgnbd_fit", "gamma_gamma_fit"]
    total_ours = sum(ours[k] for k in pipeline)
    shared_ours, shared_theirs = sum(ours[k] for k in shared), sum(theirs[k] for k in shared)
    print(f"{'RFM + summary + BG/NBD + GG (ours)':<34}{total_ours:>10.3f}{'':>15}{'':>10}")
    print(f"{'summary + BG/NBD + GG (both)':<34}{shared_ours:>10.3f}{shared_theirs:>15.3f}"
          f"{shared_theirs / shared_ours:>9.1f}x")  # fmt: skip
    print(f"one log-likelihood + gradient evaluation, {len(summary):,} customers: {ll_eval * 1000:.1f} ms")
    print()
    print(
        f"summary freq D vs lifetimes: {compare(summary, lt_summary, ['frequency', 'recency', 'T', 'monetary_value'])}"
    )
    print(f"summary freq W vs lifetimes: {compare(weekly, lt_weekly, ['frequency', 'recency', 'T'])}")
    print()
    print(f"{'parameter':<10}{'true':>10}{'ours':>12}{'lifetimes':>12}")
    for name in ("r", "alpha", "a", "b"):
        print(f"{name:<10}{TRUE_BGNBD[name]:>10.3f}{getattr(model, name):>12.4f}{lt_params[name]:>12.4f}")
    for name, lt_name in (("p", "gg_p"), ("q", "gg_q"), ("gamma", "gg_v")):
        print(f"{name:<10}{TRUE_GG[name]:>10.3f}{getattr(spend, name):>12.4f}{lt_params[lt_name]:>12.4f}")
    lt_ll = float(
        bgnbd_log_likelihood(lt_params["r"], lt_params["alpha"], lt_params["a"], lt_params["b"], x, t_x, t).sum()
    )
    print(f"{'BG/NBD LL':<10}{'':>10}{model.log_likelihood:>12.1f}{lt_ll:>12.1f}")
    print(f"segments: {', '.join(f'{s.segment} {s.customers:,}' for s in rfm.segments)}")

    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "bench_analytics.json").write_text(
        json.dumps(
            {
                "transactions": len(df),
                "customers": int(df["customer_id"].nunique()),
                "ours_s": ours,
                "lifetimes_s": theirs,
                "pipeline_total_s": total_ours,
                "speedup_shared_stages": shared_theirs / shared_ours,
                "params_ours": {**model.to_dict(), **{f"gg_{k}": v for k, v in spend.to_dict().items()}},
                "params_lifetimes": lt_params,
            },
            indent=2,
        )
    )
    if args.keep:
        print(f"data kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
