"""A trader's day on the local platform, driven over HTTP: basket -> strategy from a template ->
allocations on two brokers -> a simulated session -> the executions, checked through the API:
entry and exit at the scheduled minutes, quantities exact per broker, no duplicate orders."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from shared_utils.market.specs import spec_for
from tests.e2e.conftest import Platform

IST = ZoneInfo("Asia/Kolkata")
DAY = "2026-11-23"  # a Monday with a regular session
LOTS = {"ZERODHA": 2, "ANGEL_ONE": 1}


# About a minute: in `make test-all`, so that `make test` on a fresh clone stays under ten minutes
# (the in-process timer-to-broker sessions of tests/reliability run in every `make test`).
@pytest.mark.slow
def test_a_simulated_session_enters_and_exits_on_schedule_with_exact_quantities(platform: Platform) -> None:
    token = platform.token("trader")
    accounts = platform.request("GET", "/options/broker-accounts", token=token).json()["items"]
    account_of = {a["broker"]: a["broker_account_id"] for a in accounts}

    basket = platform.request("POST", "/options/baskets", token=token, body={"name": "E2E weekly"})
    assert basket.status == 201, basket.body
    templates = platform.request("GET", "/options/strategy-templates", token=token).json()["items"]
    condor = next(t for t in templates if t["name"] == "IRON_CONDOR")
    strategy = platform.request(
        "POST",
        f"/options/baskets/{basket.json()['basket_id']}/strategies",
        token=token,
        body={
            "name": "NIFTY condor",
            "underlying": "NIFTY",
            "legs": condor["legs"],
            "entry": {"time": "09:20", "weekdays": ["MON", "TUE", "WED", "THU", "FRI"]},
            "exit": {"time": "15:15"},
        },
    )
    assert strategy.status == 201, strategy.body
    strategy_id = strategy.json()["strategy_id"]
    for broker, lots in LOTS.items():
        allocation = platform.request(
            "POST",
            f"/options/strategies/{strategy_id}/brokers",
            token=token,
            body={"broker_account_id": account_of[broker], "lots": lots},
        )
        assert allocation.status == 201, allocation.body

    report_dir = platform.data_dir / "report"
    done = platform.cli(
        "simulate", "--date", DAY, "--user", "trader", "--report-dir", str(report_dir), timeout=900
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "running platform" in done.stdout

    reply = platform.request(
        "GET", f"/options/executions?from_date={DAY}&to_date={DAY}&limit=100", token=token
    )
    assert reply.status == 200, reply.body
    records = reply.json()["items"]
    by_action = {r["action"]: r for r in records}
    assert sorted(r["action"] for r in records) == ["ENTRY", "EXIT"]
    for action, hhmm in (("ENTRY", "09:20"), ("EXIT", "15:15")):
        record = by_action[action]
        assert record["status"] == "COMPLETE", record
        assert f"{datetime.fromisoformat(record['started_at']).astimezone(IST):%H:%M}" == hhmm

    orders = []
    for record in records:
        for broker in record["brokers"]:
            assert broker["status"] == "COMPLETE", broker
            for order in broker["orders"]:
                orders.append((record["action"], broker["broker"], order))
    # 4 legs x 2 brokers x (entry + exit), each exactly once
    assert len(orders) == 16
    assert len({o["order_key"] for _, _, o in orders}) == 16
    assert len({o["broker_order_id"] for _, _, o in orders}) == 16
    for _action, broker, order in orders:
        expiry = date.fromisoformat(order["instrument"].split("|")[1])
        lot_size = spec_for("NIFTY", expiry).lot_size
        assert order["quantity"] == order["filled_quantity"] == LOTS[broker] * lot_size, order
    per_side = Counter((action, order["side"]) for action, _, order in orders)
    assert per_side == {("ENTRY", "SELL"): 4, ("ENTRY", "BUY"): 4, ("EXIT", "SELL"): 4, ("EXIT", "BUY"): 4}

    positions = platform.request("GET", "/options/positions", token=token).json()["positions"]
    assert positions == []  # everything squared off at 15:15

    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["trade_date"] == DAY
    assert summary["handler_errors"] == []
    assert summary["orders_per_broker"] == {"ZERODHA": 8, "ANGEL_ONE": 8}
    assert summary["events"]["by_type"]["ScheduleStrategyTrigger"] > 70
    html = (report_dir / "report.html").read_text()
    assert html.count("<svg") >= 2 and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
