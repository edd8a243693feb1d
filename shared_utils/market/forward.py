"""The synthetic forward of an expiry from its option chain (put-call parity).

ATM is measured from the forward, not from spot: for a monthly contract the carry puts the
forward a strike or two above spot, and a straddle "at the money" on spot is then neither
delta-neutral nor where the market's ATM is.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

PARITY_PAIRS = 3  # strikes nearest spot used for the forward (their median)


def synthetic_forward(
    strikes: npt.NDArray[np.float64],
    calls: npt.NDArray[np.float64],
    puts: npt.NDArray[np.float64],
    spot: float,
    years: float,
    rate: float,
    pairs: int = PARITY_PAIRS,
) -> float | None:
    """F = K + e^(rT) (C - P), from C - P = e^(-rT) (F - K), at the `pairs` strikes nearest
    `spot` where both the call and the put are quoted; their median (one bad print among three
    moves it nowhere). None when no strike has both quotes."""
    both = np.isfinite(calls) & np.isfinite(puts)
    if not both.any():
        return None
    k, c, p = strikes[both], calls[both], puts[both]
    nearest = np.argsort(np.abs(k - spot), kind="stable")[:pairs]
    growth = math.exp(rate * max(years, 0.0))
    forwards = k[nearest] + growth * (c[nearest] - p[nearest])
    forward = float(np.median(forwards))
    return forward if forward > 0 else None
