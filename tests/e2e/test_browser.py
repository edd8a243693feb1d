"""The pages a user opens, rendered by a real browser (headless Chromium, no network): the
simulated session's report.html and the local platform's Swagger UI. Each must show no console
error, no page error, no failed request, and what a user came for: charts and figures, operations.

A whole simulated session takes over a minute, so the report here is written by the same
`write_report` the `simulate` command calls, from a short hand-built day (two strategies, three
brokers); the end-to-end session itself is checked in test_simulated_session.py."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from local_platform.report import write_report
from local_platform.session_log import SessionLog
from shared_utils.api.openapi import TITLE
from shared_utils.execution.models import (
    BrokerOutcome,
    BrokerStatus,
    ExecutionRecord,
    ExecutionStatus,
    ExitReason,
    LedgerStatus,
    OrderOutcome,
    PositionView,
    ScheduleKind,
)
from shared_utils.market.options import Action, OptionType
from shared_utils.models.common import Product
from shared_utils.timer.emitter import EmitResult
from tests.e2e.browser import PageWatch, chromium
from tests.e2e.conftest import Platform

DAY = date(2026, 11, 23)
OPEN = datetime(2026, 11, 23, 3, 45, tzinfo=UTC)  # 09:15 IST
SESSION_MINUTES = 6 * 60 + 15  # 09:15 .. 15:30 IST, one tick a minute
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "options", "head", "trace"})

# (strategy id, name, underlying, expiry, legs as (strike, CE/PE, BUY/SELL, entry price), {broker: quantity})
STRATEGIES: tuple[tuple[str, str, str, str, tuple[tuple[int, str, str, str], ...], dict[str, int]], ...] = (
    (
        "strategy-condor",
        "NIFTY condor",
        "NIFTY",
        "2026-11-24",
        (
            (23800, "PE", "BUY", "18.40"),
            (24000, "PE", "SELL", "52.10"),
            (24400, "CE", "SELL", "47.85"),
            (24600, "CE", "BUY", "15.20"),
        ),
        {"ZERODHA": 150, "ANGEL_ONE": 75},
    ),
    (
        "strategy-straddle",
        "BANKNIFTY straddle",
        "BANKNIFTY",
        "2026-11-24",
        ((52000, "CE", "SELL", "310.50"), (52000, "PE", "SELL", "298.25")),
        {"FINVASIA": 30},
    ),
)


def _at(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return OPEN + timedelta(hours=hours - 9, minutes=minutes - 15)


def _record(strategy: tuple[Any, ...], action: ScheduleKind, hhmm: str) -> ExecutionRecord:
    strategy_id, _name, underlying, expiry, legs, quantities = strategy
    brokers = []
    for broker, quantity in quantities.items():
        orders = []
        for leg_no, (strike, option_type, side, price) in enumerate(legs, start=1):
            if action is ScheduleKind.EXIT:
                side = "SELL" if side == "BUY" else "BUY"
            orders.append(
                OrderOutcome(
                    order_key=f"{strategy_id}#{action.value}#{broker}#{leg_no}",
                    leg_no=leg_no,
                    slice_no=1,
                    instrument=f"{underlying}|{expiry}|{strike}|{option_type}",
                    side=Action(side),
                    quantity=quantity,
                    status=LedgerStatus.FILLED,
                    filled_quantity=quantity,
                    average_price=Decimal(price),
                    broker_order_id=f"{broker}-{strategy_id}-{action.value}-{leg_no}",
                )
            )
        brokers.append(
            BrokerOutcome(
                broker_account_id=f"paper-{broker.lower()}",
                broker=broker,
                status=BrokerStatus.COMPLETE,
                orders=orders,
            )
        )
    return ExecutionRecord(
        user_id="trader",
        strategy_id=strategy_id,
        action=action,
        run_name=action.value,
        trade_date=DAY,
        started_at=_at(hhmm),
        updated_at=_at(hhmm),
        status=ExecutionStatus.COMPLETE,
        exit_reason=ExitReason.SCHEDULED if action is ScheduleKind.EXIT else None,
        brokers=brokers,
    )


def _position(strategy: tuple[Any, ...], realised: str) -> PositionView:
    strategy_id, _name, underlying, expiry, legs, quantities = strategy
    strike, option_type, _side, _price = legs[0]
    broker = next(iter(quantities))
    return PositionView.model_validate(
        {
            "user_id": "trader",
            "strategy_id": strategy_id,
            "entry_date": DAY,
            "broker_account_id": f"paper-{broker.lower()}",
            "broker": broker,
            "leg_no": 1,
            "instrument": {
                "underlying": underlying,
                "expiry": expiry,
                "strike": strike,
                "option_type": OptionType(option_type),
            },
            "product": Product.NRML,
            "net_quantity": 0,
            "buy_quantity": 0,
            "buy_value": Decimal(0),
            "sell_quantity": 0,
            "sell_value": Decimal(0),
            "realised_pnl": Decimal(realised),
            "position_sk": f"POSITION#{strategy_id}#1",
        }
    )


def _session_day(report_dir: Path) -> dict[str, Any]:
    samples = [f"{9 + m // 60:02d}:{m % 60:02d}" for m in range(20, 6 * 60 + 16, 5)]  # 09:20 .. 15:15
    log = SessionLog(users={"trader"})
    log.events = Counter(
        {
            ("ScheduleStrategyTrigger", "MARKET_OPEN"): len(samples) * 5,
            ("MarketPhaseChanged", "PRE_OPEN"): 1,
            ("MarketPhaseChanged", "MARKET_OPEN"): 1,
        }
    )
    for index, (strategy_id, *_rest) in enumerate(STRATEGIES):
        log.pnl[strategy_id] = [(label, (-1) ** index * 40.0 * i) for i, label in enumerate(samples)]
    log.index["NIFTY"] = [(label, 26000.0 + 3.5 * i) for i, label in enumerate(samples)]
    log.index["BANKNIFTY"] = [(label, 52000.0 - 2.0 * i) for i, label in enumerate(samples)]
    records = [
        *(_record(s, ScheduleKind.ENTRY, "09:20") for s in STRATEGIES),
        *(_record(s, ScheduleKind.EXIT, "15:15") for s in STRATEGIES),
    ]
    ticks = [
        EmitResult.model_validate(
            {
                "next_tick": _at("09:16") + timedelta(minutes=i),
                "continue": i < SESSION_MINUTES,
                "restart": False,
                "iteration": i,
                "generation": 0,
                "max_iterations": 2000,
                "history_events": 9 * i,
                "trade_date": DAY,
                "handled_tick": _at("09:15") + timedelta(minutes=i),
                "phase": "MARKET_OPEN",
                "emitted": ["ScheduleStrategyTrigger"],
                "note": "",
            }
        )
        for i in range(SESSION_MINUTES + 1)
    ]
    write_report(
        report_dir,
        day=DAY,
        first_tick=OPEN,
        close=_at("15:30"),
        wall_seconds=1.5,
        results=ticks,
        log=log,
        records=records,
        positions={"trader": [_position(STRATEGIES[0], "2410.50"), _position(STRATEGIES[1], "-870.00")]},
        strategies={
            "trader": [{"strategy_id": s[0], "name": s[1], "basket_id": "basket-weekly"} for s in STRATEGIES]
        },
    )
    return dict(json.loads((report_dir / "summary.json").read_text()))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    report_dir = tmp_path_factory.mktemp("report")
    return report_dir / "report.html", _session_day(report_dir)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    opened = browser.new_page()
    yield opened
    opened.close()


def test_the_report_page_renders_its_charts_and_figures_with_no_errors(
    page: Page, report: tuple[Path, dict[str, Any]]
) -> None:
    html_file, summary = report
    watch = PageWatch.attach(page)
    page.goto(html_file.as_uri(), wait_until="networkidle")

    assert page.title() == f"Simulated session {DAY.isoformat()}"
    headline = page.locator("h1 + p").inner_text()
    fills = summary["fills"]
    assert f"{summary['ticks']} ticks" in headline
    assert f"{fills['orders']} orders ({fills['filled']} filled)" in headline
    assert f"{len(summary['handler_errors'])} handler errors" in headline
    assert fills["orders"] == 2 * (4 * 2 + 2 * 1)  # entry and exit: 4 legs on 2 brokers, 2 legs on 1

    pnl_chart = page.locator('svg.chart[aria-label="P&L through the day (INR)"]')
    expect(pnl_chart).to_have_count(1)
    lines = pnl_chart.locator("polyline.series")
    expect(lines).to_have_count(len(summary["pnl_through_the_day"]))
    for index, (name, samples) in enumerate(summary["pnl_through_the_day"].items()):
        line = lines.nth(index)
        assert len((line.get_attribute("points") or "").split()) == len(samples)
        box = line.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 10, (name, box)
        expect(pnl_chart.locator("text", has_text=name)).to_be_visible()

    entered = {e["strategy"] for e in summary["executions"] if e["action"] == "ENTRY"}
    assert entered == {s[1] for s in STRATEGIES}
    for name in entered:
        payoff = page.locator(f'svg.chart[aria-label="Payoff at entry: {name}"]')
        expect(payoff).to_be_visible()
        curve = payoff.locator("polyline.series")
        expect(curve).to_have_count(1)
        assert len((curve.get_attribute("points") or "").split()) > 100
        box = curve.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 10, (name, box)
    index_chart = page.locator('svg.chart[aria-label="Index moves through the day (%)"]')
    expect(index_chart.locator("polyline.series")).to_have_count(len(summary["index_through_the_day"]))
    for underlying, line in summary["index_through_the_day"].items():
        expect(index_chart.get_by_text(f"{underlying} ({line[0][1]:,.0f} at {line[0][0]})")).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(2 + len(entered))
    # Each strategy keeps one colour on the P&L line and its payoff curve.
    for name in entered:
        pnl_colour = pnl_chart.locator("text", has_text=name).get_attribute("fill")
        payoff = page.locator(f'svg.chart[aria-label="Payoff at entry: {name}"] polyline.series')
        assert payoff.get_attribute("stroke") == pnl_colour
    accounts = page.locator("#pnl-per-account tr")
    expect(accounts).to_have_count(1 + len(summary["pnl"]["per_account"]) + 1)  # header, accounts, portfolio
    expect(page.locator("#legs tr")).to_have_count(1 + len(summary["legs"]))
    assert len(summary["legs"]) == fills["orders"]

    pnl_rows = page.locator("#pnl-per-strategy tr")
    expect(pnl_rows).to_have_count(1 + len(summary["pnl"]["per_strategy"]))
    expect(page.locator("#executions tr")).to_have_count(1 + len(summary["executions"]))
    expect(page.locator("#timer-events tr")).to_have_count(1 + len(summary["events"]["by_type"]))
    for row in summary["pnl"]["per_strategy"].values():
        expect(pnl_rows.filter(has_text=row["name"])).to_contain_text(f"{row['total']:,.2f}")

    assert watch.problems == []


@pytest.fixture(scope="module")
def backtest_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A real backtest (the demo strategies, five days of the simulated market) and its page."""
    from local_platform.backtest import demo_details
    from shared_utils.backtest.report import render_html
    from shared_utils.backtest.runner import BacktestRequest
    from shared_utils.backtest.service import run_backtest

    details = demo_details(datetime(2026, 11, 1, tzinfo=UTC))
    result = run_backtest(details, BacktestRequest(start=date(2026, 11, 2), end=date(2026, 11, 6)))
    html_file = tmp_path_factory.mktemp("backtest") / "report.html"
    html_file.write_text(render_html(result), encoding="utf-8")
    return html_file, result


def test_the_backtest_report_renders_every_chart_and_table_with_no_errors(
    page: Page, backtest_report: tuple[Path, Any]
) -> None:
    html_file, result = backtest_report
    watch = PageWatch.attach(page)
    page.goto(html_file.as_uri(), wait_until="networkidle")

    for chart in ("equity-curve", "daily-pnl", "pnl-by-month-chart"):
        svg = page.locator(f"svg#{chart}")
        expect(svg).to_be_visible()
        box = svg.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100, (chart, box)
    curve = page.locator("svg#equity-curve polyline")
    assert len((curve.first.get_attribute("points") or "").split()) == len(result.days) + 1  # from 0
    for table in ("summary", "pnl-by-weekday", "pnl-by-month", "pnl-by-strategy", "worst-days"):
        expect(page.locator(f"table#{table}")).to_be_visible()
    for name in result.strategies.values():
        expect(page.locator("#pnl-by-strategy")).to_contain_text(name)
    expect(page.locator("#summary")).to_contain_text(f"{result.summary.net_pnl:,.2f}")
    assert watch.problems == []


def test_swagger_ui_renders_every_operation_from_local_assets(page: Page, platform: Platform) -> None:
    document = platform.request("GET", "/openapi.json").json()
    operations = sum(1 for item in document["paths"].values() for method in item if method in HTTP_METHODS)
    assert operations > 10
    watch = PageWatch.attach(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(platform.base_url + "/docs", wait_until="load")

    expect(page).to_have_title(TITLE)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(TITLE)
    expect(page.locator(".opblock")).to_have_count(operations, timeout=15_000)
    expect(page.locator(".swagger-ui .errors-wrapper")).to_have_count(0)
    page.wait_for_load_state("networkidle")  # late requests (the favicon) report their errors too
    assert requested and all(url.startswith(platform.base_url + "/") for url in requested), requested
    assert watch.problems == []


def test_the_page_watch_reports_console_errors_exceptions_and_refused_requests(
    page: Page, platform: Platform, tmp_path: Path
) -> None:
    """The checks above are not vacuous: a page that misbehaves is caught on every count."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!doctype html><html><head><title>broken</title>"
        '<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist/swagger-ui.css">'
        '</head><body><p>broken</p><img src="http://192.0.2.1/pixel.png" alt="">'
        '<script>console.error("deliberate console error")</script>'
        '<script>throw new Error("deliberate exception")</script>'
        "</body></html>"
    )
    watch = PageWatch.attach(page)
    page.goto(broken.as_uri(), wait_until="load")
    page.goto(platform.base_url + "/options/baskets", wait_until="load")  # no token: 401

    assert any("deliberate console error" in e for e in watch.console_errors), watch
    assert any("deliberate exception" in e for e in watch.page_errors), watch
    # asked for, and failed in the browser: nothing leaves the machine
    for outside in ("https://cdn.jsdelivr.net/", "http://192.0.2.1/"):
        assert [r for r in watch.outside_requests if outside in r], watch
        assert [f for f in watch.failed_requests if outside in f], watch
    assert watch.http_errors == [f"401 GET {platform.base_url}/options/baskets"], watch
    assert len(watch.problems) >= 4
