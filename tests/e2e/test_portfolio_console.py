"""Portfolio exits in the console (docs/portfolio-exits.md) in a real browser (headless Chromium,
no network) against the local platform: a basket's rules set in the basket form and the user's
own on the Risk page are stored as the API defines them (RiskRules, shared_utils/models/strategy.py)
and shown again; a stale save reloads the stored rules and says so; a rule the platform refuses
is marked beside its own input with nothing stored; and the Risk page's "Today" lists each
scope's trailing peak and exit as they happen.

One platform replaying a session at 60x from 09:30 IST (a platform minute a wall second, so a
strategy enters and its basket exits within seconds), one browser, one signed-in page for every
test."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import PageWatch
from tests.e2e.conftest import Platform, start_platform, stop_platform

IST = ZoneInfo("Asia/Kolkata")
DAY = "2026-11-23"  # a Monday with a regular session
START = "09:30"
SPEED = 60
LIVE_TIMEOUT_MS = 20_000
REFUSED_RESOURCE = "Failed to load resource: the server responded with a status of "
RISK_SETTINGS = r"/options/risk-settings"
BASKETS = r"/options/baskets"
NO_RULES = {"mtm_stop_loss": None, "mtm_target": None, "trailing_stop_loss": None}
RUPEES = r"[+\-\u2212]?₹[\d,]+\.\d\d"
EXIT_WORDS = {"PORTFOLIO_STOP_LOSS": "stop-loss", "PORTFOLIO_TARGET": "target"}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = start_platform(
        tmp_path_factory.mktemp("portfolio-console"), "--date", DAY, "--at", START, "--speed", str(SPEED)
    )
    yield running
    stop_platform(running)


@pytest.fixture
def console(signed_in: tuple[Page, PageWatch]) -> tuple[Page, PageWatch]:
    """The signed-in page, its watch emptied of what earlier tests saw."""
    page, watch = signed_in
    watch.clear()
    return page, watch


def open_page(page: Page, hash_: str) -> None:
    page.evaluate("hash => { location.hash = hash; }", hash_)


def problems_besides_refusals(watch: PageWatch, status: int, *routes: str) -> list[str]:
    """What the page saw go wrong, less the `status` answers of `routes` (path patterns)."""
    refused = re.compile(rf"^({status} (POST|PUT) )?http://127\.0\.0\.1:\d+(?:{'|'.join(routes)})\)?$")

    def expected(problem: str) -> bool:
        if problem.startswith(f"{REFUSED_RESOURCE}{status}"):
            return bool(refused.match(problem.rsplit("(", 1)[-1]))
        return bool(refused.match(problem))

    return [problem for problem in watch.problems if not expected(problem)]


def call(session: Platform, token: str, method: str, path: str, body: Any = None) -> Any:
    reply = session.request(method, path, token=token, body=body)
    assert reply.status < 300, f"{method} {path}: {reply.status} {reply.body!r}"
    return reply.json() if reply.body else None


def platform_now(platform: Platform) -> datetime:
    """The accelerated clock: it reads `started_at` when the state file is written."""
    state_file = platform.data_dir / "state.json"
    started = datetime.fromisoformat(json.loads(state_file.read_text())["started_at"])
    return started + timedelta(seconds=(time.time() - state_file.stat().st_mtime) * SPEED)


def test_basket_rules_set_in_the_basket_form_are_stored_and_shown_again(
    session: Platform, token: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    open_page(page, "#/baskets")
    form = page.get_by_test_id("basket-form")
    expect(form.get_by_role("group", name="Portfolio rules (₹, the whole basket)")).to_be_visible()
    page.get_by_test_id("basket-name").fill("Weekly hedge")
    form.get_by_label("MTM stop-loss (₹)").fill("4000")
    form.get_by_label("MTM target (₹)").fill("6000")
    trailing = form.get_by_role("group", name="Trailing stop")
    trailing.get_by_label("Activate at (₹ profit)").fill("2000")
    trailing.get_by_label("Trail by (₹)").fill("800")
    page.get_by_test_id("create-basket").click()
    expect(page.locator("main h1")).to_have_text("Weekly hedge")
    basket_id = page.url.rsplit("/", 1)[-1]

    basket = call(session, token, "GET", f"/options/baskets/{basket_id}")["basket"]
    assert basket["risk"] == {
        "mtm_stop_loss": 4000.0,
        "mtm_target": 6000.0,
        "trailing_stop_loss": {"activate_at": 2000.0, "trail_by": 800.0},
    }

    # The basket's settings show the stored rules; an emptied field removes its rule.
    expect(page.get_by_test_id("basket-risk-stop-loss")).to_have_value("4000")
    expect(page.get_by_test_id("basket-risk-target")).to_have_value("6000")
    expect(page.get_by_test_id("basket-risk-trail-activate")).to_have_value("2000")
    expect(page.get_by_test_id("basket-risk-trail-by")).to_have_value("800")
    page.get_by_test_id("basket-risk-stop-loss").fill("3500.50")
    page.get_by_test_id("basket-risk-target").fill("")
    page.get_by_test_id("save-basket").click()
    expect(page.get_by_test_id("basket-status")).to_have_text("Saved.")

    basket = call(session, token, "GET", f"/options/baskets/{basket_id}")["basket"]
    assert basket["risk"] == {
        "mtm_stop_loss": 3500.5,
        "mtm_target": None,
        "trailing_stop_loss": {"activate_at": 2000.0, "trail_by": 800.0},
    }
    assert basket["version"] == 2

    # The list of baskets sums them up.
    open_page(page, "#/baskets")
    row = page.get_by_test_id("basket-link").filter(has_text="Weekly hedge").locator("xpath=ancestor::tr")
    expect(row.get_by_test_id("basket-rules")).to_have_text(
        "Stop-loss ₹3,500.50, trailing by ₹800.00 from ₹2,000.00 profit"
    )
    assert watch.problems == []


def test_my_rules_set_on_the_risk_page_are_stored_and_a_stale_save_reloads_them(
    session: Platform, token: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    page.get_by_test_id("nav-risk").click()
    expect(page.locator("main h1")).to_have_text("Risk")
    expect(page.get_by_test_id("risk-saved")).to_have_text("No rules saved yet.")
    expect(page.get_by_test_id("risk-today")).to_have_text("No portfolio peak or exit today.")
    form = page.get_by_test_id("risk-form")
    expect(form.get_by_role("group", name="Portfolio rules (₹, all my strategies)")).to_be_visible()
    form.get_by_label("MTM stop-loss (₹)").fill("15000")
    form.get_by_label("MTM target (₹)").fill("25000")
    page.get_by_test_id("save-risk").click()
    expect(page.get_by_test_id("risk-status")).to_have_text("Saved.")

    settings = call(session, token, "GET", "/options/risk-settings")
    assert (settings["version"], settings["risk"]) == (
        1,
        {"mtm_stop_loss": 15000.0, "mtm_target": 25000.0, "trailing_stop_loss": None},
    )

    # Shown again when the page is opened again.
    page.get_by_test_id("nav-today").click()
    page.get_by_test_id("nav-risk").click()
    expect(page.get_by_test_id("user-risk-stop-loss")).to_have_value("15000")
    expect(page.get_by_test_id("user-risk-target")).to_have_value("25000")
    expect(page.get_by_test_id("risk-saved")).to_contain_text("Last saved")

    # Changed elsewhere meanwhile: the save is refused, the stored rules come back, and a second
    # save (with the version just read) goes through.
    call(session, token, "PUT", "/options/risk-settings", {"version": 1, "risk": {"mtm_stop_loss": 12000}})
    page.get_by_test_id("user-risk-target").fill("30000")
    page.get_by_test_id("save-risk").click()
    expect(page.get_by_test_id("risk-status")).to_contain_text("Changed elsewhere meanwhile")
    expect(page.get_by_test_id("user-risk-stop-loss")).to_have_value("12000")
    expect(page.get_by_test_id("user-risk-target")).to_have_value("")
    assert call(session, token, "GET", "/options/risk-settings")["version"] == 2
    page.get_by_test_id("user-risk-target").fill("30000")
    page.get_by_test_id("user-risk-trail-activate").fill("5000")
    page.get_by_test_id("user-risk-trail-by").fill("1500")
    page.get_by_test_id("save-risk").click()
    expect(page.get_by_test_id("risk-status")).to_have_text("Saved.")

    settings = call(session, token, "GET", "/options/risk-settings")
    assert (settings["version"], settings["risk"]) == (
        3,
        {
            "mtm_stop_loss": 12000.0,
            "mtm_target": 30000.0,
            "trailing_stop_loss": {"activate_at": 5000.0, "trail_by": 1500.0},
        },
    )
    assert any(re.search(f"^409 PUT .*{RISK_SETTINGS}$", p) for p in watch.http_errors), watch.http_errors
    assert problems_besides_refusals(watch, 409, RISK_SETTINGS) == []


def test_a_half_trailing_stop_and_a_negative_amount_are_marked_beside_their_inputs(
    session: Platform, token: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    before = call(session, token, "GET", "/options/risk-settings")

    # My rules: a trailing stop that activates but trails by nothing.
    open_page(page, "#/risk")
    trail_by = page.get_by_test_id("user-risk-trail-by")
    expect(trail_by).to_have_value(str(int(before["risk"]["trailing_stop_loss"]["trail_by"])))
    trail_by.fill("")
    page.get_by_test_id("save-risk").click()
    expect(page.get_by_test_id("risk-status")).to_have_text("Not saved: see the marked fields.")
    error = page.get_by_test_id("error-risk.trailing_stop_loss.trail_by")
    expect(error).to_have_text("Field required")
    field = page.locator('[data-field="risk.trailing_stop_loss.trail_by"]')
    expect(field.get_by_test_id("user-risk-trail-by")).to_have_count(1)
    expect(field.get_by_test_id("error-risk.trailing_stop_loss.trail_by")).to_have_count(1)
    expect(trail_by).to_have_attribute("aria-invalid", "true")
    expect(trail_by).to_have_attribute("aria-describedby", error.get_attribute("id") or "?")
    after = call(session, token, "GET", "/options/risk-settings")
    assert (after["version"], after["risk"]) == (before["version"], before["risk"])

    # A new basket with a negative stop-loss.
    open_page(page, "#/baskets")
    page.get_by_test_id("basket-name").fill("Upside down")
    stop_loss = page.get_by_test_id("basket-risk-stop-loss")
    stop_loss.fill("-500")
    page.get_by_test_id("create-basket").click()
    expect(page.get_by_test_id("basket-status")).to_have_text("Not created: see the marked fields.")
    error = page.get_by_test_id("error-risk.mtm_stop_loss")
    expect(error).to_have_text("Input should be greater than 0")
    field = page.locator('[data-field="risk.mtm_stop_loss"]')
    expect(field.get_by_test_id("basket-risk-stop-loss")).to_have_count(1)
    expect(field.get_by_test_id("error-risk.mtm_stop_loss")).to_have_count(1)
    expect(stop_loss).to_have_attribute("aria-invalid", "true")
    expect(page.locator("main h1")).to_have_text("Baskets")  # still the form: nothing created
    baskets = call(session, token, "GET", "/options/baskets")["items"]
    assert "Upside down" not in {basket["name"] for basket in baskets}

    assert any(re.search(f"^422 PUT .*{RISK_SETTINGS}$", p) for p in watch.http_errors), watch.http_errors
    assert any(re.search(f"^422 POST .*{BASKETS}$", p) for p in watch.http_errors), watch.http_errors
    assert problems_besides_refusals(watch, 422, RISK_SETTINGS, BASKETS) == []


def test_today_shows_my_trailing_peak_and_the_baskets_exit_as_they_happen(
    session: Platform, token: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    # My rules: a trailing stop far out of reach (its peak is kept every minute); the basket's: a
    # stop-loss and a target of a paisa, so the first minute with an MTM other than 0 exits it.
    version = call(session, token, "GET", "/options/risk-settings")["version"]
    far = {"trailing_stop_loss": {"activate_at": 1_000_000, "trail_by": 1000}}
    call(session, token, "PUT", "/options/risk-settings", {"version": version, "risk": far})
    tight = {"mtm_stop_loss": 0.01, "mtm_target": 0.01}
    basket = call(session, token, "POST", "/options/baskets", {"name": "Weekly income", "risk": tight})
    basket_id = basket["basket_id"]
    strategy = call(
        session,
        token,
        "POST",
        f"/options/baskets/{basket_id}/strategies",
        {
            "name": "Short call",
            "underlying": "NIFTY",
            "legs": [
                {
                    "action": "SELL",
                    "option_type": "CE",
                    "strike": {"method": "ATM_OFFSET", "steps": 0},
                    "expiry": "CURRENT_WEEKLY",
                }
            ],
            "entry": {"time": "15:00", "weekdays": ["MON"]},
            "exit": {"time": "15:15"},
        },
    )
    account = call(session, token, "GET", "/options/broker-accounts")["items"][0]
    call(
        session,
        token,
        "POST",
        f"/options/baskets/{basket_id}/brokers",
        {"broker_account_id": account["broker_account_id"], "lots": 1},
    )

    open_page(page, "#/risk")
    expect(page.get_by_test_id("user-risk-trail-activate")).to_have_value("1000000")

    # The entry, moved to a few platform minutes from now (again, later, on a slow machine).
    for margin in (3, 6, 12):
        entry = (platform_now(session) + timedelta(minutes=margin)).astimezone(IST)
        strategy = call(
            session,
            token,
            "PUT",
            f"/options/strategies/{strategy['strategy_id']}",
            {"version": strategy["version"], "entry": {"time": f"{entry:%H:%M}", "weekdays": ["MON"]}},
        )
        if platform_now(session) < entry.replace(second=0):
            break
    else:
        pytest.fail("every save of the entry time came after its minute: the platform is too slow")

    # Both lines come without a reload: the exit's feed message reads the day again.
    mine = page.locator('[data-testid="risk-today-line"][data-scope="user"]')
    basket_line = page.locator(f'[data-testid="risk-today-line"][data-scope="{basket_id}"]')
    exited = rf"^Basket Weekly income: exited at its (stop-loss|target) at \d\d:\d\d:00 IST, MTM {RUPEES}$"
    expect(basket_line).to_have_text(re.compile(exited), timeout=LIVE_TIMEOUT_MS)
    expect(mine).to_have_text(re.compile(rf"^All strategies: peak {RUPEES}$"))

    view = call(session, token, "GET", "/options/risk-settings")
    today = {state["basket_id"]: state for state in view["today"]}
    fired = today[basket_id]["exit"]
    at = datetime.fromisoformat(fired["at"]).astimezone(IST)
    expect(basket_line).to_contain_text(f"exited at its {EXIT_WORDS[fired['reason']]} at {at:%H:%M:%S} IST")
    assert today[None]["peak"] is not None and today[None]["exit"] is None
    assert watch.problems == []
