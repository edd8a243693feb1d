"""Strike by straddle width and by a premium bound (#22), on a hand-built NIFTY chain.

NIFTY at 24960 on a 50-point grid: ATM is 24950, where CE 160 + PE 122 make a 282 straddle.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.options import OptionType
from shared_utils.market.strikes import (
    OptionChain,
    strike_at_offset,
    strike_by_premium,
    strike_by_premium_at_least,
    strike_by_premium_at_most,
    strike_by_straddle_width,
)

STEP = 50.0
STRIKES = [24800.0, 24850.0, 24900.0, 24950.0, 25000.0, 25050.0, 25100.0]
CE = [260.0, 225.0, 190.0, 160.0, 130.0, 105.0, 85.0]
PE = [70.0, 85.0, 102.0, 122.0, 145.0, 171.0, np.nan]


def chain(price: float = 24960.0, **overrides: Any) -> OptionChain:
    fields: dict[str, Any] = {
        "underlying": "NIFTY",
        "expiry": date(2026, 7, 28),
        "underlying_price": price,
        "strikes": STRIKES,
        "ce_premiums": CE,
        "pe_premiums": PE,
    }
    return OptionChain.model_validate(fields | overrides)


def with_atm_straddle(ce: float, pe: float) -> OptionChain:
    """The chain with the ATM (24950) CE and PE premiums replaced."""
    return chain(ce_premiums=[*CE[:3], ce, *CE[4:]], pe_premiums=[*PE[:3], pe, *PE[4:]])


@pytest.mark.parametrize(
    ("multiple", "strike"),
    [
        ("0.5", 25100.0),  # 24950 + 141 = 25091 -> 25100
        ("-0.5", 24800.0),  # 24950 - 141 = 24809 -> 24800
        ("0.25", 25000.0),  # 24950 + 70.5 = 25020.5 -> 25000
        ("-0.25", 24900.0),  # 24950 - 70.5 = 24879.5 -> 24900
        ("0.09", 25000.0),  # 24950 + 25.38 = 24975.38: just past half a step -> 25000
        ("0.08", 24950.0),  # 24950 + 22.56 = 24972.56: short of half a step -> ATM
        ("-0.09", 24900.0),  # 24950 - 25.38 = 24924.62 -> 24900
        ("0", 24950.0),  # ATM, as ATM_OFFSET 0
    ],
)
def test_straddle_width_is_atm_plus_the_multiple_of_the_straddle_rounded_to_the_grid(
    multiple: str, strike: float
) -> None:
    assert strike_by_straddle_width(chain(), Decimal(multiple), STEP) == strike


def test_a_width_halfway_between_two_strikes_rounds_toward_atm_on_either_side() -> None:
    c = with_atm_straddle(ce=150.0, pe=150.0)  # a 300 straddle: 0.25 x 300 = 75 = 1.5 steps
    assert strike_by_straddle_width(c, Decimal("0.25"), STEP) == 25000.0
    assert strike_by_straddle_width(c, Decimal("-0.25"), STEP) == 24900.0
    assert strike_by_straddle_width(c, Decimal("0.26"), STEP) == 25050.0  # 78 = 1.56 steps


def test_a_multiple_given_as_a_float_picks_the_same_strike() -> None:
    assert strike_by_straddle_width(chain(), 0.5, STEP) == strike_by_straddle_width(
        chain(), Decimal("0.5"), STEP
    )


def test_zero_multiple_is_the_atm_strike_even_without_atm_prices() -> None:
    c = with_atm_straddle(ce=np.nan, pe=np.nan)
    assert strike_by_straddle_width(c, Decimal(0), STEP) == strike_at_offset(c, 0, step=STEP) == 24950.0


@pytest.mark.parametrize(
    ("ce", "pe", "missing"),
    [(np.nan, 122.0, "no CE"), (160.0, 0.0, "no PE"), (np.nan, np.nan, "no CE or PE")],
)
def test_straddle_width_without_both_atm_prices_is_unavailable_not_guessed(
    ce: float, pe: float, missing: str
) -> None:
    with pytest.raises(
        MarketDataUnavailableError, match=f"{missing} price at the ATM strike 24950 of the NIFTY"
    ):
        strike_by_straddle_width(with_atm_straddle(ce, pe), Decimal("0.5"), STEP)


@pytest.mark.parametrize(
    ("multiple", "reason"),
    [
        (
            "1",
            "ATM 24950 \\+ 1 x straddle 282.00 = 25232.00 is strike 25250 on the 50 grid, not in the NIFTY",
        ),
        ("-1", "ATM 24950 - 1 x straddle 282.00 = 24668.00 is strike 24650 on the 50 grid, not in the NIFTY"),
    ],
)
def test_a_straddle_width_beyond_the_listed_chain_is_unavailable(multiple: str, reason: str) -> None:
    with pytest.raises(MarketDataUnavailableError, match=reason) as caught:
        strike_by_straddle_width(chain(), Decimal(multiple), STEP)
    assert "(24800 to 25100)" in caught.value.message


def test_a_grid_strike_the_chain_does_not_list_is_unavailable_not_its_neighbour() -> None:
    gappy = chain(
        strikes=[s for s in STRIKES if s != 25100.0] + [25150.0],
        ce_premiums=CE,
        pe_premiums=PE,
    )
    with pytest.raises(MarketDataUnavailableError, match="is strike 25100 on the 50 grid"):
        strike_by_straddle_width(gappy, Decimal("0.5"), STEP)


def test_straddle_width_on_an_empty_chain_is_unavailable() -> None:
    empty = chain(strikes=[], ce_premiums=[], pe_premiums=[])
    with pytest.raises(MarketDataUnavailableError, match="empty option chain"):
        strike_by_straddle_width(empty, Decimal("0.5"), STEP)


@pytest.mark.parametrize(
    ("option_type", "target", "closest", "at_least", "at_most"),
    [
        (OptionType.CE, 100.0, 25050.0, 25050.0, 25100.0),  # 105 is closest and >= 100; 85 is <= 100
        (OptionType.CE, 120.0, 25000.0, 25000.0, 25050.0),  # 130 >= 120 (closest); 105 <= 120
        (OptionType.CE, 140.0, 25000.0, 24950.0, 25000.0),  # 130 closest, but 160 is the least >= 140
        (OptionType.PE, 150.0, 25000.0, 25050.0, 25000.0),  # 145 closest and <= 150; 171 >= 150
        (OptionType.PE, 122.0, 24950.0, 24950.0, 24950.0),  # exactly 122 counts on both sides
    ],
)
def test_premium_at_least_and_at_most_pick_the_closest_on_their_side(
    option_type: OptionType, target: float, closest: float, at_least: float, at_most: float
) -> None:
    c = chain()
    assert strike_by_premium(c, option_type, target) == closest
    assert strike_by_premium_at_least(c, option_type, target) == at_least
    assert strike_by_premium_at_most(c, option_type, target) == at_most


def test_premium_bounds_skip_unquoted_strikes() -> None:
    # The 25100 PE has no quote: the least PE premium >= 1 is 70 at 24800, the most <= 500 is 171.
    assert strike_by_premium_at_least(chain(), OptionType.PE, 1.0) == 24800.0
    assert strike_by_premium_at_most(chain(), OptionType.PE, 500.0) == 25050.0


def test_an_equal_premium_on_two_strikes_goes_to_the_one_nearer_the_underlying() -> None:
    c = chain(ce_premiums=[260.0, 225.0, 190.0, 160.0, 130.0, 130.0, 85.0])
    assert strike_by_premium_at_least(c, OptionType.CE, 125.0) == 25000.0


def test_no_premium_on_the_asked_side_is_unavailable_with_the_nearest_quote() -> None:
    with pytest.raises(
        MarketDataUnavailableError, match=r"no CE premium at or above 300 .*\(the highest quoted is 260\)"
    ):
        strike_by_premium_at_least(chain(), OptionType.CE, 300.0)
    with pytest.raises(
        MarketDataUnavailableError, match=r"no PE premium at or below 50 .*\(the lowest quoted is 70\)"
    ):
        strike_by_premium_at_most(chain(), OptionType.PE, 50.0)


def test_premium_bounds_on_an_unquoted_or_empty_chain_are_unavailable() -> None:
    unquoted = chain(ce_premiums=[np.nan] * 7)
    for select in (strike_by_premium_at_least, strike_by_premium_at_most):
        with pytest.raises(MarketDataUnavailableError, match="no CE premium quoted"):
            select(unquoted, OptionType.CE, 100.0)
        with pytest.raises(MarketDataUnavailableError, match="empty option chain"):
            select(chain(strikes=[], ce_premiums=[], pe_premiums=[]), OptionType.CE, 100.0)
