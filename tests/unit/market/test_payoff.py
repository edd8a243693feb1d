from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_utils.errors import InvalidInputError
from shared_utils.market.greeks import greeks
from shared_utils.market.options import Action, OptionType
from shared_utils.market.payoff import PricedLeg, payoff_at_expiry, portfolio_greeks, price_grid, summarise
from shared_utils.market.specs import spec_for

CE, PE = OptionType.CE, OptionType.PE
LOT = spec_for("NIFTY", date(2026, 7, 28)).lot_size  # 65


def leg(option_type: OptionType, strike: float, side: Action, premium: float, lots: int = 1) -> PricedLeg:
    return PricedLeg(
        option_type=option_type, strike=strike, side=side, lots=lots, lot_size=LOT, premium=premium
    )


def test_short_straddle_has_two_breakevens_and_unbounded_loss() -> None:
    legs = [leg(CE, 25_000, Action.SELL, 150), leg(PE, 25_000, Action.SELL, 140)]
    summary = summarise(legs)
    assert summary.max_profit == pytest.approx(290 * LOT)
    assert summary.loss_unbounded and summary.max_loss is None
    assert summary.breakevens == pytest.approx((24_710.0, 25_290.0))
    assert payoff_at_expiry(legs, [25_000.0])[0] == pytest.approx(290 * LOT)


def test_iron_condor_is_bounded_both_ways() -> None:
    legs = [
        leg(PE, 24_500, Action.BUY, 20),
        leg(PE, 24_800, Action.SELL, 60),
        leg(CE, 25_200, Action.SELL, 55),
        leg(CE, 25_500, Action.BUY, 18),
    ]
    credit = 60 + 55 - 20 - 18
    summary = summarise(legs)
    assert summary.max_profit == pytest.approx(credit * LOT)
    assert summary.max_loss == pytest.approx((300 - credit) * LOT)
    assert summary.breakevens == pytest.approx((24_800 - credit, 25_200 + credit))


def test_long_call_profit_is_unbounded_and_loss_is_the_premium() -> None:
    summary = summarise([leg(CE, 25_000, Action.BUY, 120, lots=2)])
    assert summary.profit_unbounded and summary.max_profit is None
    assert summary.max_loss == pytest.approx(120 * 2 * LOT)
    assert summary.breakevens == pytest.approx((25_120.0,))


def test_long_put_max_profit_is_at_zero() -> None:
    summary = summarise([leg(PE, 25_000, Action.BUY, 100)])
    assert summary.max_profit == pytest.approx((25_000 - 100) * LOT)
    assert summary.breakevens == pytest.approx((24_900.0,))


def test_breakeven_exactly_on_a_strike_is_reported_once() -> None:
    # Bull call spread whose debit equals the width: breakeven at the upper strike, never in profit.
    summary = summarise([leg(CE, 25_000, Action.BUY, 100), leg(CE, 25_100, Action.SELL, 0)])
    assert summary.breakevens == (25_100.0,)
    assert summary.max_profit == pytest.approx(0.0)


def test_portfolio_greeks_scale_by_lots_and_lot_size() -> None:
    legs = [leg(CE, 25_000, Action.SELL, 150, lots=2), leg(PE, 25_000, Action.BUY, 140)]
    total = portfolio_greeks(legs, 25_050.0, 7 / 365, [0.13, 0.14], 0.065)
    call = greeks("CE", 25_050.0, 25_000.0, 7 / 365, 0.13, 0.065)
    put = greeks("PE", 25_050.0, 25_000.0, 7 / 365, 0.14, 0.065)
    assert total.delta == pytest.approx(-2 * LOT * call.delta + LOT * put.delta)
    assert total.theta_per_day == pytest.approx(-2 * LOT * call.theta_per_day + LOT * put.theta_per_day)
    assert total.vega_per_point == pytest.approx(-2 * LOT * call.vega_per_point + LOT * put.vega_per_point)


def test_bad_strategies_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        summarise([])
    with pytest.raises(InvalidInputError):
        price_grid([leg(CE, 25_000, Action.BUY, 1)], spot=-1)


def test_grid_contains_the_strikes() -> None:
    grid = price_grid([leg(CE, 25_025, Action.BUY, 1), leg(PE, 19_000, Action.SELL, 1)], spot=25_000)
    assert {25_025.0, 19_000.0} <= set(grid.tolist())
    assert np.all(np.diff(grid) > 0)


legs_strategy = st.lists(
    st.builds(
        leg,
        st.sampled_from([CE, PE]),
        st.integers(min_value=400, max_value=600).map(lambda k: k * 50.0),
        st.sampled_from([Action.BUY, Action.SELL]),
        st.integers(min_value=0, max_value=500).map(float),
        st.integers(min_value=1, max_value=3),
    ),
    min_size=1,
    max_size=4,
)


@given(legs_strategy)
def test_summary_agrees_with_a_dense_grid(legs: list[PricedLeg]) -> None:
    summary = summarise(legs)
    grid = np.linspace(0.0, 60_000.0, 120_001)
    values = payoff_at_expiry(legs, grid)
    if summary.max_profit is not None:
        assert values.max() <= summary.max_profit + 1e-6
    if summary.max_loss is not None:
        assert -values.min() <= summary.max_loss + 1e-6
    for breakeven in summary.breakevens:
        assert abs(payoff_at_expiry(legs, [breakeven])[0]) <= 1e-6 * max(1.0, np.abs(values).max())
