"""The trader's console (console/src, served by the local platform at /) in a real browser, on a
session replayed at 60x: sign in with the token command's token, create a basket and an iron
condor from its template (the payoff drawn as it is edited), allocate lots on two broker
accounts, watch the entry fill the positions table and the P&L move with no reload, press the
kill switch and see every position go flat. No console error, no failed request, nothing
requested off the machine; a screenshot of every page (tmp_path and .build/screenshots/).

One platform, one browser, one journey: the accelerated clock starts in the pre-open (09:10 IST);
once the strategy is allocated its entry is moved to a few platform minutes ahead, so it comes
within seconds of wall time."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import PageWatch, chromium
from tests.e2e.conftest import REPO, Platform, start_platform, stop_platform

IST = ZoneInfo("Asia/Kolkata")
DAY = "2026-11-23"  # a Monday with a regular session
SPEED = 60  # a platform minute per wall second
LOTS = {"ZERODHA": 2, "ANGEL_ONE": 1}
LEGS = 4  # an iron condor
# Quotes are refreshed from the open (09:15): the draft's preview needs them.
QUOTES_FROM = "09:17"
# The replay starts late in the pre-open: the journey's first steps need no market, and every
# platform minute before the open is a wall second of waiting.
START = "09:10"
# The strategy is saved with a late entry, allocated, then moved to enter this many platform
# minutes after its second save (a save takes well under a platform minute).
LATER = "15:00"
ENTRY_MARGIN_MINUTES = 3
LIVE_TIMEOUT_MS = 20_000
NO_VALUE = "\u2013"  # the console's en dash where a figure is not known (a price before its first mark)
# True when the preview's maximum loss (₹1,23,456.50) is above `limit` rupees.
MAX_LOSS_ABOVE = (
    "limit => Number(document.querySelector('[data-testid=max-loss]')"
    "?.textContent.replace(/[^0-9.]/g, '')) > limit"
)
SCREENSHOTS = REPO / ".build" / "screenshots"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = start_platform(
        tmp_path_factory.mktemp("console"), "--date", DAY, "--at", START, "--speed", str(SPEED)
    )
    yield running
    stop_platform(running)


def platform_now(platform: Platform) -> datetime:
    """The accelerated clock: it reads `started_at` when the state file is written."""
    state_file = platform.data_dir / "state.json"
    started = datetime.fromisoformat(json.loads(state_file.read_text())["started_at"])
    return started + timedelta(seconds=(time.time() - state_file.stat().st_mtime) * SPEED)


def wait_for_platform_time(page: Page, platform: Platform, hhmm: str) -> None:
    hours, minutes = map(int, hhmm.split(":"))
    target = datetime.fromisoformat(DAY).replace(hour=hours, minute=minutes, tzinfo=IST)
    while platform_now(platform) < target:
        page.wait_for_timeout(200)


def rupees(text: str) -> float:
    """₹1,23,456.50 -> 123456.5"""
    return float(re.sub(r"[^0-9.\-]", "", text))


def screenshot(page: Page, directory: Path, name: str) -> None:
    page.wait_for_timeout(100)  # let the last render settle before the picture
    page.screenshot(path=directory / f"{name}.png", full_page=True)


def open_page(page: Page, name: str) -> None:
    page.get_by_test_id(f"nav-{name}").click()
    expect(page.locator(f'nav a[data-route="{name}"]')).to_have_attribute("aria-current", "page")


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    """Where the journey's screenshots go; copied to .build/screenshots/ afterwards, pass or fail."""
    directory = tmp_path / "screenshots"
    directory.mkdir()
    yield directory
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for picture in directory.glob("*.png"):
        shutil.copy2(picture, SCREENSHOTS / picture.name)


def test_a_trader_builds_a_condor_watches_it_trade_live_and_stops_everything(
    session: Platform, shots: Path, tmp_path: Path
) -> None:
    token = session.token("alice")
    accounts = session.request("GET", "/options/broker-accounts", token=token).json()["items"]
    account_of = {a["broker"]: a["broker_account_id"] for a in accounts}

    with chromium(tmp_path / "profile") as browser:
        page = browser.new_page()
        page.set_viewport_size({"width": 1360, "height": 900})
        watch = PageWatch.attach(page)
        loads: list[str] = []
        page.on("load", lambda loaded: loads.append(loaded.url))

        # Sign in with the token command's token.
        page.goto(session.base_url + "/", wait_until="load")
        expect(page.get_by_test_id("signin-form")).to_be_visible()
        screenshot(page, shots, "signin")
        page.get_by_test_id("signin-token").fill(token)
        page.get_by_test_id("signin-submit").click()
        expect(page.get_by_test_id("user-name")).to_have_text("alice")
        expect(page.get_by_test_id("feed-status")).to_have_attribute("data-state", "live")
        expect(page.get_by_test_id("strategies-today")).to_contain_text("No strategies yet")

        # The broker accounts and the marketplace, while the market is in its pre-open.
        open_page(page, "accounts")
        expect(page.get_by_test_id("account-row")).to_have_count(len(accounts))
        for account_id in account_of.values():
            row = page.locator(f'[data-testid="account-row"][data-account-id="{account_id}"]')
            expect(row.get_by_test_id("account-state")).to_have_text("Active")
        screenshot(page, shots, "accounts")
        open_page(page, "marketplace")
        expect(page.get_by_test_id("listings")).to_contain_text("Nothing is published yet")
        screenshot(page, shots, "marketplace")

        # A basket, then an iron condor from its template.
        open_page(page, "baskets")
        page.get_by_test_id("basket-name").fill("Weekly income")
        page.get_by_test_id("create-basket").click()
        expect(page.locator("main h1")).to_have_text("Weekly income")
        basket_id = page.url.rsplit("/", 1)[-1]
        page.get_by_test_id("template-select").select_option("IRON_CONDOR")
        expect(page.get_by_test_id("template-description")).not_to_be_empty()
        wait_for_platform_time(page, session, QUOTES_FROM)
        page.get_by_test_id("use-template").click()
        expect(page.get_by_test_id("leg")).to_have_count(LEGS)
        expect(page.get_by_test_id("preview-status")).to_have_attribute("data-state", "ready")
        expect(page.get_by_test_id("payoff-chart").locator("polyline.payoff-line")).to_have_count(1)
        expect(page.get_by_test_id("max-loss")).to_contain_text("₹")
        expect(page.get_by_test_id("greek-theta")).to_contain_text("₹")

        # Editing redraws the payoff: twice the lots on every leg, about twice the maximum loss.
        single = rupees(page.get_by_test_id("max-loss").inner_text())
        for leg in range(LEGS):
            page.get_by_test_id(f"leg-{leg}-lots").fill("2")
        page.wait_for_function(MAX_LOSS_ABOVE, arg=1.8 * single)
        for leg in range(LEGS):
            page.get_by_test_id(f"leg-{leg}-lots").fill("1")
        page.wait_for_function(f"limit => !({MAX_LOSS_ABOVE})(limit)", arg=1.2 * single)

        page.get_by_test_id("strategy-name").fill("NIFTY condor")
        page.get_by_test_id("entry-time").fill(LATER)
        page.get_by_test_id("exit-time").fill("15:15")
        screenshot(page, shots, "baskets")
        page.get_by_test_id("save-strategy").click()
        expect(page.locator("main h1")).to_have_text("NIFTY condor")
        strategy_id = page.url.rsplit("/", 1)[-1]

        # Lots on two broker accounts.
        page.get_by_test_id("allocate-link").click()
        expect(page).to_have_url(re.compile(f"#/allocations/{basket_id}$"))
        section = page.locator(f'[data-testid="alloc-section"][data-scope-id="{strategy_id}"]')
        for broker, lots in LOTS.items():
            row = section.locator(f'[data-testid="alloc-row"][data-account-id="{account_of[broker]}"]')
            row.get_by_test_id("alloc-lots").fill(str(lots))
            row.get_by_test_id("alloc-save").click()
            expect(row.get_by_test_id("alloc-status")).to_have_text(re.compile(rf"^Saved: {lots} lots?$"))
        screenshot(page, shots, "allocations")

        # Back to the strategy: it enters a few platform minutes from now (again, later, if the
        # machine was so slow that the save came after that minute).
        page.go_back()
        expect(page.get_by_test_id("save-strategy")).to_have_text("Save changes")
        for margin in (ENTRY_MARGIN_MINUTES, 2 * ENTRY_MARGIN_MINUTES, 4 * ENTRY_MARGIN_MINUTES):
            entry = (platform_now(session) + timedelta(minutes=margin)).astimezone(IST)
            page.get_by_test_id("entry-time").fill(f"{entry:%H:%M}")
            expect(page.get_by_test_id("save-status")).to_have_text("Unsaved changes.")
            page.get_by_test_id("save-strategy").click()
            expect(page.get_by_test_id("save-status")).to_have_text("Saved.")
            if platform_now(session) < entry.replace(second=0):
                break
        else:
            pytest.fail("every save of the entry time came after its minute: the platform is too slow")

        # The entry fills the positions table, live.
        open_page(page, "positions")
        rows = page.get_by_test_id("position-row")
        expect(rows).to_have_count(LEGS * len(LOTS), timeout=LIVE_TIMEOUT_MS)
        expect(page.locator('[data-testid="position-row"][data-net="0"]')).to_have_count(0)
        expect(page.get_by_test_id("order-row")).to_have_count(LEGS * len(LOTS))
        for row in page.get_by_test_id("order-row").all():
            expect(row.get_by_test_id("order-status")).to_have_text("Filled")
        expect(page.get_by_test_id("position-ltp").first).not_to_have_text(NO_VALUE, timeout=LIVE_TIMEOUT_MS)
        screenshot(page, shots, "positions")

        # Today: the strategy entered, its P&L moving with the market's minutes.
        open_page(page, "today")
        row = page.locator(f'[data-testid="strategy-row"][data-strategy-id="{strategy_id}"]')
        expect(row.get_by_test_id("strategy-state")).to_have_text("Entered")
        expect(page.get_by_test_id("open-positions-count")).to_have_text(str(LEGS * len(LOTS)))
        pnl = page.get_by_test_id("pnl-unrealised")
        first = pnl.inner_text()
        expect(pnl).not_to_have_text(first, timeout=LIVE_TIMEOUT_MS)
        expect(pnl).to_contain_text("₹")
        screenshot(page, shots, "today")

        # The kill switch, confirmed: every position goes flat.
        page.get_by_test_id("kill-switch-press").click()
        expect(page.get_by_test_id("kill-switch-dialog")).to_be_visible()
        page.get_by_test_id("kill-switch-confirm").click()
        expect(page.get_by_test_id("kill-switch-state")).to_have_attribute("data-state", "TRIGGERED")
        expect(page.get_by_test_id("open-positions-count")).to_have_text("0", timeout=LIVE_TIMEOUT_MS)
        expect(page.get_by_test_id("kill-switch-rearm")).to_be_visible()
        expect(row.get_by_test_id("strategy-state")).to_have_text("Exited")
        expect(row.get_by_test_id("strategy-reason")).to_have_text("Kill switch")
        screenshot(page, shots, "today-stopped")
        open_page(page, "positions")
        expect(rows).to_have_count(LEGS * len(LOTS))
        expect(page.locator('[data-testid="position-row"][data-net="0"]')).to_have_count(LEGS * len(LOTS))
        for net in page.get_by_test_id("position-net").all():
            expect(net).to_have_text("0")
        screenshot(page, shots, "positions-flat")

        assert loads == [session.base_url + "/"], f"the page was reloaded: {loads}"
        assert watch.problems == []
