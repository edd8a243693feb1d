"""The minute's market-data refresh at full size: every index level, the chains of all 7
indices due at once (every listed expiry kind, ATM ± 30 strikes: 61 strikes, calls and puts) and
500 open contracts, through the real Kite adapter (the official SDK over HTTP to a Kite stub on
127.0.0.1) into the quote cache on moto.

Printed: the contracts asked for, Kite /quote calls and the waits Kite's quote rate limit (one
call a second) imposes, DynamoDB requests (batched writes), wall time here, and a model of the
deployed refresh (Kite ~150 ms a call plus the waits, DynamoDB 5 ms a request in sequence).

    .venv/bin/python bench/refresh.py [--strikes 30] [--open 500]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REGION = "ap-south-1"
os.environ.update(
    {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_SERVICE_NAME": "refresh-bench",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from shared_utils.brokers._common import BrokerEndpoint  # noqa: E402
from shared_utils.brokers.credentials import BrokerCredentials  # noqa: E402
from shared_utils.brokers.models import OptionInstrument  # noqa: E402
from shared_utils.clock import IST  # noqa: E402
from shared_utils.market.calendar import TradingCalendar  # noqa: E402
from shared_utils.market.options import OptionType  # noqa: E402
from shared_utils.market.underlyings import Underlying  # noqa: E402
from shared_utils.market_data.cache import QuoteCache  # noqa: E402
from shared_utils.market_data.kite import KiteMarketData  # noqa: E402
from shared_utils.tables import TRADING_CONFIGURATIONS  # noqa: E402
from shared_utils.timer.envelope import ENVELOPE_VERSION, TimerEnvelope  # noqa: E402
from shared_utils.timer.market_data import ContractPlan, refresh_market_data  # noqa: E402
from tests.integration.brokers.stub_kite import ACCESS_TOKEN, API_KEY, KiteStub  # noqa: E402
from tests.integration.brokers.stub_server import Response, StubHttpServer  # noqa: E402

TICK = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # Wednesday 09:30 IST
TRADE_DATE = date(2026, 11, 25)
KITE_CALL_S, DYNAMODB_REQUEST_S = 0.150, 0.005


class AnyQuote(KiteStub):
    """Kite's /quote for any name asked: a price and the exchange's timestamp."""

    def _quote(self, names: list[str]) -> Response:
        stamp = f"{TICK.astimezone(IST):%Y-%m-%d %H:%M:%S}"
        self.quotes = {
            name: {"instrument_token": 1, "timestamp": stamp, "last_price": 25000.0} for name in names
        }
        return super()._quote(names)


@dataclass(frozen=True)
class Due:
    underlying: Underlying


class AllDue:
    def due_schedule_entries(self, start: datetime, end: datetime) -> Iterable[Any]:
        return [Due(u) for u in Underlying]


class Held:
    def __init__(self, count: int) -> None:
        # Far strikes of NIFTY's next-month expiry, outside the chains: each one its own contract.
        self.contracts = {
            OptionInstrument(
                underlying=Underlying.NIFTY,
                expiry=date(2027, 1, 26),
                strike=Decimal(10000 + 50 * (n // 2)),
                option_type=OptionType.CE if n % 2 else OptionType.PE,
                monthly=True,
            )
            for n in range(count)
        }

    def open_contracts(self) -> set[OptionInstrument]:
        return self.contracts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strikes", type=int, default=30, help="strikes each side of ATM")
    parser.add_argument("--open", type=int, default=500, help="open contracts outside the chains")
    args = parser.parse_args()

    waits: list[float] = []
    with mock_aws(), StubHttpServer(AnyQuote()) as server:
        client = boto3.client("dynamodb", region_name=REGION)
        table = TRADING_CONFIGURATIONS.name("bench")
        client.create_table(**TRADING_CONFIGURATIONS.create_table_kwargs(table))
        requests: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb", lambda model, **_: requests.update([model.name]))
        credentials = BrokerCredentials(api_key=SecretStr(API_KEY), access_token=SecretStr(ACCESS_TOKEN))
        source = KiteMarketData(
            credentials, BrokerEndpoint(base_url=server.url, timeout_s=30), sleep=waits.append
        )
        envelope = TimerEnvelope(
            version=ENVELOPE_VERSION,
            tick=TICK,
            trade_date=TRADE_DATE,
            phase="morning",
            priority=1,
            window_start=TICK,
            window_end=TICK + timedelta(minutes=1),
        )
        plan = ContractPlan(Held(args.open), TradingCalendar.default, args.strikes)
        started = time.perf_counter()
        report = refresh_market_data(envelope, AllDue(), source, QuoteCache(client, table), TICK, plan)
        elapsed = time.perf_counter() - started
        calls = sum(1 for r in server.stub.requests if r.path == "/quote")

    dynamodb = sum(requests.values())
    modeled = calls * KITE_CALL_S + sum(waits) + dynamodb * DYNAMODB_REQUEST_S
    print(
        f"refresh of {len(Underlying)} indices, ATM ± {args.strikes} strikes of every listed expiry kind, "
        f"{args.open} open contracts"
    )
    print(f"  contracts asked for: {report.contracts:,}  quotes cached: {report.cached:,}")
    print(f"  Kite /quote calls:   {calls} (≤ 500 instruments each), rate-limit waits {sum(waits):.0f} s")
    print(f"  DynamoDB requests:   {dynamodb} ({dict(requests)})")
    print(f"  wall time here:      {elapsed:.1f} s (moto in process; waits not slept)")
    print(
        f"  modeled deployed:    {modeled:.1f} s (Kite {KITE_CALL_S * 1000:.0f} ms a call + waits, "
        f"DynamoDB {DYNAMODB_REQUEST_S * 1000:.0f} ms a request in sequence)"
    )


if __name__ == "__main__":
    main()
