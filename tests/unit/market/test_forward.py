"""The synthetic forward from put-call parity: carry, the median of the pairs, missing quotes."""

from __future__ import annotations

import math

import numpy as np

from shared_utils.market.forward import synthetic_forward
from shared_utils.market.greeks import PricingModel, price

STRIKES = np.arange(25500.0, 26550.0, 50.0)
YEARS, RATE, VOL = 30 / 365, 0.065, 0.12


def chain_on(forward: float) -> tuple[np.ndarray, np.ndarray]:
    calls = price("CE", forward, STRIKES, YEARS, VOL, RATE, PricingModel.BLACK_76)
    puts = price("PE", forward, STRIKES, YEARS, VOL, RATE, PricingModel.BLACK_76)
    return calls, puts


def test_the_forward_of_a_monthly_sits_above_spot_by_the_carry() -> None:
    spot = 26000.0
    forward = spot * math.exp(RATE * YEARS)  # ~26,139: almost three 50-point strikes above spot
    calls, puts = chain_on(forward)

    found = synthetic_forward(STRIKES, calls, puts, spot, YEARS, RATE)

    assert found is not None and abs(found - forward) < 0.01
    assert round(found / 50) * 50 == 26150 != round(spot / 50) * 50


def test_one_bad_print_among_the_pairs_moves_the_forward_nowhere() -> None:
    calls, puts = chain_on(26100.0)
    calls = calls.copy()
    calls[np.searchsorted(STRIKES, 26100.0)] += 40.0  # one stale call

    found = synthetic_forward(STRIKES, calls, puts, 26100.0, YEARS, RATE)

    assert found is not None and abs(found - 26100.0) < 0.01


def test_strikes_quoted_on_one_side_only_are_skipped_and_none_without_any_pair() -> None:
    calls, puts = chain_on(26000.0)
    calls, puts = calls.copy(), puts.copy()
    near = np.abs(STRIKES - 26000.0) <= 100
    calls[near] = np.nan  # the strikes nearest spot have no call quote

    found = synthetic_forward(STRIKES, calls, puts, 26000.0, YEARS, RATE)
    assert found is not None and abs(found - 26000.0) < 0.01

    assert synthetic_forward(STRIKES, np.full(len(STRIKES), np.nan), puts, 26000.0, YEARS, RATE) is None
