from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from shared_utils.composition import platform as root
from shared_utils.errors import RunsNotQueuedError
from shared_utils.execution.models import ExitReason, LedgerStatus
from shared_utils.market_data.cache import QuoteCache
from shared_utils.market_data.models import Quote
from shared_utils.models.common import StrategyStatus
from tests.conftest import install_platform
from tests.integration.execution.conftest import SerializedClient, condor_body

EXECUTIONS = "/options/executions"
POSITIONS = "/options/positions"
KILL = "/options/kill-switch"
TRADE_DATE = date(2026, 11, 25)
DAY = {"from_date": "2026-11-25", "to_date": "2026-11-25"}


@pytest.fixture(autouse=True)
def quotes_refreshed(aws, platform):
    """The minute's market-data refresh as the routes' process sees it: the index levels the
    test's market uses, cached now (without them nothing is priced: no silent simulation)."""
    now = aws["clock"].now()
    quotes = [Quote(instrument=name, last_price=level, as_of=now) for name, level in platform.levels.items()]
    QuoteCache(aws["dynamodb"], aws["settings"].trading_table_name).put(quotes, now)


def test_executions_show_per_broker_orders_and_the_reason_a_strategy_was_not_entered(api, platform):
    entered = platform.strategy("user-a", condor_body(), {"acct-1": 1, "acct-2": 2})
    platform.service.enter("user-a", entered, TRADE_DATE)
    skipped = platform.strategy("user-a", condor_body(underlying="SENSEX"), {"acct-1": 1})
    del platform.levels["SENSEX"]
    platform.service.enter("user-a", skipped, TRADE_DATE)

    response = api("GET", EXECUTIONS, query=DAY)

    assert response.status == 200, response.body
    by_strategy = {item["strategy_id"]: item for item in response.body["items"]}
    done = by_strategy[entered]
    assert done["status"] == "COMPLETE"
    assert {b["broker_account_id"]: len(b["orders"]) for b in done["brokers"]} == {"acct-1": 4, "acct-2": 4}
    order = next(b for b in done["brokers"] if b["broker_account_id"] == "acct-2")["orders"][0]
    assert order["status"] == "FILLED" and order["filled_quantity"] == 130
    assert isinstance(order["average_price"], float) and order["average_price"] > 0
    not_entered = by_strategy[skipped]
    assert not_entered["status"] == "NOT_ENTERED"
    assert "no fresh quote for SENSEX" in not_entered["reason"]

    only = api("GET", EXECUTIONS, query={**DAY, "strategy_id": skipped})
    assert [item["strategy_id"] for item in only.body["items"]] == [skipped]

    first = api("GET", EXECUTIONS, query={**DAY, "limit": "1"})
    assert len(first.body["items"]) == 1 and first.body["next_token"]
    second = api("GET", EXECUTIONS, query={**DAY, "limit": "1", "next_token": first.body["next_token"]})
    assert {first.body["items"][0]["strategy_id"], second.body["items"][0]["strategy_id"]} == {
        entered,
        skipped,
    }

    other = api("GET", EXECUTIONS, query=DAY, user="user-b")
    assert other.body["items"] == []


def test_a_reversed_date_range_is_a_422(api):
    response = api("GET", EXECUTIONS, query={"from_date": "2026-11-26", "to_date": "2026-11-25"})

    assert response.status == 422
    assert response.body["details"][0]["field"] == "from_date"


def test_positions_show_open_quantities_and_pnl(api, platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 3})
    platform.service.enter("user-a", sid, TRADE_DATE)

    response = api("GET", POSITIONS)

    assert response.status == 200
    quantities = sorted((p["leg_no"], p["net_quantity"]) for p in response.body["positions"])
    assert quantities == [(1, -195), (2, 195), (3, -195), (4, 195)]
    assert response.body["realised_pnl"] == 0
    # Marked when read (no stop-loss check has run): every open leg shows a price and its P&L.
    assert all(p["last_price"] is not None for p in response.body["positions"])
    assert all(p["unrealised_pnl"] is not None for p in response.body["positions"])
    assert Decimal(str(response.body["unrealised_pnl"])) == sum(
        Decimal(str(p["unrealised_pnl"])) for p in response.body["positions"]
    )


def test_kill_switch_route_squares_off_pauses_and_rearms(api, platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1, "acct-2": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)

    pressed = api("POST", KILL)
    again = api("POST", KILL)

    # 202 at once; the test's platform runs the queued square-off before the response is read.
    assert pressed.status == 202, pressed.body
    operation = pressed.body["operation"]
    assert (operation["users_done"], operation["exits_done"], operation["orders_sent"]) == (1, 1, 8)
    assert operation["positions_left"] == 0 and operation["flat"] is True
    assert again.status == 202 and again.body["operation"]["orders_sent"] == 0
    assert again.body["operation"]["operation_id"] != operation["operation_id"]
    assert api("GET", POSITIONS).body["positions"] == []
    assert platform.repository.get_strategy("user-a", sid).status is StrategyStatus.PAUSED
    state = api("GET", KILL).body
    assert state["switch"]["state"] == "TRIGGERED" and state["entries_allowed"] is False
    assert state["operation"]["operation_id"] == again.body["operation"]["operation_id"]
    assert state["operation"]["flat"] is True and state["global_operation"] is None

    rearmed = api("DELETE", KILL)
    assert rearmed.status == 200
    assert rearmed.body["switch"]["state"] == "ARMED" and rearmed.body["entries_allowed"] is True


class RefusingQueue:
    def send(self, runs, *, delay_s=0):
        raise RunsNotQueuedError(len(runs), "ServiceUnavailable")


def test_a_press_whose_square_off_cannot_be_queued_answers_503_with_the_switch_set(api, platform):
    root().__dict__["run_queue"] = RefusingQueue()  # the installed composition root's queue

    pressed = api("POST", KILL)

    assert pressed.status == 503 and pressed.body["code"] == "RUNS_NOT_QUEUED"
    assert "no entry order is placed" in pressed.body["message"]
    assert pressed.headers.get("Retry-After")
    state = api("GET", KILL).body
    assert state["switch"]["state"] == "TRIGGERED" and state["entries_allowed"] is False


def test_only_admins_press_the_platform_wide_switch(api, platform):
    refused = api("POST", KILL, query={"scope": "ALL"})
    assert refused.status == 403
    assert refused.body["code"] == "FORBIDDEN"

    pressed = api("POST", KILL, query={"scope": "ALL"}, user="admin-1", groups=("Admins",))
    assert pressed.status == 202 and pressed.body["operation"]["scope"] == "GLOBAL"
    assert api("GET", KILL).body["global_switch"]["state"] == "TRIGGERED"
    assert api("GET", KILL).body["entries_allowed"] is False
    assert api("DELETE", KILL, query={"scope": "ALL"}, user="admin-1", groups=("Admins",)).status == 200
    assert api("GET", KILL).body["entries_allowed"] is True


@pytest.fixture(autouse=True)
def _serialized_moto(aws) -> None:
    """The routes' engine threads share one in-process moto: serialize its calls (TESTING_NOTES)."""
    install_platform(aws["settings"], aws["clock"], SerializedClient(aws["dynamodb"]))


def test_a_strategy_or_basket_with_open_positions_cannot_be_deleted_until_flat(api, platform):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)
    basket_id = platform.repository.get_strategy("user-a", sid).basket_id

    refused = api("DELETE", "/options/strategies/{strategy_id}", strategy_id=sid)
    basket_refused = api("DELETE", "/options/baskets/{basket_id}", basket_id=basket_id)

    for response in (refused, basket_refused):
        assert response.status == 409 and response.body["code"] == "OPEN_POSITIONS"
        assert len(response.body["details"]) == 4  # one per open leg
    assert api("GET", "/options/strategies/{strategy_id}", strategy_id=sid).status == 200

    platform.clock.advance(timedelta(hours=5))
    platform.service.scheduled_exit("user-a", sid, TRADE_DATE)
    assert api("DELETE", "/options/strategies/{strategy_id}", strategy_id=sid).status == 204


def test_delete_with_close_positions_exits_first_then_deletes(api, platform, aws):
    sid = platform.strategy("user-a", condor_body(), {"acct-1": 1})
    platform.service.enter("user-a", sid, TRADE_DATE)

    missing = api(
        "DELETE", "/options/strategies/{strategy_id}", strategy_id="nope", query={"close_positions": "true"}
    )
    deleted = api(
        "DELETE", "/options/strategies/{strategy_id}", strategy_id=sid, query={"close_positions": "true"}
    )

    assert missing.status == 404
    assert deleted.status == 204
    assert api("GET", "/options/strategies/{strategy_id}", strategy_id=sid).status == 404
    assert [p.net_quantity for p in platform.store.positions("user-a", sid) if p.net_quantity] == []
    # The API's clock may be another day than the entry's (the date-shift guard): read both days.
    start = min(platform.clock.now(), aws["clock"].now()) - timedelta(days=1)
    end = max(platform.clock.now(), aws["clock"].now())
    records, _ = platform.store.list_records("user-a", start, end, strategy_id=sid)
    [exited] = [r for r in records if r.action.value == "EXIT"]
    assert exited.exit_reason is ExitReason.MANUAL
    assert {o.status for o in exited.brokers[0].orders} == {LedgerStatus.FILLED}
