from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from shared_utils.brokers.circuit import CircuitState
from shared_utils.brokers.credentials import BrokerCredentials, StaticCredentialsProvider
from shared_utils.brokers.guarded import GuardedBroker
from shared_utils.brokers.models import BrokerName, OptionInstrument, OrderState
from shared_utils.brokers.paper import PaperBroker
from shared_utils.brokers.port import Broker, BrokerAuthError
from shared_utils.brokers.registry import BrokerRegistry, RegistryConfig
from shared_utils.errors import ConfigurationError
from tests.unit.brokers.conftest import SleepingClock, make_order, nifty, price_source

ZERODHA_CREDS = BrokerCredentials(api_key=SecretStr("key"), access_token=SecretStr("token-1"))


def registry(
    clock: SleepingClock,
    credentials: dict[str, BrokerCredentials] | StaticCredentialsProvider | None = None,
    **config: object,
) -> BrokerRegistry:
    if not isinstance(credentials, StaticCredentialsProvider):
        credentials = StaticCredentialsProvider(credentials or {})
    config.setdefault("protection_prices", FixedProtectionPrices())
    return BrokerRegistry(
        credentials,
        clock,
        prices=price_source({nifty().key: Decimal("100")}),
        config=RegistryConfig(**config),  # type: ignore[arg-type]
        sleep=clock.sleep,
    )


class FixedProtectionPrices:
    def last_price(self, instrument: OptionInstrument, now: datetime, max_age: timedelta) -> Decimal | None:
        return Decimal("100")


def test_a_broker_without_market_protection_needs_protection_prices(clock: SleepingClock) -> None:
    creds = BrokerCredentials(user_id="FA123", access_token=SecretStr("susertoken"))
    with pytest.raises(ConfigurationError, match="protection price"):
        registry(clock, {"f1": creds}, protection_prices=None).broker_for("f1", "FINVASIA")
    assert registry(clock, {"f1": creds}).broker_for("f1", "FINVASIA").name is BrokerName.FINVASIA


def test_paper_accounts_get_one_paper_broker_each(clock: SleepingClock) -> None:
    reg = registry(clock)
    broker = reg.broker_for("p1", "paper")
    assert isinstance(broker, PaperBroker) and isinstance(broker, Broker)
    placed = broker.place(make_order())
    assert placed.status is OrderState.COMPLETE
    assert reg.broker_for("p1", "PAPER").find_order_by_tag(make_order().tag) == placed
    assert reg.broker_for("p2", "PAPER").find_order_by_tag(make_order().tag) is None


def test_a_real_broker_account_flagged_paper_trades_on_paper(clock: SleepingClock) -> None:
    assert registry(clock).broker_for("z1", "ZERODHA", paper=True).name is BrokerName.PAPER


@pytest.mark.parametrize("name", ["ROBINHOOD", "", "FYERS"])
def test_unknown_or_adapterless_broker_is_a_configuration_error(clock: SleepingClock, name: str) -> None:
    with pytest.raises(ConfigurationError):
        registry(clock, {"a1": ZERODHA_CREDS}).broker_for("a1", name)


@pytest.mark.parametrize(("name", "lookup"), [("UPSTOX", "upstox_tokens"), ("DHAN", "dhan_tokens")])
def test_upstox_and_dhan_need_their_token_lookup(clock: SleepingClock, name: str, lookup: str) -> None:
    creds = BrokerCredentials(api_key=SecretStr("k"), access_token=SecretStr("t"), user_id="C1")
    with pytest.raises(ConfigurationError, match="lookup"):
        registry(clock, {"a1": creds}).broker_for("a1", name)
    tokens = {lookup: lambda exchange, symbol: None}
    assert registry(clock, {"a1": creds}, **tokens).broker_for("a1", name).name is BrokerName(name)


def test_missing_credentials_fail_closed(clock: SleepingClock) -> None:
    with pytest.raises(BrokerAuthError):
        registry(clock).broker_for("z1", "ZERODHA")


def test_real_broker_is_guarded_and_reused_until_credentials_change(clock: SleepingClock) -> None:
    credentials = StaticCredentialsProvider({"z1": ZERODHA_CREDS})
    reg = registry(clock, credentials)
    first = reg.broker_for("z1", "zerodha")
    assert isinstance(first, GuardedBroker) and first.name is BrokerName.ZERODHA
    again = reg.broker_for("z1", "ZERODHA")
    assert isinstance(again, GuardedBroker)
    assert again.inner is first.inner and again.circuit is first.circuit
    credentials.put("z1", BrokerCredentials(api_key=SecretStr("key"), access_token=SecretStr("token-2")))
    rotated = reg.broker_for("z1", "ZERODHA")
    assert isinstance(rotated, GuardedBroker)
    assert rotated.inner is not first.inner
    assert rotated.circuit is first.circuit
    snapshot = reg.circuit_state("z1")
    assert snapshot is not None and snapshot.state is CircuitState.CLOSED
    assert reg.circuit_state("unknown") is None


def test_angel_one_needs_a_symbol_token_lookup(clock: SleepingClock) -> None:
    credentials = {"a1": ZERODHA_CREDS}
    with pytest.raises(ConfigurationError):
        registry(clock, credentials).broker_for("a1", "ANGEL_ONE")
    tokens = {("NFO", "X"): "1"}.get  # the symbol book's lookup: (exchange, symbol) -> token
    assert registry(clock, credentials, angel_one_tokens=tokens).broker_for("a1", "ANGEL_ONE").name is (
        BrokerName.ANGEL_ONE
    )


def test_finvasia_needs_a_user_id(clock: SleepingClock) -> None:
    with pytest.raises(BrokerAuthError):
        registry(clock, {"f1": ZERODHA_CREDS}).broker_for("f1", "FINVASIA")
    creds = BrokerCredentials(user_id="FA123", access_token=SecretStr("susertoken"))
    assert registry(clock, {"f1": creds}).broker_for("f1", "FINVASIA").name is BrokerName.FINVASIA


def test_paper_without_a_price_source_is_a_configuration_error(clock: SleepingClock) -> None:
    reg = BrokerRegistry(StaticCredentialsProvider({}), clock)
    with pytest.raises(ConfigurationError):
        reg.broker_for("p1", "PAPER")
