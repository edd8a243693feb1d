"""Option-chain snapshots and strike selection (ATM, ATM +/- N steps, by premium: closest, at
least or at most, by delta, by straddle width).

Selections work on one snapshot and raise `MarketDataUnavailableError` with the reason when
the chain cannot answer (empty chain, no strike in range, missing quotes), so a strategy never
trades a strike it guessed.

NumPy is imported by the functions that compute, not by the module: the execution service
imports this module, and a cold start that loads the service without pricing a chain (a
strategy delete's position guard, the kill switch) does not pay for loading NumPy (about as
much as boto3).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_DOWN, Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from shared_utils.errors import MarketDataUnavailableError
from shared_utils.market.options import OptionType, PricingModel
from shared_utils.market.underlyings import Underlying

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
else:
    FloatArray = Any  # read-only float64 ndarrays (`_as_float_array`); Any keeps NumPy unloaded here


def _as_float_array(value: Any) -> FloatArray:
    import numpy as np

    array = np.asarray(value, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError("expected a one-dimensional sequence of numbers")
    array.setflags(write=False)
    return array


def _as_list(array: FloatArray) -> list[float]:
    values: list[float] = array.tolist()
    return values


Floats = Annotated[
    FloatArray,
    BeforeValidator(_as_float_array),
    PlainSerializer(_as_list, return_type=list[float]),
]


class OptionChain(BaseModel):
    """One snapshot of an index option chain for one expiry.

    Premiums and IVs may be NaN where the market has no quote; deltas are signed (PE < 0)."""

    model_config = ConfigDict(frozen=True)

    underlying: Underlying
    expiry: date
    underlying_price: float = Field(gt=0, description="spot or futures price the ATM strike is measured from")
    strikes: Floats
    ce_premiums: Floats
    pe_premiums: Floats
    ce_ivs: Floats | None = None
    pe_ivs: Floats | None = None
    ce_deltas: Floats | None = None
    pe_deltas: Floats | None = None

    @model_validator(mode="after")
    def _aligned_and_sorted(self) -> OptionChain:
        import numpy as np

        n = len(self.strikes)
        for name in ("ce_premiums", "pe_premiums", "ce_ivs", "pe_ivs", "ce_deltas", "pe_deltas"):
            column = getattr(self, name)
            if column is not None and len(column) != n:
                raise ValueError(f"{name} has {len(column)} values for {n} strikes")
        if n and (not np.all(np.isfinite(self.strikes)) or self.strikes[0] <= 0):
            raise ValueError("strikes must be positive finite numbers")
        if n > 1 and not np.all(np.diff(self.strikes) > 0):
            raise ValueError("strikes must be strictly increasing")
        return self

    def premiums(self, option_type: OptionType) -> FloatArray:
        return self.ce_premiums if option_type is OptionType.CE else self.pe_premiums

    def deltas(self, option_type: OptionType) -> FloatArray | None:
        return self.ce_deltas if option_type is OptionType.CE else self.pe_deltas

    def premium(self, option_type: OptionType, strike: float) -> float:
        return float(self.premiums(option_type)[_index_of(self, strike)])


def _require_strikes(chain: OptionChain) -> None:
    if len(chain.strikes) == 0:
        raise MarketDataUnavailableError(
            f"empty option chain for {chain.underlying} {chain.expiry.isoformat()}"
        )


def _atm_index(chain: OptionChain) -> int:
    import numpy as np

    _require_strikes(chain)
    # argmin returns the first minimum: on an exact tie the lower strike is ATM.
    return int(np.argmin(np.abs(chain.strikes - chain.underlying_price)))


def _index_of(chain: OptionChain, strike: float) -> int:
    import numpy as np

    _require_strikes(chain)
    i = int(np.searchsorted(chain.strikes, strike))
    for j in (i - 1, i):
        if 0 <= j < len(chain.strikes) and np.isclose(chain.strikes[j], strike, rtol=0, atol=1e-6):
            return j
    raise MarketDataUnavailableError(
        f"strike {strike:g} is not in the {chain.underlying} {chain.expiry.isoformat()} chain "
        f"({chain.strikes[0]:g} to {chain.strikes[-1]:g})"
    )


def atm_strike(chain: OptionChain) -> float:
    """The strike nearest the underlying price (the lower one on an exact tie)."""
    return float(chain.strikes[_atm_index(chain)])


def strike_at_offset(chain: OptionChain, steps: int, step: float | None = None) -> float:
    """ATM moved by `steps` strikes (positive = higher strike).

    With `step` (the contract's strike step) the target is ATM + steps x step and must be
    listed; without it, `steps` counts listed strikes."""
    atm = _atm_index(chain)
    if step is not None:
        return float(chain.strikes[_index_of(chain, float(chain.strikes[atm]) + steps * step)])
    target = atm + steps
    if not 0 <= target < len(chain.strikes):
        raise MarketDataUnavailableError(
            f"no strike {steps:+d} steps from ATM {chain.strikes[atm]:g}: the chain lists "
            f"{atm} strikes below and {len(chain.strikes) - atm - 1} above"
        )
    return float(chain.strikes[target])


def fixed_strike(chain: OptionChain, strike: float) -> float:
    """A strike given by the user, checked against the chain."""
    return float(chain.strikes[_index_of(chain, strike)])


def _closest(chain: OptionChain, values: FloatArray, target: float, what: str) -> float:
    import numpy as np

    _require_strikes(chain)
    usable = np.isfinite(values)
    if not usable.any():
        raise MarketDataUnavailableError(
            f"no {what} quoted in the {chain.underlying} {chain.expiry.isoformat()} chain"
        )
    distance = np.where(usable, np.abs(values - target), np.inf)
    best = distance.min()
    # On a tie prefer the strike nearest the underlying (the more liquid one).
    tied = np.flatnonzero(distance == best)
    pick = tied[np.argmin(np.abs(chain.strikes[tied] - chain.underlying_price))]
    return float(chain.strikes[pick])


def strike_by_premium(chain: OptionChain, option_type: OptionType, target: float) -> float:
    """The strike whose `option_type` premium is closest to `target` (unquoted strikes skipped)."""
    import numpy as np

    premiums = np.where(chain.premiums(option_type) > 0, chain.premiums(option_type), np.nan)
    return _closest(chain, premiums, target, f"{option_type} premium")


def strike_by_premium_at_least(chain: OptionChain, option_type: OptionType, target: float) -> float:
    """The strike whose `option_type` premium is closest to `target` among those at or above it
    (the cheapest premium >= target; unquoted strikes skipped)."""
    return _closest_within(chain, option_type, target, at_least=True)


def strike_by_premium_at_most(chain: OptionChain, option_type: OptionType, target: float) -> float:
    """The strike whose `option_type` premium is closest to `target` among those at or below it
    (the dearest premium <= target; unquoted strikes skipped)."""
    return _closest_within(chain, option_type, target, at_least=False)


def _closest_within(chain: OptionChain, option_type: OptionType, target: float, *, at_least: bool) -> float:
    import numpy as np

    _require_strikes(chain)
    premiums = chain.premiums(option_type)
    quoted = np.isfinite(premiums) & (premiums > 0)
    if not quoted.any():
        raise MarketDataUnavailableError(
            f"no {option_type} premium quoted in the {chain.underlying} {chain.expiry.isoformat()} chain"
        )
    side = premiums >= target if at_least else premiums <= target
    if not (quoted & side).any():
        bound, extreme = ("above", premiums[quoted].max()) if at_least else ("below", premiums[quoted].min())
        which = "highest" if at_least else "lowest"
        raise MarketDataUnavailableError(
            f"no {option_type} premium at or {bound} {target:g} in the {chain.underlying} "
            f"{chain.expiry.isoformat()} chain (the {which} quoted is {extreme:g})"
        )
    return _closest(chain, np.where(quoted & side, premiums, np.nan), target, f"{option_type} premium")


def strike_by_straddle_width(chain: OptionChain, multiple: Decimal | float, step: float) -> float:
    """ATM + `multiple` x the ATM straddle (CE premium + PE premium at the ATM strike), rounded to
    the nearest strike on the `step` grid (a tie to the one nearer ATM); that strike must be
    listed. A positive multiple is a higher strike, a negative one lower, 0 the ATM strike itself
    (no premium needed, as `strike_at_offset(chain, 0)`)."""
    import numpy as np

    atm_index = _atm_index(chain)
    atm = float(chain.strikes[atm_index])
    times = Decimal(str(multiple))
    if times == 0:
        return atm
    ce, pe = float(chain.ce_premiums[atm_index]), float(chain.pe_premiums[atm_index])
    missing = [name for name, price in (("CE", ce), ("PE", pe)) if not (np.isfinite(price) and price > 0)]
    if missing:
        raise MarketDataUnavailableError(
            f"no {' or '.join(missing)} price at the ATM strike {atm:g} of the {chain.underlying} "
            f"{chain.expiry.isoformat()} chain: the straddle width needs both"
        )
    straddle = Decimal(str(ce)) + Decimal(str(pe))
    width, grid = times * straddle, Decimal(str(step))
    steps = (width / grid).to_integral_value(rounding=ROUND_HALF_DOWN)  # a tie toward ATM
    strike = float(Decimal(str(atm)) + steps * grid)
    try:
        return float(chain.strikes[_index_of(chain, strike)])
    except MarketDataUnavailableError as error:
        raise MarketDataUnavailableError(
            f"straddle width: ATM {atm:g} {'+' if width > 0 else '-'} {abs(times)} x straddle "
            f"{straddle:.2f} = {atm + float(width):.2f} is strike {strike:g} on the {step:g} grid, not in "
            f"the {chain.underlying} {chain.expiry.isoformat()} chain "
            f"({chain.strikes[0]:g} to {chain.strikes[-1]:g})"
        ) from error


def strike_by_delta(chain: OptionChain, option_type: OptionType, target: float) -> float:
    """The strike whose `option_type` delta is closest to `target`, compared by magnitude
    (a PE target of 0.25 or -0.25 means the same)."""
    deltas = chain.deltas(option_type)
    if deltas is None:
        raise MarketDataUnavailableError(
            f"the chain has no {option_type} deltas: compute them with greeks first"
        )
    return _closest(chain, abs(deltas), abs(target), f"{option_type} delta")


def with_greeks(
    chain: OptionChain,
    time_to_expiry: float,
    rate: float = 0.0,
    model: PricingModel = PricingModel.BLACK_76,
) -> OptionChain:
    """The chain with IVs (implied from the premiums where missing) and deltas filled in, so
    `strike_by_delta` can run on a snapshot that only has prices. Strikes whose premium has no
    implied volatility (no quote, outside no-arbitrage bounds) get NaN and are skipped."""
    import numpy as np

    from shared_utils.market.greeks import greeks, implied_volatility

    _require_strikes(chain)
    update: dict[str, FloatArray] = {}
    for option_type, iv_field, delta_field in (
        (OptionType.CE, "ce_ivs", "ce_deltas"),
        (OptionType.PE, "pe_ivs", "pe_deltas"),
    ):
        ivs = getattr(chain, iv_field)
        if ivs is None:
            ivs = implied_volatility(
                chain.premiums(option_type),
                option_type,
                chain.underlying_price,
                chain.strikes,
                time_to_expiry,
                rate,
                model,
            ).volatility
        usable = np.isfinite(ivs) & (ivs > 0)
        deltas = np.full(len(chain.strikes), np.nan)
        if usable.any():
            deltas[usable] = greeks(
                option_type,
                chain.underlying_price,
                chain.strikes[usable],
                time_to_expiry,
                ivs[usable],
                rate,
                model,
            ).delta
        update[iv_field] = ivs
        update[delta_field] = deltas
    return chain.model_validate({**chain.model_dump(), **{k: v.tolist() for k, v in update.items()}})
