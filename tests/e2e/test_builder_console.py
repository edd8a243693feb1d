"""The strategy editor's builder rules in a real browser (headless Chromium, no network) against
the local platform: a straddle-width strike, a leg's re-entry, a wait-and-trade leg and move to
cost set through the editor are stored as the API defines them (shared_utils/models/strategy.py),
shown again when the strategy is reopened, and removed when switched off; a rule the platform
refuses is marked beside its own input.

One platform replaying a session at real speed from 09:30 IST (the minute's quotes are there at
once, so the draft is priced), one browser, one signed-in page for both tests."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import PageWatch, signed_in_console
from tests.e2e.conftest import Platform, start_platform, stop_platform

DAY = "2026-11-23"  # a Monday with a regular session
START = "09:30"
QUOTES_TIMEOUT = 30.0
# The editor prices every draft as it is typed: a draft caught half-typed (a rule switched on
# before its values are in) is refused by the preview with a 422, marked in the form as the trader
# would see it. Those refusals (and the browser's console line for each) are expected.
PREVIEW = r"/options/strategy-preview"
STRATEGIES = r"/options/baskets/[^/]+/strategies"
REFUSED_RESOURCE = "Failed to load resource: the server responded with a status of 422"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = start_platform(
        tmp_path_factory.mktemp("builder-console"), "--date", DAY, "--at", START, "--speed", "1"
    )
    yield running
    stop_platform(running)


@pytest.fixture(scope="module")
def basket_id(session: Platform, token: str) -> str:
    reply = session.request("POST", "/options/baskets", token=token, body={"name": "Builder rules"})
    assert reply.status == 201, reply.body
    return str(reply.json()["basket_id"])


def wait_for_quotes(session: Platform, token: str) -> None:
    """The editor prices its draft at once: wait until the platform has the minute's quotes."""
    draft = {
        "name": "probe",
        "underlying": "NIFTY",
        "legs": [
            {
                "action": "SELL",
                "option_type": "CE",
                "strike": {"method": "ATM_OFFSET", "steps": 0},
                "expiry": "CURRENT_WEEKLY",
            }
        ],
        "entry": {"time": "09:20", "weekdays": ["MON"]},
    }
    deadline = time.monotonic() + QUOTES_TIMEOUT
    while True:
        reply = session.request("POST", "/options/strategy-preview", token=token, body=draft)
        if reply.status == 200:
            return
        assert time.monotonic() < deadline, f"no preview in {QUOTES_TIMEOUT}s: {reply.status} {reply.body!r}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def signed_in(
    session: Platform, token: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Page, PageWatch]]:
    wait_for_quotes(session, token)
    profile = tmp_path_factory.mktemp("chromium-profile")
    with signed_in_console(session.base_url, token, "alice", profile) as signed:
        yield signed


@pytest.fixture
def console(signed_in: tuple[Page, PageWatch]) -> tuple[Page, PageWatch]:
    """The signed-in page, its watch emptied of what earlier tests saw."""
    page, watch = signed_in
    watch.clear()
    return page, watch


def open_new_strategy(page: Page, basket_id: str) -> None:
    page.evaluate("hash => { location.hash = hash; }", f"#/baskets/{basket_id}/new")
    expect(page.get_by_test_id("leg")).to_have_count(1)
    expect(page.get_by_test_id("save-strategy")).to_have_text("Create strategy")


def problems_besides_refusals(watch: PageWatch, *routes: str) -> list[str]:
    """What the page saw go wrong, less the 422 answers of `routes` (path patterns)."""
    refused = re.compile(rf"^(422 POST )?http://127\.0\.0\.1:\d+(?:{'|'.join(routes)})\)?$")

    def expected(problem: str) -> bool:
        if problem.startswith(REFUSED_RESOURCE):
            return bool(refused.match(problem.rsplit("(", 1)[-1]))
        return bool(refused.match(problem))

    return [problem for problem in watch.problems if not expected(problem)]


def stored(session: Platform, token: str, strategy_id: str) -> dict[str, Any]:
    reply = session.request("GET", f"/options/strategies/{strategy_id}", token=token)
    assert reply.status == 200, reply.body
    return dict(reply.json()["strategy"])


def test_builder_rules_set_in_the_editor_are_stored_shown_again_and_removed(
    session: Platform, token: str, basket_id: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    open_new_strategy(page, basket_id)
    page.get_by_test_id("strategy-name").fill("Straddle-width strangle")
    page.get_by_test_id("exit-time").fill("15:15")

    # Leg 1: a call sold half a straddle above ATM, with a stop-loss and a re-execute after it.
    page.get_by_test_id("leg-0-strike-method").select_option("STRADDLE_WIDTH")
    expect(page.get_by_test_id("leg-0-strike-steps")).to_be_hidden()
    page.get_by_label("Straddle multiple").fill("0.5")
    page.get_by_test_id("leg-0-sl-kind").select_option("PERCENT")
    page.get_by_test_id("leg-0-sl-value").fill("30")
    until = page.get_by_test_id("leg-0-re-entry-until")
    expect(until).to_be_hidden()  # off by default
    page.get_by_role("checkbox", name=re.compile(r"^Re-enter after this leg.s stop-loss$")).check()
    page.get_by_test_id("leg-0-re-entry-mode").select_option("RE_EXECUTE")
    page.get_by_test_id("leg-0-re-entry-when").select_option("PREMIUM_RETURNS")
    page.get_by_test_id("leg-0-re-entry-max").fill("2")
    until.fill("14:30")

    # Leg 2 (a copy of leg 1): a put bought once its premium has fallen 10%, no stop, no re-entry.
    page.get_by_test_id("add-leg").click()
    expect(page.get_by_test_id("leg")).to_have_count(2)
    expect(page.get_by_test_id("leg-1-re-entry")).to_be_checked()  # the copy keeps leg 1's rules
    page.get_by_test_id("leg-1-re-entry").uncheck()
    page.get_by_test_id("leg-1-sl-kind").select_option("")
    page.get_by_test_id("leg-1-action").select_option("BUY")
    page.get_by_test_id("leg-1-type").select_option("PE")
    page.get_by_test_id("leg-1-strike-method").select_option("PREMIUM_AT_MOST")
    page.get_by_test_id("leg-1-strike-target_premium").fill("40")
    wait_value = page.get_by_test_id("leg-1-wait-value")
    expect(wait_value).to_be_hidden()
    page.get_by_test_id("leg-1-wait").select_option("DOWN")
    wait_value.fill("10")
    page.get_by_test_id("leg-1-wait-timeout").fill("45")

    # The strategy: stops move to cost after a leg's stop-loss or at ₹1,500 profit.
    page.get_by_test_id("move-to-cost").check()
    expect(page.get_by_test_id("move-to-cost-after-leg-stop")).to_be_checked()
    page.get_by_label("Once MTM profit reaches (₹)").fill("1500")
    expect(page.get_by_test_id("re-entry-until")).to_be_hidden()

    # The draft is priced with the new strike modes: both legs resolved on the chain.
    priced = page.get_by_test_id("preview-legs").locator("tbody tr")
    expect(priced).to_have_count(2)
    expect(priced.nth(1)).to_contain_text(" PE ")
    expect(page.get_by_test_id("preview-status")).to_have_attribute("data-state", "ready")

    page.get_by_test_id("save-strategy").click()
    expect(page.get_by_test_id("save-strategy")).to_have_text("Save changes")  # the editor reopens it
    strategy_id = page.url.rsplit("/", 1)[-1]

    strategy = stored(session, token, strategy_id)
    call, put = strategy["legs"]
    assert call["strike"]["method"] == "STRADDLE_WIDTH"
    assert Decimal(call["strike"]["straddle_multiple"]) == Decimal("0.5")
    assert call["re_entry"] == {
        "mode": "RE_EXECUTE",
        "when": "PREMIUM_RETURNS",
        "max_per_day": 2,
        "until": "14:30",
        "after": ["STOP_LOSS"],
    }
    assert call["wait_and_trade"] is None
    assert (put["action"], put["option_type"], put["stop_loss"], put["re_entry"]) == ("BUY", "PE", None, None)
    assert put["strike"]["method"] == "PREMIUM_AT_MOST"
    assert Decimal(put["strike"]["target_premium"]) == 40
    wait = put["wait_and_trade"]
    assert (wait["direction"], wait["kind"], Decimal(wait["value"]), wait["timeout_minutes"]) == (
        "DOWN",
        "PERCENT",
        10,
        45,
    )
    assert strategy["move_to_cost"] == {"after_leg_stop": True, "at_profit": 1500.0}
    assert strategy["re_entry"] is None

    # Reopened, the editor shows every stored rule.
    expect(page.get_by_test_id("leg-0-strike-method")).to_have_value("STRADDLE_WIDTH")
    expect(page.get_by_test_id("leg-0-strike-straddle_multiple")).to_have_value("0.5")
    expect(page.get_by_test_id("leg-0-re-entry")).to_be_checked()
    expect(page.get_by_test_id("leg-0-re-entry-until")).to_have_value("14:30")
    expect(page.get_by_test_id("leg-0-re-entry-mode")).to_have_value("RE_EXECUTE")
    expect(page.get_by_test_id("leg-1-re-entry")).not_to_be_checked()
    expect(page.get_by_test_id("leg-1-wait")).to_have_value("DOWN")
    expect(page.get_by_test_id("leg-1-wait-timeout")).to_have_value("45")
    expect(page.get_by_test_id("move-to-cost")).to_be_checked()
    expect(page.get_by_test_id("move-to-cost-at-profit")).to_have_value("1500")

    # Switched off and saved: the rules are gone from the stored strategy.
    page.get_by_test_id("move-to-cost").uncheck()
    expect(page.get_by_test_id("move-to-cost-at-profit")).to_be_hidden()
    page.get_by_test_id("leg-1-wait").select_option("")
    page.get_by_test_id("save-strategy").click()
    expect(page.get_by_test_id("save-status")).to_have_text("Saved.")
    strategy = stored(session, token, strategy_id)
    assert strategy["move_to_cost"] is None
    assert strategy["legs"][1]["wait_and_trade"] is None
    assert strategy["legs"][0]["re_entry"]["until"] == "14:30"
    assert strategy["version"] == 2

    assert problems_besides_refusals(watch, PREVIEW) == []


def test_a_re_entry_cut_off_before_the_entry_is_marked_beside_its_input(
    session: Platform, token: str, basket_id: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    open_new_strategy(page, basket_id)
    page.get_by_test_id("strategy-name").fill("Too-early re-entry")
    page.get_by_test_id("exit-time").fill("15:15")
    page.get_by_test_id("leg-0-sl-kind").select_option("POINTS")
    page.get_by_test_id("leg-0-sl-value").fill("20")
    page.get_by_test_id("leg-0-re-entry").check()
    until = page.get_by_test_id("leg-0-re-entry-until")
    until.fill("09:00")  # the entry is at 09:20
    page.get_by_test_id("save-strategy").click()

    expect(page.get_by_test_id("save-status")).to_have_text("Not saved: see the marked fields.")
    error = page.get_by_test_id("error-legs.0.re_entry.until")
    expect(error).to_have_count(1)
    expect(error).to_have_text("must be after the entry at 09:20 and by the exit at 15:15")
    # Beside its own input: in the same labelled field, which names it as the input's description.
    field = page.locator('[data-field="legs.0.re_entry.until"]')
    expect(field.get_by_test_id("leg-0-re-entry-until")).to_have_count(1)
    expect(field.get_by_test_id("error-legs.0.re_entry.until")).to_have_count(1)
    expect(until).to_have_attribute("aria-invalid", "true")
    expect(until).to_have_attribute("aria-describedby", error.get_attribute("id") or "?")
    expect(page.get_by_test_id("form-error")).to_contain_text("the strategy could never run as it stands")
    expect(page.get_by_test_id("save-strategy")).to_have_text("Create strategy")  # nothing stored

    assert any(re.search(f"^422 POST .*{STRATEGIES}$", p) for p in watch.http_errors), watch.http_errors
    assert problems_besides_refusals(watch, PREVIEW, STRATEGIES) == []
    basket = session.request("GET", f"/options/baskets/{basket_id}", token=token).json()
    assert "Too-early re-entry" not in {s["name"] for s in basket["strategies"]}
