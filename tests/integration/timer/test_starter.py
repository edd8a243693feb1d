"""The daily start: one execution per IST trade date; a second start is harmless."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, cast

import boto3
import pytest

from lambda_functions.option_baskets import timer_starter
from shared_utils.accounts.linking import AccountLinking, LinkRequest
from shared_utils.accounts.secrets import MemoryAccountSecrets
from shared_utils.brokers._common import BrokerEndpoint
from shared_utils.brokers.kite_login import KiteLogin
from shared_utils.brokers.models import BrokerName
from shared_utils.clock import FixedClock
from shared_utils.errors import ConfigurationError
from shared_utils.market.calendar import TradingCalendar, special_session
from shared_utils.market.underlyings import Underlying
from shared_utils.market_data.listing_store import ListingStore
from shared_utils.market_data.symbol_book import SymbolBookStore
from shared_utils.models.broker_account import AccountState
from shared_utils.repository.broker_accounts import DynamoBrokerAccounts
from shared_utils.settings import MarketDataSourceName, load_settings
from shared_utils.timer.calendar_view import CalendarMarketView
from shared_utils.timer.listing import LISTING_REJECTED_METRIC
from shared_utils.timer.sessions import (
    END_OF_DAY_ACTION,
    LOGIN_FAILED_METRIC,
    LOGINS_NEEDED_METRIC,
    LOGOUT_FAILED_METRIC,
)
from shared_utils.timer.starter import start_daily_timer
from shared_utils.timer.symbol_books import SYMBOL_BOOK_REJECTED_METRIC
from tests.conftest import TEST_REGION, install_platform
from tests.integration.accounts.test_linking import KITE_APP, kite_redirect
from tests.integration.brokers.stub_kite import ACCESS_TOKEN, API_KEY, KiteStub
from tests.integration.brokers.stub_server import StubHttpServer
from tests.integration.execution.test_executor_metrics import emitted
from tests.integration.market_data.test_listing import dump, rows
from tests.integration.timer.conftest import FakeLambdaContext

ASL = Path(__file__).resolve().parents[3] / "step_functions" / "master_timer.asl.json"
MARKET = CalendarMarketView.default()
SAMPLE_DAYS = (
    date(2026, 11, 28),
    date(2026, 12, 25),
    date(2027, 1, 26),
    date(2027, 3, 3),
    date(2027, 10, 31),
)


@pytest.fixture
def machine(aws: dict[str, Any]) -> str:
    sfn = boto3.client("stepfunctions", region_name=TEST_REGION)
    definition = ASL.read_text().replace("${EmitterFunctionArn}", "arn:aws:lambda:ap-south-1:1:function:e")
    return sfn.create_state_machine(
        name="test-master-timer", definition=definition, roleArn="arn:aws:iam::123456789012:role/timer"
    )["stateMachineArn"]


def test_a_second_start_on_the_same_trade_date_is_harmless(machine: str) -> None:
    sfn = boto3.client("stepfunctions", region_name=TEST_REGION)
    # 03:29:58 UTC on the 25th is 08:59:58 IST: the IST date names the execution.
    clock = FixedClock(datetime(2026, 11, 25, 3, 29, 58, 500_000, tzinfo=UTC))
    first = start_daily_timer(sfn, machine, clock, MARKET)
    clock.set(datetime(2026, 11, 25, 3, 30, 40, tzinfo=UTC))
    second = start_daily_timer(sfn, machine, clock, MARKET)

    assert first.started and first.execution_name == "master-timer-2026-11-25-g0"
    assert not second.started and second.reason == "already started today"
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == ["master-timer-2026-11-25-g0"]
    described = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    assert json.loads(described["input"]) == {
        "next_tick": "2026-11-25T03:30:00Z",  # the session's pre-open, 09:00 IST
        "iteration": 0,
        "generation": 0,
    }


def test_the_calendar_decides_which_days_start_and_when(machine: str) -> None:
    sfn = boto3.client("stepfunctions", region_name=TEST_REGION)
    muhurat = special_session(
        date(2027, 10, 31), pre_open_start="18:00", pre_open_end="18:08", open="18:15", close="19:15",
        full_trading_day=False, label="Diwali Muhurat",
    )  # fmt: skip
    market = CalendarMarketView(TradingCalendar.default().with_changes(special_sessions=[muhurat]))
    at_nine = {day: FixedClock(datetime.combine(day, time(3, 30), tzinfo=UTC)) for day in SAMPLE_DAYS}

    outcomes = {day: start_daily_timer(sfn, machine, clock, market) for day, clock in at_nine.items()}

    assert {day: o.started for day, o in outcomes.items()} == {
        date(2026, 11, 28): False,  # a Saturday
        date(2026, 12, 25): False,  # an official holiday
        date(2027, 1, 26): False,  # a provisional national holiday
        date(2027, 3, 3): True,  # a provisional trading day
        date(2027, 10, 31): True,  # a Sunday with a Muhurat evening
    }
    assert outcomes[date(2026, 11, 28)].reason == "no session"
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    inputs = {
        e["name"]: json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["next_tick"]
        for e in executions
    }
    assert inputs == {
        "master-timer-2027-03-03-g0": "2027-03-03T03:30:00Z",
        "master-timer-2027-10-31-g0": "2027-10-31T12:30:00Z",  # waits for 18:00 IST
    }
    late = FixedClock(datetime(2027, 3, 4, 10, 30, tzinfo=UTC))  # 16:00 IST, after the close
    assert start_daily_timer(sfn, machine, late, market).reason == "the session is over"


def test_ist_trade_date_after_utc_midnight() -> None:
    clock = FixedClock(datetime(2026, 11, 24, 22, 0, tzinfo=UTC))  # 03:30 IST on the 25th

    class Recorder:
        def start_execution(self, **kwargs: Any) -> dict[str, Any]:
            self.kwargs = kwargs
            return {"executionArn": "arn:x"}

    sfn = Recorder()
    outcome = start_daily_timer(cast(Any, sfn), "arn:machine", clock, MARKET)
    assert (
        outcome.execution_name == "master-timer-2026-11-25-g0"
        and sfn.kwargs["name"] == outcome.execution_name
    )


def test_handler_needs_the_state_machine_setting(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timer_starter.metrics.provider, "namespace", "OptionsPlatformTest")
    monkeypatch.delenv("TIMER_STATE_MACHINE_ARN", raising=False)
    load_settings.cache_clear()
    with pytest.raises(ConfigurationError):
        timer_starter.handler({}, FakeLambdaContext())


def test_handler_starts_the_execution(
    aws: dict[str, Any], machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timer_starter.metrics.provider, "namespace", "OptionsPlatformTest")
    monkeypatch.setenv("TIMER_STATE_MACHINE_ARN", machine)
    load_settings.cache_clear()
    aws["clock"].set(datetime(2026, 11, 25, 3, 30, tzinfo=UTC))  # 09:00 IST on a trading day
    install_platform(load_settings(), aws["clock"], aws["dynamodb"])  # a cold start reads the ARN
    outcome = timer_starter.handler({"source": "aws.scheduler"}, FakeLambdaContext())
    assert outcome["started"] is True
    assert outcome["execution_name"].startswith("master-timer-")


@pytest.mark.parametrize("downloadable", [True, False])
def test_the_start_takes_in_the_feeds_instrument_master_and_a_failed_download_does_not_stop_the_day(
    aws: dict[str, Any],
    machine: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    downloadable: bool,
) -> None:
    stub = KiteStub()
    if downloadable:
        stub.instruments = {"NFO": dump(rows("NIFTY", date(2026, 11, 25))), "BFO": dump()}
    boto3.client("secretsmanager", region_name=TEST_REGION).create_secret(
        Name="test/market-data", SecretString=json.dumps({"api_key": API_KEY, "access_token": ACCESS_TOKEN})
    )
    aws["clock"].set(datetime(2026, 11, 25, 3, 30, tzinfo=UTC))  # 09:00 IST
    with StubHttpServer(stub) as server:
        settings = aws["settings"].model_copy(
            update={
                "timer_state_machine_arn": machine,
                "market_data_source": MarketDataSourceName.KITE,
                "market_data_url": server.url,
                "market_data_secret": "test/market-data",
            }
        )
        install_platform(settings, aws["clock"], aws["dynamodb"])
        outcome = timer_starter.handler({"source": "aws.scheduler"}, FakeLambdaContext())

    assert outcome["started"] is True  # the day runs whatever the download did
    listing = ListingStore(aws["dynamodb"], settings.trading_table_name).current()
    # The same download is Zerodha's symbol book: the dump is fetched once.
    book = SymbolBookStore(aws["dynamodb"], settings.trading_table_name).header(BrokerName.ZERODHA)
    assert len([r for r in stub.requests if r.path == "/instruments/NFO"]) == 1
    metrics = emitted(capsys.readouterr().out)
    rejected, books_rejected = metrics[LISTING_REJECTED_METRIC], metrics[SYMBOL_BOOK_REJECTED_METRIC]
    if downloadable:
        assert listing is not None and set(listing.indices) == {Underlying.NIFTY} and rejected == 0
        assert book is not None and book.contracts == listing.contracts and books_rejected == 0
    else:
        assert listing is None and rejected == 1
        assert book is None and books_rejected == 1


def _linking_on(stub_url: str, aws: dict[str, Any], clock: FixedClock) -> AccountLinking:
    accounts = DynamoBrokerAccounts(aws["dynamodb"], aws["settings"].broker_accounts_table_name)
    logins = {BrokerName.ZERODHA: KiteLogin(clock, BrokerEndpoint(base_url=stub_url, timeout_s=2))}
    return AccountLinking(accounts, MemoryAccountSecrets(), logins, clock, new_id=lambda: "acct-kite")


def test_the_start_marks_accounts_without_a_session_and_the_close_logs_sessions_out(
    aws: dict[str, Any], machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = aws["clock"]
    clock.set(datetime(2026, 11, 24, 3, 0, tzinfo=UTC))  # 08:30 IST: link and log in on the 24th
    with StubHttpServer(KiteStub()) as server:
        settings = aws["settings"].model_copy(update={"timer_state_machine_arn": machine})
        root = install_platform(settings, clock, aws["dynamodb"])
        root.account_linking = _linking_on(server.url, aws, clock)  # the stub broker's login
        step = root.account_linking.link(
            "user-k", LinkRequest(broker=BrokerName.ZERODHA, credentials=KITE_APP)
        )
        assert step.login_url is not None
        root.account_linking.complete_login("user-k", "acct-kite", kite_redirect(step.login_url))

        out = timer_starter.handler({"action": END_OF_DAY_ACTION}, FakeLambdaContext())
        assert out["logged_out"] == 1 and server.stub.logged_out == 1
        assert emitted(capsys.readouterr().out)[LOGOUT_FAILED_METRIC] == 0
        executions = boto3.client("stepfunctions", region_name=TEST_REGION).list_executions(
            stateMachineArn=machine
        )
        assert executions["executions"] == []  # the close starts nothing

        clock.set(datetime(2026, 11, 25, 3, 30, tzinfo=UTC))  # 09:00 IST the next day
        timer_starter.handler({"source": "aws.scheduler"}, FakeLambdaContext())
    metrics = emitted(capsys.readouterr().out)
    assert metrics[LOGINS_NEEDED_METRIC] == 1 and metrics[LOGIN_FAILED_METRIC] == 0
    [account], _ = root.broker_accounts.list_accounts("user-k")
    assert account.state is AccountState.NEEDS_LOGIN


def test_where_the_auth_stack_keeps_the_sessions_the_start_logs_nobody_in(
    aws: dict[str, Any], machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    aws["clock"].set(datetime(2026, 11, 25, 3, 30, tzinfo=UTC))  # 09:00 IST
    settings = aws["settings"].model_copy(
        update={"timer_state_machine_arn": machine, "manage_broker_sessions": False}
    )
    install_platform(settings, aws["clock"], aws["dynamodb"])
    assert timer_starter.handler({"source": "aws.scheduler"}, FakeLambdaContext())["started"] is True
    assert LOGINS_NEEDED_METRIC not in emitted(capsys.readouterr().out)
