"""A market whose prices the test writes: each contract's premium as steps over the session's
minutes, run through the backtester (the live code on in-memory adapters, minute by minute), so
a test can say exactly which minute each order goes out and at what price."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

from shared_utils.backtest.results import BacktestFill, DayOutcome
from shared_utils.backtest.runner import Backtester, BacktestRequest
from shared_utils.backtest.strategy_file import FileAllocation, FileStrategy, details_of
from shared_utils.brokers.models import OptionInstrument
from shared_utils.clock import IST, Clock
from shared_utils.market.strikes import OptionChain
from shared_utils.models.strategy import StrategyCreate

DAY = date(2026, 11, 19)  # a Thursday; NIFTY's weekly expiry is Monday 11-23 (the 24th: a holiday)
EXPIRY = date(2026, 11, 23)
LOT = 65
SPOT = Decimal("26000")
STRIKES = range(25700, 26350, 50)

# (strike, "CE" | "PE") -> [(from HH:MM, premium), ...] in time order; every other contract at 100.
Path = Mapping[tuple[int, str], Sequence[tuple[str, str]]]


def at(hhmm: str) -> datetime:
    return datetime.combine(DAY, time.fromisoformat(hhmm), tzinfo=IST)


class PathMarket:
    """`path[(0, "SPOT")]`: the index's steps (26000 until the first)."""

    def __init__(self, clock: Clock, path: Path) -> None:
        self._clock = clock
        self._path = {key: [(at(when), Decimal(p)) for when, p in steps] for key, steps in path.items()}

    def _at_now(self, key: tuple[int, str], start: Decimal) -> Decimal:
        now = self._clock.now()
        price = start
        for since, value in self._path.get(key, ()):
            if since <= now:
                price = value
        return price

    def premium(self, strike: int, kind: str) -> Decimal:
        return self._at_now((strike, kind), Decimal("100"))

    @property
    def _spot(self) -> Decimal:
        return self._at_now((0, "SPOT"), SPOT)

    def level(self, underlying: str) -> Decimal | None:
        return self._spot

    def chain(self, underlying: str, expiry: date) -> OptionChain | None:
        if expiry != EXPIRY:
            return None
        strikes = list(STRIKES)
        return OptionChain(
            underlying="NIFTY",
            expiry=expiry,
            underlying_price=float(self._spot),
            strikes=[float(s) for s in strikes],
            ce_premiums=[float(self.premium(s, "CE")) for s in strikes],
            pe_premiums=[float(self.premium(s, "PE")) for s in strikes],
        )

    def price(self, instrument: OptionInstrument) -> Decimal | None:
        if instrument.expiry != EXPIRY:
            return None
        return self.premium(int(instrument.strike), instrument.option_type.value)


def run_day(bodies: Sequence[dict[str, object]], path: Path, lots: int = 1) -> DayOutcome:
    """The strategies (API bodies) on one paper account over `DAY` in `path`'s market, no slippage."""
    return backtester(bodies, path, lots).run_day(DAY)


def backtester(bodies: Sequence[dict[str, object]], path: Path, lots: int = 1) -> Backtester:
    """The same, to be stepped minute by minute (`minutes(DAY)`, then `close_day(DAY)`)."""
    details = details_of(
        [
            FileStrategy(
                strategy=StrategyCreate.model_validate(body),
                allocations=[FileAllocation(broker_account_id="paper-1", lots=lots)],
            )
            for body in bodies
        ],
        datetime(2026, 11, 1, tzinfo=UTC),
    )
    request = BacktestRequest(start=DAY, end=DAY, slippage_bps=Decimal("0"))
    return Backtester(details, request, lambda clock: PathMarket(clock, path))


def orders(outcome: DayOutcome) -> list[tuple[str, int, str, str, int, Decimal, str]]:
    """Every fill as (HH:MM, leg, strike+type, side, quantity, price, what placed it: the exit's
    reason, or the entry run)."""

    def row(fill: BacktestFill) -> tuple[str, int, str, str, int, Decimal, str]:
        _, _, strike, kind = fill.instrument.split("|")
        when = fill.at.astimezone(IST).strftime("%H:%M")
        return (when, fill.leg_no, f"{strike}{kind}", fill.side.value, fill.quantity, fill.price, fill.run)

    return [row(fill) for fill in outcome.fills]


def short_straddle(**extra: object) -> dict[str, object]:
    legs = [
        {"action": "SELL", "option_type": kind, "strike": {"method": "ATM_OFFSET", "steps": 0},
         "expiry": "CURRENT_WEEKLY"}
        for kind in ("CE", "PE")
    ]  # fmt: skip
    body: dict[str, object] = {
        "name": "Short straddle",
        "underlying": "NIFTY",
        "legs": legs,
        "entry": {"time": "09:20", "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]},
        "exit": {"time": "15:00"},
    }
    body.update(extra)
    return body
