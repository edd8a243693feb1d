"""Accuracy against vollib (a dev-only reference) on 10,000 random options, and bad input.

vollib's conventions, converted explicitly here: theta is per calendar day (ours per year /
365), vega and rho are per 1% (ours per 1.00 x 0.01). vollib's flag is 'c'/'p'."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vollib.black import black
from vollib.black.greeks import analytical as black_greeks
from vollib.black.implied_volatility import implied_volatility as vollib_black_iv
from vollib.black_scholes import black_scholes
from vollib.black_scholes.greeks import analytical as bs_greeks

from shared_utils.clock import IST
from shared_utils.errors import InvalidInputError
from shared_utils.market.greeks import (
    IVReason,
    PricingModel,
    greeks,
    implied_volatility,
    price,
    year_fraction,
)
from shared_utils.market.normal import norm_cdf

N = 10_000
EPS = np.finfo(np.float64).eps
TO_VOLLIB_UNITS = {"price": 1.0, "delta": 1.0, "gamma": 1.0, "vega": 0.01, "theta": 1 / 365.0, "rho": 0.01}


def random_options(seed: int, n: int = N) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    underlying = rng.uniform(50.0, 90_000.0, n)
    return {
        "call": rng.random(n) < 0.5,
        "u": underlying,
        "k": underlying * np.exp(rng.uniform(-0.4, 0.4, n)),
        "t": rng.uniform(1 / (365 * 24), 2.0, n),
        "sigma": rng.uniform(0.03, 1.5, n),
        "r": rng.uniform(0.0, 0.12, n),
    }


def close(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return np.abs(ours - ref) <= np.maximum(1e-8 * np.abs(ref), 1e-10)


REFERENCES: dict[PricingModel, tuple[Callable[..., float], Any]] = {
    PricingModel.BLACK_76: (black, black_greeks),
    PricingModel.BLACK_SCHOLES: (black_scholes, bs_greeks),
}


@pytest.mark.parametrize("model", list(PricingModel))
def test_price_and_greeks_match_vollib_on_10000_options(model: PricingModel) -> None:
    o = random_options(seed=7 if model is PricingModel.BLACK_76 else 11)
    ours = greeks(o["call"], o["u"], o["k"], o["t"], o["sigma"], o["r"], model)
    price_fn, module = REFERENCES[model]
    rows = list(zip(np.where(o["call"], "c", "p"), o["u"], o["k"], o["t"], o["r"], o["sigma"], strict=True))
    for name, to_vollib in TO_VOLLIB_UNITS.items():
        fn = price_fn if name == "price" else getattr(module, name)
        reference = np.array([fn(flag, u, k, t, r, s) for flag, u, k, t, r, s in rows])
        converted = getattr(ours, name) * to_vollib
        ok = close(converted, reference)
        assert ok.all(), f"{model} {name}: {int((~ok).sum())} options off, e.g. index {int(np.argmin(ok))}"
    assert np.allclose(
        price(o["call"], o["u"], o["k"], o["t"], o["sigma"], o["r"], model),
        ours.price,
        rtol=1e-12,
        atol=1e-12,
    )
    assert np.allclose(ours.theta_per_day, ours.theta / 365) and np.allclose(
        ours.vega_per_point, ours.vega / 100
    )


@pytest.mark.parametrize("model", list(PricingModel))
def test_implied_volatility_round_trip_on_10000_options(model: PricingModel) -> None:
    o = random_options(seed=3)
    g = greeks(o["call"], o["u"], o["k"], o["t"], o["sigma"], o["r"], model)
    result = implied_volatility(g.price, o["call"], o["u"], o["k"], o["t"], o["r"], model)
    # Where rounding of the price alone moves the volatility by more than 1e-9, the volatility
    # is not recoverable from a float64 price; those options only need a finite answer or a reason.
    with np.errstate(divide="ignore", over="ignore"):
        well_conditioned = EPS * np.maximum(o["u"], o["k"]) * 4 / g.vega < 1e-9
    assert well_conditioned.mean() > 0.95
    assert (result.reason[well_conditioned] == IVReason.OK).all()
    assert np.abs(result.volatility[well_conditioned] - o["sigma"][well_conditioned]).max() <= 1e-6
    rest = ~well_conditioned
    assert (np.isfinite(result.volatility[rest]) == (result.reason[rest] == IVReason.OK)).all()
    assert result.iterations <= 64


def test_implied_volatility_agrees_with_vollib_on_vollib_prices() -> None:
    o = random_options(seed=5, n=2_000)
    prices = np.array(
        [
            black("c" if c else "p", u, k, t, r, s)
            for c, u, k, t, r, s in zip(o["call"], o["u"], o["k"], o["t"], o["r"], o["sigma"], strict=True)
        ]
    )
    ours = implied_volatility(prices, o["call"], o["u"], o["k"], o["t"], o["r"])
    vega = greeks(o["call"], o["u"], o["k"], o["t"], o["sigma"], o["r"]).vega
    with np.errstate(divide="ignore", over="ignore"):
        sample = np.flatnonzero(EPS * np.maximum(o["u"], o["k"]) * 4 / vega < 1e-9)[:500]
    reference = np.array(
        [
            vollib_black_iv(
                prices[i], o["u"][i], o["k"][i], o["r"][i], o["t"][i], "c" if o["call"][i] else "p"
            )
            for i in sample
        ]
    )
    assert np.abs(ours.volatility[sample] - reference).max() <= 1e-6


def test_prices_outside_no_arbitrage_bounds_give_nan_and_a_reason() -> None:
    f, k, t, r = 25_000.0, 24_000.0, 0.1, 0.06
    discount = np.exp(-r * t)
    prices = np.array([
        (f - k) * discount - 5.0,  # call below intrinsic
        (f - k) * discount,  # call at intrinsic
        f * discount + 1.0,  # call above the futures price
        k * discount,  # put at the strike
        np.nan,
        -3.0,
        1_100.0,
    ])  # fmt: skip
    calls = np.array([True, True, True, False, True, True, True])
    result = implied_volatility(prices, calls, f, k, t, r)
    assert list(result.reason) == [
        IVReason.BELOW_INTRINSIC,
        IVReason.NO_TIME_VALUE,
        IVReason.ABOVE_MAXIMUM,
        IVReason.ABOVE_MAXIMUM,
        IVReason.INVALID_INPUT,
        IVReason.BELOW_INTRINSIC,
        IVReason.OK,
    ]
    assert np.isnan(result.volatility[:-1]).all() and 0 < result.volatility[-1] < 1


def test_invalid_contract_inputs_in_iv_are_a_reason_not_an_exception() -> None:
    result = implied_volatility(
        [10.0, 10.0, 10.0], "CE", [25_000.0, -1.0, 25_000.0], [25_000.0, 25_000.0, 0.0], [0.0, 0.1, 0.1]
    )
    assert list(result.reason) == [IVReason.INVALID_INPUT] * 3


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(st.floats(min_value=-1e6, max_value=1e6), st.sampled_from([np.nan, np.inf, 0.0, 1e-300])),
    st.floats(min_value=1e-3, max_value=1e6),
    st.floats(min_value=1e-3, max_value=1e6),
    st.floats(min_value=1e-6, max_value=5.0),
    st.booleans(),
)
def test_iv_never_raises_and_always_ends(p: float, f: float, k: float, t: float, call: bool) -> None:
    result = implied_volatility(p, call, f, k, t)
    assert result.iterations <= 64
    ok = int(result.reason) == IVReason.OK
    assert ok == bool(np.isfinite(result.volatility))
    if ok:
        assert result.volatility > 0


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("underlying_price", {"underlying_price": 0.0}),
        ("underlying_price", {"underlying_price": [100.0, -5.0]}),
        ("strike", {"strike": np.nan}),
        ("time_to_expiry", {"time_to_expiry": 0.0}),
        ("time_to_expiry", {"time_to_expiry": -0.1}),
        ("volatility", {"volatility": -0.2}),
        ("volatility", {"volatility": "abc"}),
        ("option_type", {"option_type": "XX"}),
        ("option_type", {"option_type": ["CE", "call"]}),
    ],
)
def test_bad_pricing_input_is_a_clear_error(field: str, kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {
        "option_type": "CE",
        "underlying_price": 100.0,
        "strike": 100.0,
        "time_to_expiry": 0.5,
        "volatility": 0.2,
    }
    arguments.update(kwargs)
    with pytest.raises(InvalidInputError) as error:
        greeks(**arguments)
    assert error.value.details[0].field == field


def test_incompatible_shapes_are_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="shapes"):
        greeks("CE", [100.0, 101.0], [100.0, 101.0, 102.0], 0.5, 0.2)


def test_chain_shapes_broadcast_and_put_call_parity_holds() -> None:
    strikes = np.arange(24_000.0, 26_001.0, 50.0)
    calls = greeks("CE", 25_000.0, strikes, 7 / 365, 0.14, 0.065)
    puts = greeks("PE", 25_000.0, strikes, 7 / 365, 0.14, 0.065)
    assert calls.price.shape == strikes.shape
    assert np.allclose(calls.price - puts.price, np.exp(-0.065 * 7 / 365) * (25_000.0 - strikes), atol=1e-8)
    assert np.allclose(calls.gamma, puts.gamma) and np.allclose(calls.vega, puts.vega)


def test_normal_cdf_tails_are_accurate() -> None:
    z = np.array([-37.0, -20.0, -8.0, -1.0, 0.0, 1.0, 8.0])
    reference = np.array(
        [
            5.725571222524e-300,
            2.753624118606e-89,
            6.220960574271784e-16,
            0.15865525393145707,
            0.5,
            0.8413447460685429,
            1.0,
        ]
    )
    assert np.allclose(norm_cdf(z), reference, rtol=1e-12, atol=0)


def test_year_fraction_between_aware_instants() -> None:
    start = datetime(2026, 7, 21, 9, 15, tzinfo=IST)
    assert year_fraction(start, datetime(2026, 7, 28, 9, 15, tzinfo=IST)) == pytest.approx(7 / 365)
    assert year_fraction(start, start.astimezone(UTC)) == 0.0
    with pytest.raises(InvalidInputError, match="timezone-aware"):
        year_fraction(start, datetime(2026, 7, 28, 9, 15))
