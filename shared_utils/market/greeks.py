"""Black-76 / Black-Scholes prices, Greeks and implied volatility over whole option chains.

Everything is vectorised with NumPy (inputs broadcast against each other). Units are the
mathematical ones: `vega` per 1.00 of volatility, `theta` per year, `rho` per 1.00 of rate;
`Greeks.theta_per_day` and `Greeks.vega_per_point` give the trader's units.

Bad inputs to pricing raise `InvalidInputError` naming the field; implied volatility never
raises for a price: it returns NaN with a reason code per option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from shared_utils.errors import FieldIssue, InvalidInputError
from shared_utils.market.normal import norm_cdf, norm_pdf
from shared_utils.market.options import OptionType, PricingModel

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
OptionTypes = OptionType | str | npt.ArrayLike

_CE_OR_PE = "must be CE or PE"
SECONDS_PER_YEAR = 365.0 * 24 * 3600
DAYS_PER_YEAR = 365.0
MAX_IV_ITERATIONS = 64
_INV_SQRT_2PI = 0.39894228040143267794
_SQRT_2PI = 2.5066282746310002


class IVReason(IntEnum):
    OK = 0
    INVALID_INPUT = 1  # non-finite, or non-positive underlying/strike/time
    BELOW_INTRINSIC = 2  # price below the discounted intrinsic value
    NO_TIME_VALUE = 3  # price equals intrinsic: volatility is undetermined
    ABOVE_MAXIMUM = 4  # price at or above the no-arbitrage upper bound
    NOT_CONVERGED = 5  # iteration cap reached


@dataclass(frozen=True)
class Greeks:
    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray  # per 1.00 volatility
    theta: FloatArray  # per year
    rho: FloatArray  # per 1.00 rate

    @property
    def theta_per_day(self) -> FloatArray:
        """Theta per calendar day."""
        return self.theta / DAYS_PER_YEAR

    @property
    def vega_per_point(self) -> FloatArray:
        """Price change for one volatility point (0.01)."""
        return self.vega / 100.0


@dataclass(frozen=True)
class ImpliedVolatility:
    volatility: FloatArray  # NaN where reason != OK
    reason: npt.NDArray[np.int8]  # IVReason values
    iterations: int


def year_fraction(start: datetime, end: datetime) -> float:
    """Years between two aware instants (365-day year), e.g. now to the expiry session close."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidInputError("year_fraction needs timezone-aware datetimes")
    return (end - start).total_seconds() / SECONDS_PER_YEAR


def black76_price(call: bool, forward: float, strike: float, years: float, volatility: float) -> float:
    """One option's Black-76 price at zero rate, in scalar arithmetic: what `greeks` gives for one
    element (the minute's check marks a handful of contracts; NumPy's per-call overhead would
    cost more than the arithmetic)."""
    sig_sqrt_t = volatility * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * sig_sqrt_t * sig_sqrt_t) / sig_sqrt_t
    d2 = d1 - sig_sqrt_t
    sign = 1.0 if call else -1.0
    return sign * (
        forward * 0.5 * math.erfc(-sign * d1 / math.sqrt(2.0))
        - strike * 0.5 * math.erfc(-sign * d2 / math.sqrt(2.0))
    )


def _is_call(option_type: OptionTypes) -> BoolArray:
    if isinstance(option_type, OptionType | str):
        try:
            return np.asarray(OptionType(str(option_type).upper()) is OptionType.CE)
        except ValueError:
            raise InvalidInputError(
                f"option type {option_type!r} is not CE or PE", [FieldIssue("option_type", _CE_OR_PE)]
            ) from None
    raw = np.asarray(option_type)
    if raw.dtype == np.bool_:
        return raw
    upper = np.char.upper(raw.astype(str))
    if not np.all((upper == "CE") | (upper == "PE")):
        raise InvalidInputError("option types must be CE or PE", [FieldIssue("option_type", _CE_OR_PE)])
    return np.asarray(upper == "CE")


def _array(name: str, value: npt.ArrayLike, *, positive: bool = False) -> FloatArray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be numeric", [FieldIssue(name, "not a number")]) from None
    bad = ~np.isfinite(array)
    rule = "finite"
    if positive:
        bad |= array <= 0
        rule = "a positive finite number"
    if bad.any():
        at = int(np.flatnonzero(bad.ravel())[0])
        where = f" at index {at}" if array.ndim else ""
        raise InvalidInputError(
            f"{name} must be {rule} (got {float(array.flat[at])!r}{where})",
            [FieldIssue(name, f"must be {rule}")],
        )
    return array


def _inputs(
    option_type: OptionTypes,
    underlying: npt.ArrayLike,
    strike: npt.ArrayLike,
    time_to_expiry: npt.ArrayLike,
    volatility: npt.ArrayLike,
    rate: npt.ArrayLike,
) -> tuple[BoolArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    arrays = (
        _is_call(option_type),
        _array("underlying_price", underlying, positive=True),
        _array("strike", strike, positive=True),
        _array("time_to_expiry", time_to_expiry, positive=True),
        _array("volatility", volatility, positive=True),
        _array("rate", rate),
    )
    try:
        call, f, k, t, sigma, r = np.broadcast_arrays(*arrays)
    except ValueError:
        raise InvalidInputError("input arrays have incompatible shapes") from None
    return call, f, k, t, sigma, r


def greeks(
    option_type: OptionTypes,
    underlying_price: npt.ArrayLike,
    strike: npt.ArrayLike,
    time_to_expiry: npt.ArrayLike,
    volatility: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    model: PricingModel = PricingModel.BLACK_76,
) -> Greeks:
    """Price and Greeks for every option (inputs broadcast). Delta and gamma are with respect to
    the model's underlying (the futures price for Black-76, spot for Black-Scholes)."""
    call, u, k, t, sigma, r = _inputs(option_type, underlying_price, strike, time_to_expiry, volatility, rate)
    sqrt_t = np.sqrt(t)
    sig_sqrt_t = sigma * sqrt_t
    discount = np.exp(-r * t)
    sign = np.where(call, 1.0, -1.0)
    if model is PricingModel.BLACK_76:
        d1 = (np.log(u / k) + 0.5 * sig_sqrt_t * sig_sqrt_t) / sig_sqrt_t
        d2 = d1 - sig_sqrt_t
        nd1, nd2 = norm_cdf(sign * d1), norm_cdf(sign * d2)
        pdf = norm_pdf(d1)
        price = discount * sign * (u * nd1 - k * nd2)
        delta = discount * sign * nd1
        gamma = discount * pdf / (u * sig_sqrt_t)
        vega = discount * u * pdf * sqrt_t
        theta = -discount * u * pdf * sigma / (2.0 * sqrt_t) + r * price
        rho = -t * price
    else:
        d1 = (np.log(u / k) + (r + 0.5 * sigma * sigma) * t) / sig_sqrt_t
        d2 = d1 - sig_sqrt_t
        nd1, nd2 = norm_cdf(sign * d1), norm_cdf(sign * d2)
        pdf = norm_pdf(d1)
        k_discounted = k * discount
        price = sign * (u * nd1 - k_discounted * nd2)
        delta = sign * nd1
        gamma = pdf / (u * sig_sqrt_t)
        vega = u * pdf * sqrt_t
        theta = -u * pdf * sigma / (2.0 * sqrt_t) - sign * r * k_discounted * nd2
        rho = sign * t * k_discounted * nd2
    return Greeks(price=price, delta=delta, gamma=gamma, vega=vega, theta=theta, rho=rho)


def price(
    option_type: OptionTypes,
    underlying_price: npt.ArrayLike,
    strike: npt.ArrayLike,
    time_to_expiry: npt.ArrayLike,
    volatility: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    model: PricingModel = PricingModel.BLACK_76,
) -> FloatArray:
    """Option prices only (discounted)."""
    call, u, k, t, sigma, r = _inputs(option_type, underlying_price, strike, time_to_expiry, volatility, rate)
    forward = u if model is PricingModel.BLACK_76 else u * np.exp(r * t)
    return np.exp(-r * t) * _undiscounted_black(call, forward, k, sigma * np.sqrt(t))


def _undiscounted_black(call: BoolArray, f: FloatArray, k: FloatArray, s: FloatArray) -> FloatArray:
    sign = np.where(call, 1.0, -1.0)
    d1 = np.log(f / k) / s + 0.5 * s
    return sign * (f * norm_cdf(sign * d1) - k * norm_cdf(sign * (d1 - s)))


def _normalised_otm(k: FloatArray, s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Normalised out-of-the-money Black price b(k, s) for k = -|ln(F/K)| <= 0 and its
    derivative with respect to s = sigma * sqrt(t)."""
    h = k / s
    half = 0.5 * s
    b = np.exp(0.5 * k) * norm_cdf(h + half) - np.exp(-0.5 * k) * norm_cdf(h - half)
    vega = _INV_SQRT_2PI * np.exp(-0.5 * h * h - 0.125 * s * s)
    return b, vega


def implied_volatility(
    option_price: npt.ArrayLike,
    option_type: OptionTypes,
    underlying_price: npt.ArrayLike,
    strike: npt.ArrayLike,
    time_to_expiry: npt.ArrayLike,
    rate: npt.ArrayLike = 0.0,
    model: PricingModel = PricingModel.BLACK_76,
) -> ImpliedVolatility:
    """Implied volatility of every price: a safeguarded Halley iteration on the log of the
    normalised out-of-the-money price, kept inside a shrinking bracket (bisection when Newton
    leaves it), at most MAX_IV_ITERATIONS rounds. Never raises for a price; NaN + reason instead."""
    try:
        arrays = np.broadcast_arrays(
            np.asarray(option_price, dtype=np.float64),
            _is_call(option_type),
            np.asarray(underlying_price, dtype=np.float64),
            np.asarray(strike, dtype=np.float64),
            np.asarray(time_to_expiry, dtype=np.float64),
            np.asarray(rate, dtype=np.float64),
        )
    except ValueError:
        raise InvalidInputError("input arrays have incompatible shapes or are not numeric") from None
    p, call, u, k, t, r = (a.ravel() for a in arrays)
    shape = arrays[0].shape
    n = p.size
    vol = np.full(n, np.nan)
    reason = np.full(n, IVReason.OK, dtype=np.int8)

    with np.errstate(all="ignore"):
        valid = np.isfinite(p) & np.isfinite(u) & np.isfinite(k) & np.isfinite(t) & np.isfinite(r)
        valid &= (u > 0) & (k > 0) & (t > 0)
        reason[~valid] = IVReason.INVALID_INPUT
        forward = np.where(model is PricingModel.BLACK_76, u, u * np.exp(r * t))
        undiscounted = p * np.exp(r * t)
        intrinsic = np.where(call, np.maximum(forward - k, 0.0), np.maximum(k - forward, 0.0))
        upper = np.where(call, forward, k)
        time_value = undiscounted - intrinsic
        tolerance = 4 * np.finfo(np.float64).eps * np.maximum(forward, k)
        below = valid & (time_value < -tolerance)
        flat = valid & ~below & (time_value <= tolerance)
        above = valid & ~below & ~flat & (undiscounted >= upper)
        reason[below] = IVReason.BELOW_INTRINSIC
        reason[flat] = IVReason.NO_TIME_VALUE
        reason[above] = IVReason.ABOVE_MAXIMUM

        idx = np.flatnonzero(reason == IVReason.OK)
        sqrt_fk = np.sqrt(forward[idx] * k[idx])
        x = -np.abs(np.log(forward[idx] / k[idx]))
        beta = time_value[idx] / sqrt_fk
        b_max = np.exp(0.5 * x)
        # A time value at (or, by rounding, past) the normalised maximum has no finite volatility.
        capped = beta >= b_max * (1 - 1e-15)
        reason[idx[capped]] = IVReason.ABOVE_MAXIMUM
        idx, x, beta = idx[~capped], x[~capped], beta[~capped]
        s, iterations, converged = _solve_normalised(x, beta)
        reason[idx[~converged]] = IVReason.NOT_CONVERGED
        vol[idx[converged]] = s[converged] / np.sqrt(t[idx[converged]])
    return ImpliedVolatility(
        volatility=vol.reshape(shape), reason=reason.reshape(shape), iterations=iterations
    )


def _solve_normalised(x: FloatArray, beta: FloatArray) -> tuple[FloatArray, int, BoolArray]:
    """Solve b(x, s) = beta for s > 0, element-wise; returns (s, rounds used, converged)."""
    n = x.size
    log_beta = np.log(beta)
    # Start: inflection point sqrt(2|x|) when beta is above its price there, else the small-s
    # asymptote ln b ~ -x^2 / (2 s^2); near the money the ATM line b ~ s / sqrt(2 pi).
    s_inflection = np.sqrt(-2.0 * x)
    b_inflection, _ = _normalised_otm(x, np.maximum(s_inflection, 1e-300))
    atm_line = beta * _SQRT_2PI
    asymptote = -x / np.sqrt(np.maximum(-2.0 * log_beta, 1e-300))
    low_guess = np.maximum(asymptote, atm_line)
    s = np.where((s_inflection > 0) & (beta > b_inflection), s_inflection, np.maximum(low_guess, 1e-8))
    s = np.where(x == 0, np.maximum(atm_line, 1e-8), s)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    done = np.zeros(n, dtype=bool)
    last_g = np.full(n, np.inf)
    active = np.arange(n)
    rounds = 0
    while active.size and rounds < MAX_IV_ITERATIONS:
        rounds += 1
        sa, xa = s[active], x[active]
        b, vega = _normalised_otm(xa, sa)
        g = np.log(np.maximum(b, 1e-320)) - log_beta[active]
        lo_a = np.where(g < 0, np.maximum(lo[active], sa), lo[active])
        hi_a = np.where(g > 0, np.minimum(hi[active], sa), hi[active])
        # Halley step on g(s) = ln b(s) - ln beta; b'' = b' (x^2 / s^3 - s / 4).
        g1 = vega / b
        g2 = g1 * (xa * xa / (sa * sa * sa) - 0.25 * sa) - g1 * g1
        step = -2.0 * g * g1 / (2.0 * g1 * g1 - g * g2)
        # At most a factor of 4 per round: far from the root b saturates (or vanishes) and a
        # raw step can land where the slope is ~0 and progress stalls.
        candidate = np.clip(sa + step, 0.25 * sa, 4.0 * sa)
        stalled = np.abs(g) > 0.5 * last_g[active]
        inside = np.isfinite(candidate) & (candidate > lo_a) & (candidate < hi_a) & (b > 0) & ~stalled
        fallback = np.where(np.isfinite(hi_a), 0.5 * (lo_a + hi_a), 2.0 * sa)
        s_new = np.where(inside, candidate, fallback)
        last_g[active] = np.abs(g)
        bracket_closed = np.isfinite(hi_a) & (hi_a - lo_a <= 1e-13 * hi_a)
        # Halley converges cubically: once its step is below 1e-9 the remaining error is far
        # below rounding, so the step is accepted without another round.
        small_halley_step = inside & (np.abs(s_new - sa) <= 1e-9 * sa)
        finished = (
            small_halley_step | (np.abs(s_new - sa) <= 1e-13 * sa) | (np.abs(g) <= 1e-14) | bracket_closed
        )
        s[active] = np.where(np.abs(g) <= 1e-14, sa, s_new)
        lo[active], hi[active] = lo_a, hi_a
        done[active[finished]] = True
        active = active[~finished]
    return s, rounds, done
