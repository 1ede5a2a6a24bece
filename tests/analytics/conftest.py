from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CDNOW_DIR = Path(__file__).resolve().parents[1] / "data" / "cdnow"


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    return pd.read_csv(CDNOW_DIR / "cdnow_customers_summary.csv")


@pytest.fixture(scope="session")
def cdnow_summary_with_transactions() -> pd.DataFrame:
    return pd.read_csv(CDNOW_DIR / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="session")
def cdnow_raw() -> pd.DataFrame:
    # Whitespace-separated, no header: master id, sample id (1..2357), date YYYYMMDD, CDs, dollars.
    return pd.read_csv(
        CDNOW_DIR / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "quantity", "amount"],
        dtype={"master_id": str, "customer_id": str, "date": str},
    )


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, *, t_min: float, t_max: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) from the BG/NBD process: Poisson purchases, dropout after each repeat purchase."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(t_min, t_max, n)
    rate = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    t = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0 / rate[idx])
        bought = t[idx] <= age[idx]
        buyers = idx[bought]
        x[buyers] += 1
        t_x[buyers] = t[buyers]
        survived = rng.random(len(buyers)) >= p[buyers]
        active[:] = False
        active[buyers[survived]] = True
    return x, t_x, age
