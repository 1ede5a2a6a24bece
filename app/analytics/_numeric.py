"""Small numeric helpers for the model fits."""

from __future__ import annotations

import numpy as np


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two 1-D arrays without BLAS.

    `a @ b` goes through OpenBLAS, whose threads spin under CPU contention: on a shared 2-core
    machine it measured 16 ms for 90,000 elements against 0.1 ms for this single-threaded einsum.
    """
    return float(np.einsum("i,i->", a, b))
