"""Greeks and implied-volatility speed: shared_utils.market.greeks vs vollib's per-option functions.

Run: .venv/bin/python bench/greeks.py   (prints the figures docs/market.md quotes)
Goals: price + Greeks on a 10,000-option chain >= 100x faster than vollib loops; IV on 10,000
options >= 20x faster than vollib's implied_volatility; the module's import time.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vollib.black import black  # noqa: E402
from vollib.black.greeks import analytical as vollib_greeks  # noqa: E402
from vollib.black.implied_volatility import implied_volatility as vollib_iv  # noqa: E402
from vollib.helpers.exceptions import PriceIsAboveMaximum, PriceIsBelowIntrinsic  # noqa: E402

from shared_utils.market.greeks import IVReason, greeks, implied_volatility  # noqa: E402

N = 10_000
REPEATS = 5


def chain(n: int = N) -> dict[str, np.ndarray]:
    """A NIFTY-like chain on futures: strikes around 25,000, 1 to 60 days, mixed CE/PE."""
    rng = np.random.default_rng(2026)
    return {
        "call": rng.random(n) < 0.5,
        "f": np.full(n, 25_000.0),
        "k": 25_000.0 + 50.0 * rng.integers(-60, 61, n),
        "t": rng.uniform(1 / 365, 60 / 365, n),
        "sigma": rng.uniform(0.08, 0.40, n),
        "r": np.full(n, 0.065),
    }


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def vollib_chain(c: dict[str, np.ndarray]) -> None:
    rows = zip(np.where(c["call"], "c", "p"), c["f"], c["k"], c["t"], c["r"], c["sigma"], strict=True)
    for flag, f, k, t, r, s in rows:
        black(flag, f, k, t, r, s)
        vollib_greeks.delta(flag, f, k, t, r, s)
        vollib_greeks.gamma(flag, f, k, t, r, s)
        vollib_greeks.vega(flag, f, k, t, r, s)
        vollib_greeks.theta(flag, f, k, t, r, s)
        vollib_greeks.rho(flag, f, k, t, r, s)


def vollib_ivs(prices: np.ndarray, c: dict[str, np.ndarray]) -> None:
    rows = zip(prices, c["f"], c["k"], c["r"], c["t"], np.where(c["call"], "c", "p"), strict=True)
    for p, f, k, r, t, flag in rows:
        with contextlib.suppress(PriceIsAboveMaximum, PriceIsBelowIntrinsic):
            vollib_iv(p, f, k, r, t, flag)


def import_time() -> tuple[float, float]:
    """(numpy alone, shared_utils.market.greeks incl. numpy) in fresh interpreters, best of 5."""
    probe = (
        "import time, sys; s = time.perf_counter(); import {m}; e = time.perf_counter(); "
        "assert 'scipy' not in sys.modules, 'scipy imported'; print(e - s)"
    )

    def run(module: str) -> float:
        times = []
        for _ in range(REPEATS):
            out = subprocess.run(
                [sys.executable, "-c", probe.format(m=module)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            times.append(float(out.stdout))
        return min(times)

    return run("numpy"), run("shared_utils.market.greeks")


def main() -> None:
    c = chain()
    args = (c["call"], c["f"], c["k"], c["t"], c["sigma"], c["r"])
    ours_greeks = best_of(lambda: greeks(*args))
    theirs_greeks = best_of(lambda: vollib_chain(c), repeats=1)

    prices = greeks(*args).price
    result = implied_volatility(prices, c["call"], c["f"], c["k"], c["t"], c["r"])
    ours_iv = best_of(lambda: implied_volatility(prices, c["call"], c["f"], c["k"], c["t"], c["r"]))
    theirs_iv = best_of(lambda: vollib_ivs(prices, c), repeats=1)
    solved = result.reason == IVReason.OK
    # Options whose float64 price still determines the volatility to 1e-9 (see test_greeks.py).
    conditioned = np.finfo(np.float64).eps * 4 * np.maximum(c["f"], c["k"]) / greeks(*args).vega < 1e-9
    max_error = float(np.max(np.abs(result.volatility - c["sigma"])[solved & conditioned]))
    reasons = ", ".join(
        f"{r.name} {int((result.reason == r).sum()):,}" for r in IVReason if (result.reason == r).any()
    )

    numpy_import, module_import = import_time()

    print(f"options: {N:,} (Black-76, NIFTY-like chain, best of {REPEATS} for ours, 1 run for vollib)")
    print(
        f"price + 5 Greeks: ours {ours_greeks * 1e3:.2f} ms, vollib loops {theirs_greeks * 1e3:.0f} ms, "
        f"speed-up {theirs_greeks / ours_greeks:.0f}x (goal >= 100x)"
    )
    print(
        f"implied volatility: ours {ours_iv * 1e3:.2f} ms ({result.iterations} rounds), vollib "
        f"{theirs_iv * 1e3:.0f} ms, speed-up {theirs_iv / ours_iv:.0f}x (goal >= 20x)"
    )
    print(f"  reasons: {reasons}; round-trip max |error| on well-conditioned options: {max_error:.1e}")
    print(
        f"import shared_utils.market.greeks (fresh interpreter, no SciPy): {module_import * 1e3:.0f} ms "
        f"(numpy alone {numpy_import * 1e3:.0f} ms)"
    )


if __name__ == "__main__":
    main()
