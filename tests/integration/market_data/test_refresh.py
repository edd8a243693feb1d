"""The minute's refresh on moto: index levels first, then the chains of due underlyings around
the level just fetched and every open contract, in batched writes; stored with the exchange's
timestamps and read back per expiry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest

from shared_utils.brokers.models import OptionInstrument
from shared_utils.composition import Platform
from shared_utils.errors import ConfigurationError
from shared_utils.execution.armed import ArmedEntry, ArmedKind
from shared_utils.execution.models import WatchedContract
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.expiries import ExpiryKind, expiry_for, valid_kinds
from shared_utils.market.options import Action, OptionType
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.cache import QuoteCache
from shared_utils.market_data.models import Quote, QuoteBatch, QuoteRequest
from shared_utils.models.strategy import MoveDirection, WaitAndTrade
from shared_utils.settings import MarketDataSourceName
from shared_utils.timer.envelope import ENVELOPE_VERSION, TimerEnvelope
from shared_utils.timer.market_data import ContractPlan, refresh_market_data
from tests.conftest import TEST_REGION

TICK = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # Wednesday 09:30 IST
TRADE_DATE = date(2026, 11, 25)
EXCHANGE_TIME = TICK - timedelta(seconds=2)
LEVELS = {u.value: Decimal(1000 + 100 * i) for i, u in enumerate(Underlying)} | {"NIFTY": Decimal("26012.4")}
ENVELOPE = TimerEnvelope(
    version=ENVELOPE_VERSION,
    tick=TICK,
    trade_date=TRADE_DATE,
    phase="CONTINUOUS",
    priority=5,
    window_start=TICK,
    window_end=TICK + timedelta(minutes=1),
)
HELD = OptionInstrument(
    underlying=Underlying.BANKNIFTY,
    expiry=date(2026, 12, 30),
    strike=Decimal(59000),
    option_type=OptionType.PE,
)


@dataclass
class Source:
    """Quotes everything asked for but the `unquoted` instruments; reports 3 dropped a call."""

    requests: list[QuoteRequest] = field(default_factory=list)
    unquoted: set[str] = field(default_factory=set)

    def quotes(self, request: QuoteRequest, at: datetime) -> QuoteBatch:
        self.requests.append(request)
        quotes = [
            Quote(instrument=i.value, last_price=LEVELS[i.value], as_of=EXCHANGE_TIME)
            for i in request.indices
            if i.value not in self.unquoted
        ]
        quotes += [
            Quote(
                instrument=c.key,
                last_price=Decimal("101.5"),
                as_of=EXCHANGE_TIME,
                bid=Decimal("101.4"),
                ask=Decimal("101.6"),
                volume=1200,
                open_interest=56000,
            )
            for c in request.contracts
        ]
        return QuoteBatch(quotes=quotes, dropped=3, requests=1)


@dataclass(frozen=True)
class Due:
    underlying: Underlying


class Schedule:
    def __init__(self, *underlyings: Underlying) -> None:
        self.entries = [Due(u) for u in underlyings]

    def due_schedule_entries(self, start: datetime, end: datetime) -> Iterable[Any]:
        return self.entries


class Held:
    def open_contracts(self) -> set[OptionInstrument]:
        return {HELD}


@pytest.fixture
def cache(aws: dict[str, Any]) -> QuoteCache:
    return QuoteCache(aws["dynamodb"], aws["settings"].trading_table_name)


def plan(strikes: int = 30, armed: Any = None) -> ContractPlan:
    return ContractPlan(Held(), TradingCalendar.default, strikes, armed=armed)


class Armed:
    """One wait-and-trade leg on BANKNIFTY, watching a contract no position holds."""

    def __init__(self, instrument: OptionInstrument) -> None:
        self.instrument = instrument

    def armed_entries(self, trade_date: date) -> list[ArmedEntry]:
        watched = WatchedContract(
            leg_no=1, instrument=self.instrument, side=Action.SELL, price=Decimal("300")
        )
        return [
            ArmedEntry(
                user_id="u", strategy_id="s", trade_date=trade_date, run_name="WAIT1",
                kind=ArmedKind.WAIT_AND_TRADE, legs=[1], cycle="",
                wait=WaitAndTrade(direction=MoveDirection.UP, value=Decimal("10")), watched=[watched],
                not_before=TICK, not_after=TICK + timedelta(minutes=30), armed_at=TICK,
            )
        ]  # fmt: skip


def test_armed_entries_get_their_watched_contracts_and_their_underlyings_chains(cache: QuoteCache) -> None:
    source = Source()
    expiry = expiry_for("BANKNIFTY", TRADE_DATE, ExpiryKind.CURRENT_MONTHLY, TradingCalendar.default())
    watched = OptionInstrument(
        underlying="BANKNIFTY",
        expiry=expiry,
        strike=Decimal("70000"),
        option_type=OptionType.CE,
        monthly=True,
    )

    refresh_market_data(ENVELOPE, Schedule(), source, cache, TICK, plan(2, Armed(watched)))

    _first, second = source.requests
    assert watched in second.contracts  # far from the money: only because the wait watches it
    assert {c.underlying for c in second.contracts} >= {Underlying.BANKNIFTY}


def test_chains_of_due_underlyings_and_held_contracts_follow_the_levels(cache: QuoteCache) -> None:
    source = Source()

    report = refresh_market_data(ENVELOPE, Schedule(Underlying.NIFTY), source, cache, TICK, plan())

    first, second = source.requests
    assert first.indices == list(Underlying) and first.contracts == []
    expiries = {
        expiry_for("NIFTY", TRADE_DATE, k, TradingCalendar.default())
        for k in valid_kinds("NIFTY", TRADE_DATE)
    }
    nifty = [c for c in second.contracts if c.underlying is Underlying.NIFTY]
    assert {c.expiry for c in nifty} == expiries and len(nifty) == len(expiries) * 61 * 2
    strikes = sorted({c.strike for c in nifty})
    assert (strikes[0], strikes[-1]) == (Decimal(26000 - 30 * 50), Decimal(26000 + 30 * 50))
    assert HELD in second.contracts
    assert report.contracts == len(second.contracts) and report.cached == 7 + len(second.contracts)
    assert report.dropped == 6 and report.source_requests == 2

    chain = cache.chain_quotes("NIFTY", min(expiries), TICK)
    assert len(chain) == 122 and {q.as_of for q in chain} == {EXCHANGE_TIME}
    stored = cache.get(HELD.key, TICK)
    assert stored is not None and (stored.bid, stored.ask, stored.volume, stored.open_interest) == (
        Decimal("101.4"),
        Decimal("101.6"),
        1200,
        56000,
    )
    assert cache.chain_quotes("NIFTY", min(expiries), TICK + timedelta(seconds=301)) == []


def test_monthly_contracts_are_named_as_monthly(cache: QuoteCache) -> None:
    source = Source()
    refresh_market_data(ENVELOPE, Schedule(Underlying.NIFTY), source, cache, TICK, plan(1))

    monthly = expiry_for("NIFTY", TRADE_DATE, valid_kinds("NIFTY", TRADE_DATE)[2], TradingCalendar.default())
    flags = {c.expiry: c.monthly for c in source.requests[1].contracts if c.underlying is Underlying.NIFTY}
    assert flags[monthly] is True and sum(flags.values()) == 2


def test_an_underlying_without_a_level_gets_no_chain(cache: QuoteCache) -> None:
    source = Source(unquoted={"SENSEX"})

    refresh_market_data(ENVELOPE, Schedule(Underlying.SENSEX, Underlying.NIFTY), source, cache, TICK, plan())

    contracts = source.requests[1].contracts
    assert {c.underlying for c in contracts} == {Underlying.NIFTY, Underlying.BANKNIFTY}


def test_the_simulated_source_is_asked_for_levels_only(cache: QuoteCache) -> None:
    source = Source()

    report = refresh_market_data(ENVELOPE, Schedule(Underlying.NIFTY), source, cache, TICK, None)

    assert len(source.requests) == 1 and report.contracts == 0 and report.cached == 7


@pytest.mark.parametrize("secret", [None, '{"api_key": "k"}', "not json"])
def test_an_unreadable_feed_login_is_a_configuration_error_naming_the_secret(
    aws: dict[str, Any], secret: str | None
) -> None:
    """Missing, without an access token, or not JSON: the refresh (and the morning's download)
    fail with the secret's name, never its content."""
    name = "test/market-data"
    if secret is not None:
        boto3.client("secretsmanager", region_name=TEST_REGION).create_secret(Name=name, SecretString=secret)
    settings = aws["settings"].model_copy(
        update={"market_data_source": MarketDataSourceName.KITE, "market_data_secret": name}
    )
    root = Platform(settings, aws["clock"], dynamodb=aws["dynamodb"])

    with pytest.raises(ConfigurationError, match=f"market-data login {name} is unreadable") as raised:
        root.market_data_source()
    assert '"k"' not in raised.value.message
