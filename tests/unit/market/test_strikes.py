from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.greeks import greeks as price_greeks
from shared_utils.market.options import OptionType
from shared_utils.market.strikes import (
    OptionChain,
    atm_strike,
    fixed_strike,
    strike_at_offset,
    strike_by_delta,
    strike_by_premium,
    with_greeks,
)

STRIKES = [24800.0, 24850.0, 24900.0, 24950.0, 25000.0, 25050.0, 25100.0]


def chain(price: float = 24960.0, **overrides: Any) -> OptionChain:
    fields: dict[str, Any] = {
        "underlying": "NIFTY",
        "expiry": date(2026, 7, 28),
        "underlying_price": price,
        "strikes": STRIKES,
        "ce_premiums": [260.0, 225.0, 190.0, 160.0, 130.0, 105.0, 85.0],
        "pe_premiums": [70.0, 85.0, 102.0, 122.0, 145.0, 171.0, np.nan],
        "ce_deltas": np.array([0.72, 0.66, 0.6, 0.53, 0.47, 0.4, 0.34]),
        "pe_deltas": np.array([-0.28, -0.34, -0.4, -0.47, -0.53, -0.6, -0.66]),
    }
    fields.update(overrides)
    return OptionChain.model_validate(fields)


def test_atm_is_the_nearest_strike_and_the_lower_one_on_a_tie() -> None:
    assert atm_strike(chain(24960.0)) == 24950.0
    assert atm_strike(chain(24976.0)) == 25000.0
    assert atm_strike(chain(24975.0)) == 24950.0
    assert atm_strike(chain(30000.0)) == 25100.0


def test_offsets_by_listed_strikes_and_by_contract_step() -> None:
    c = chain(24960.0)
    assert strike_at_offset(c, 2) == 25050.0
    assert strike_at_offset(c, -3) == 24800.0
    assert strike_at_offset(c, 1, step=50) == 25000.0
    with pytest.raises(MarketDataUnavailableError, match="no strike \\+4 steps from ATM 24950"):
        strike_at_offset(c, 4)
    with pytest.raises(MarketDataUnavailableError, match="24750 is not in the NIFTY"):
        strike_at_offset(c, -2, step=100)


def test_closest_premium_skips_unquoted_strikes() -> None:
    c = chain()
    assert strike_by_premium(c, OptionType.CE, 100.0) == 25050.0
    assert strike_by_premium(c, OptionType.PE, 500.0) == 25050.0  # 25100 PE has no quote
    assert strike_by_premium(c, OptionType.PE, 0.0) == 24800.0


def test_closest_delta_by_magnitude() -> None:
    c = chain()
    assert strike_by_delta(c, OptionType.CE, 0.4) == 25050.0
    assert strike_by_delta(c, OptionType.PE, -0.3) == 24800.0
    assert strike_by_delta(c, OptionType.PE, 0.3) == 24800.0


def test_fixed_strike_must_be_listed() -> None:
    assert fixed_strike(chain(), 24900) == 24900.0
    with pytest.raises(MarketDataUnavailableError, match="24925"):
        fixed_strike(chain(), 24925)


def test_empty_chain_and_missing_data_give_reasons() -> None:
    empty = chain(strikes=[], ce_premiums=[], pe_premiums=[], ce_deltas=None, pe_deltas=None)
    for select in (atm_strike, lambda c: strike_at_offset(c, 1), lambda c: fixed_strike(c, 100.0)):
        with pytest.raises(MarketDataUnavailableError, match="empty option chain"):
            select(empty)
    with pytest.raises(MarketDataUnavailableError, match="empty option chain"):
        strike_by_premium(empty, OptionType.CE, 10.0)
    with pytest.raises(MarketDataUnavailableError, match="no CE deltas"):
        strike_by_delta(chain(ce_deltas=None), OptionType.CE, 0.5)
    unquoted = chain(ce_premiums=[np.nan] * 7)
    with pytest.raises(MarketDataUnavailableError, match="no CE premium quoted"):
        strike_by_premium(unquoted, OptionType.CE, 10.0)


@pytest.mark.parametrize(
    "bad",
    [
        {"strikes": [25000.0, 24950.0, *STRIKES[2:]]},
        {"ce_premiums": [1.0, 2.0]},
        {"underlying_price": 0.0},
        {"underlying": "NOTANINDEX"},
        {"strikes": [[1.0]]},
    ],
)
def test_malformed_chains_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        chain(**bad)


def test_chain_round_trips_through_json() -> None:
    c = chain()
    again = OptionChain.model_validate_json(c.model_dump_json())
    assert np.array_equal(again.strikes, c.strikes)
    assert np.isnan(again.pe_premiums[-1])


@given(
    st.lists(st.integers(min_value=1, max_value=4000), min_size=1, max_size=60, unique=True),
    st.floats(min_value=1, max_value=250_000),
)
def test_atm_minimises_the_distance(grid: list[int], price: float) -> None:
    strikes = sorted(float(k * 25) for k in grid)
    c = OptionChain(
        underlying="NIFTY",
        expiry=date(2026, 7, 28),
        underlying_price=price,
        strikes=strikes,
        ce_premiums=[1.0] * len(strikes),
        pe_premiums=[1.0] * len(strikes),
    )
    atm = atm_strike(c)
    assert all(abs(atm - price) <= abs(k - price) for k in strikes)


def test_with_greeks_implies_ivs_and_deltas_from_premiums() -> None:
    t, vol = 10 / 365, 0.15
    strikes = np.array(STRIKES)
    ce = price_greeks("CE", 24_960.0, strikes, t, vol, 0.065)
    pe = price_greeks("PE", 24_960.0, strikes, t, vol, 0.065)
    pe_prices = pe.price.copy()
    pe_prices[0] = np.nan  # no quote
    c = chain(ce_premiums=ce.price, pe_premiums=pe_prices, ce_deltas=None, pe_deltas=None)
    filled = with_greeks(c, t, 0.065)
    assert filled.ce_ivs is not None and np.allclose(filled.ce_ivs, vol, atol=1e-8)
    assert filled.ce_deltas is not None and np.allclose(filled.ce_deltas, ce.delta, atol=1e-8)
    assert filled.pe_deltas is not None and np.isnan(filled.pe_deltas[0])
    target = float(pe.delta[3])
    assert strike_by_delta(filled, OptionType.PE, target) == STRIKES[3]


def test_a_chain_holds_read_only_float_arrays_and_serialises_them_as_lists() -> None:
    c = chain()
    assert isinstance(c.strikes, np.ndarray) and c.strikes.dtype == np.float64
    assert not c.strikes.flags.writeable
    assert c.model_dump()["strikes"] == STRIKES


def test_importing_the_module_leaves_numpy_to_the_first_chain() -> None:
    # A fresh interpreter: every API handler imports this module, most never build a chain.
    code = (
        "import sys; from shared_utils.market import strikes; loaded = 'numpy' in sys.modules; "
        "strikes.OptionChain(underlying='NIFTY', expiry='2026-07-28', underlying_price=1.0, strikes=[1.0], "
        "ce_premiums=[1.0], pe_premiums=[1.0]); print(loaded, 'numpy' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.split() == ["False", "True"]
