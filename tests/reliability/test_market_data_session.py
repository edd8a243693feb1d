"""A morning on the local platform whose market data comes from a stub Kite server on loopback,
replaying a fixture day (tests/reliability/fixtures/kite_day.json): the local master timer
(emitter, rule routing, the four real handlers), the real Kite adapter over HTTP, the quote cache,
the executors and paper brokers, on moto.

What a trader checks: the strikes chosen, the paper fills and the stop-loss decision follow the
feed's prices (the fixture's NIFTY sits ~2,500 points from the simulation's), and when the feed
stops, nothing is entered on old prices, the alarm's metric is counted, and entries resume once
quotes return."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from shared_utils.brokers.models import OptionInstrument
from shared_utils.brokers.symbols import zerodha as kite_symbols
from shared_utils.clock import IST, FixedClock
from shared_utils.execution.engine import NO_FRESH_QUOTE_METRIC
from shared_utils.execution.models import (
    ExecutionRecord,
    ExecutionStatus,
    ExitReason,
    LedgerStatus,
    ScheduleKind,
)
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.expiries import listed_expiries
from shared_utils.market.greeks import PricingModel, greeks
from shared_utils.market.options import OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.settings import MarketDataSourceName
from tests.conftest import TEST_REGION, install_platform
from tests.integration.brokers.stub_kite import ACCESS_TOKEN, API_KEY, KiteStub
from tests.integration.brokers.stub_server import Request, Response, StubHttpServer
from tests.integration.execution.conftest import SerializedClient
from tests.reliability.test_timer_execution import run_loop
from tests.reliability.timer_harness import OrderLog, TradingDay

FIXTURE = Path(__file__).parent / "fixtures" / "kite_day.json"
SECRET = "test/market-data"
TRADE_DATE = date(2026, 11, 25)
OPEN_AT = datetime(2026, 11, 25, 3, 48, tzinfo=UTC)  # 09:18 IST
TICK = Decimal("0.05")
STRIKE_GRID = range(21000, 26001, 50)


def ist(hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 11, 25, hour, minute, tzinfo=IST)


@dataclass
class ReplayedKite(KiteStub):
    """Kite's /quote answering from the fixture day at the platform clock's minute: the index
    level, and each listed NIFTY option's premium (Black-76 on the forward at the minute's
    volatility). `down` minutes answer 503, as Kite does when its quote service is out."""

    clock: FixedClock = field(default_factory=lambda: FixedClock(OPEN_AT))
    day: dict[str, Any] = field(default_factory=lambda: json.loads(FIXTURE.read_text()))
    down: set[str] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    listing: dict[str, OptionInstrument] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for expiry in listed_expiries("NIFTY", TRADE_DATE, TradingCalendar.default()):
            for strike in STRIKE_GRID:
                for option_type in OptionType:
                    contract = OptionInstrument(
                        underlying=Underlying.NIFTY,
                        expiry=expiry.expiry,
                        strike=Decimal(strike),
                        option_type=option_type,
                        monthly=expiry.monthly,
                    )
                    self.listing[f"NFO:{kite_symbols.tradingsymbol(contract)}"] = contract

    def minute(self) -> str:
        return f"{self.clock.now().astimezone(IST):%H:%M}"

    def level(self, minute: str) -> float:
        return float(self.day["levels"][minute])

    def premium(self, contract: OptionInstrument, minute: str) -> Decimal:
        close = datetime.combine(contract.expiry, datetime.min.time(), IST).replace(hour=15, minute=30)
        years = (close - ist(minute)).total_seconds() / (365 * 86400)
        rate = float(self.day["rate"])
        forward = self.level(minute) * math.exp(rate * years)
        value = greeks(
            contract.option_type.value,
            forward,
            float(contract.strike),
            years,
            float(self.day["volatility"][minute]),
            rate,
            PricingModel.BLACK_76,
        ).price
        return max(TICK, (Decimal(str(float(value))) / TICK).to_integral_value() * TICK)

    def route(self, request: Request) -> Response:
        if request.path == "/quote" and self.minute() in self.down:
            self.refused.append(self.minute())
            return Response(503, "<html>503 Service Temporarily Unavailable</html>", "text/html")
        return super().route(request)

    def _quote(self, names: list[str]) -> Response:
        minute = self.minute()
        stamp = f"{self.clock.now().astimezone(IST):%Y-%m-%d %H:%M:%S}"
        self.quotes = {}
        for name in names:
            if name == self.day["index"]:
                self.quotes[name] = {
                    "instrument_token": 256265,
                    "timestamp": stamp,
                    "last_price": self.level(minute),
                }
            elif name in self.listing:
                price = float(self.premium(self.listing[name], minute))
                self.quotes[name] = {
                    "instrument_token": 1,
                    "timestamp": stamp,
                    "last_price": price,
                    "volume": 1500,
                    "oi": 90000,
                    "depth": {"buy": [{"price": price - 0.05, "quantity": 650, "orders": 3}], "sell": []},
                }
        return super()._quote(names)


@pytest.fixture
def feed() -> Iterator[tuple[ReplayedKite, str]]:
    stub = ReplayedKite()
    with StubHttpServer(stub) as server:
        yield stub, server.url


@pytest.fixture
def kite_day(
    aws: dict[str, Any], order_log: OrderLog, feed: tuple[ReplayedKite, str]
) -> Iterator[tuple[TradingDay, ReplayedKite]]:
    stub, url = feed
    boto3.client("secretsmanager", region_name=TEST_REGION).create_secret(
        Name=SECRET, SecretString=json.dumps({"api_key": API_KEY, "access_token": ACCESS_TOKEN})
    )
    settings = aws["settings"].model_copy(
        update={
            "market_data_source": MarketDataSourceName.KITE,
            "market_data_url": url,
            "market_data_secret": SECRET,
        }
    )
    client = SerializedClient(boto3.client("dynamodb", region_name=TEST_REGION))
    install_platform(settings, stub.clock, client)
    yield TradingDay({**aws, "settings": settings}, client, order_log, stub.clock), stub


def fills(day: TradingDay, user: str, strategy_id: str, run: str) -> dict[OptionInstrument, Decimal | None]:
    """The run's orders: each contract and its fill price (every order filled)."""
    entries = [e for e in day.ledger(user, strategy_id) if f"#{run}#" in e.order_key]
    assert entries and all(e.status is LedgerStatus.FILLED for e in entries), entries
    return {OptionInstrument.from_key(e.instrument_key): e.average_price for e in entries}


def records(day: TradingDay, user: str, strategy_id: str) -> list[ExecutionRecord]:
    found, _ = day.store.list_records(user, ist("09:00"), ist("15:30"), strategy_id=strategy_id)
    return found


def test_strikes_fills_and_the_stop_loss_follow_the_feed(kite_day: tuple[TradingDay, ReplayedKite]) -> None:
    day, feed = kite_day
    user = "trader"
    strategy_id = day.strategy(user, "09:20", {"acct-1": 1}, risk={"mtm_stop_loss": 2000})

    run_loop(day, OPEN_AT, ist("09:31").astimezone(UTC))

    entered = fills(day, user, strategy_id, "ENTRY")
    # ATM from the feed's forward at 09:20 (its level x e^(rT)), not from spot or the simulation.
    expiry = next(iter(entered)).expiry
    years = datetime.combine(expiry, datetime.min.time(), IST).replace(hour=15, minute=30) - ist("09:20")
    forward = feed.level("09:20") * math.exp(0.065 * years.total_seconds() / (365 * 86400))
    atm = round(forward / 50) * 50
    assert atm != round(feed.level("09:20") / 50) * 50 or forward - feed.level("09:20") > 10
    strikes = {(c.option_type, int(c.strike)) for c in entered}
    assert strikes == {
        (OptionType.CE, atm + 100),
        (OptionType.CE, atm + 300),
        (OptionType.PE, atm - 100),
        (OptionType.PE, atm - 300),
    }
    for contract, price in entered.items():
        assert price == feed.premium(contract, "09:20"), contract  # the paper fill is the feed's price

    # The feed's volatility burst at 09:28 takes the condor past its 2,000 stop: the exit follows.
    exit_record = next(r for r in records(day, user, strategy_id) if r.action is ScheduleKind.EXIT)
    exit_minute = f"{exit_record.started_at.astimezone(IST):%H:%M}"
    assert exit_minute == "09:28" and exit_record.exit_reason is ExitReason.STOP_LOSS
    assert exit_record.realised_pnl is not None and exit_record.realised_pnl < -2000
    exited = fills(day, user, strategy_id, "EXIT")
    for contract, price in exited.items():
        assert price == feed.premium(contract, exit_minute), contract
    assert day.store.open_positions() == []


def test_no_entry_on_old_prices_while_the_feed_is_down_and_entries_resume_after(
    kite_day: tuple[TradingDay, ReplayedKite], capsys: pytest.CaptureFixture[str]
) -> None:
    day, feed = kite_day
    feed.down = {"09:21", "09:22", "09:23", "09:24"}
    during = day.strategy("trader", "09:23", {"acct-1": 1})
    after = day.strategy("trader", "09:26", {"acct-1": 1})

    run_loop(day, OPEN_AT, ist("09:27").astimezone(UTC))

    (refused,) = records(day, "trader", during)
    assert refused.status is ExecutionStatus.NOT_ENTERED and "no fresh quote" in (refused.reason or "")
    assert day.ledger("trader", during) == []  # nothing reached a broker on 09:20's prices
    assert NO_FRESH_QUOTE_METRIC in capsys.readouterr().out  # the alarm's metric (EMF on stdout)
    (entered,) = records(day, "trader", after)
    assert entered.status is ExecutionStatus.COMPLETE
    for contract, price in fills(day, "trader", after, "ENTRY").items():
        assert price == feed.premium(contract, "09:26")
    # Each down minute's refresh asked, was refused, and failed loudly (its errors are alarmed).
    assert set(feed.refused) == feed.down
