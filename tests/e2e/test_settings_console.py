"""The console's Settings page in a real browser (headless Chromium, no network) against the local
platform: notification preferences saved in the page are stored as the API defines them
(shared_utils/notifications/models.py) with the bot token never coming back, a stale save reloads
and says so, and a chat id the platform refuses is marked beside its input; a signal webhook
created in the page shows its URL once, a TradingView-shaped alert POSTed to that URL is listed
under the webhook's signals, a rotation shows a new URL and retires the old one, and EXIT_LEG
without a leg is marked beside the leg input (shared_utils/signals/models.py).

One platform replaying a session at real speed from 09:30 IST, one browser, one signed-in page
for every test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import PageWatch
from tests.e2e.conftest import Platform, start_platform, stop_platform

DAY = "2026-11-23"  # a Monday with a regular session
START = "09:30"
SETTINGS = r"/options/notification-settings"
WEBHOOKS = r"/options/webhooks"
REFUSED_RESOURCE = "Failed to load resource: the server responded with a status of "
BOT_TOKEN = "7012345678:AAF3xQ9v2Lr8TnW5cYk1ZbH0dJgE4sUoPqM"
SECRET = "nifty-condor-2026"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = start_platform(
        tmp_path_factory.mktemp("settings-console"), "--date", DAY, "--at", START, "--speed", "1"
    )
    yield running
    stop_platform(running)


@pytest.fixture(scope="module")
def strategy_id(session: Platform, token: str) -> str:
    basket = call(session, token, "POST", "/options/baskets", {"name": "Signals"})
    strategy = call(
        session,
        token,
        "POST",
        f"/options/baskets/{basket['basket_id']}/strategies",
        {
            "name": "Breakout call",
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
    return str(strategy["strategy_id"])


@pytest.fixture
def console(signed_in: tuple[Page, PageWatch]) -> tuple[Page, PageWatch]:
    """The signed-in page on a freshly mounted Settings page, its watch emptied."""
    page, watch = signed_in
    page.evaluate("() => { location.hash = '#/today'; }")
    page.get_by_test_id("nav-settings").click()
    expect(page.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    expect(page.get_by_test_id("save-notifications")).to_be_enabled()
    watch.clear()
    return page, watch


def call(session: Platform, token: str, method: str, path: str, body: Any = None) -> Any:
    reply = session.request(method, path, token=token, body=body)
    assert reply.status < 300, f"{method} {path}: {reply.status} {reply.body!r}"
    return reply.json() if reply.body else None


def problems_besides_refusals(watch: PageWatch, status: int, *routes: str) -> list[str]:
    """What the page saw go wrong, less the `status` answers of `routes` (path patterns)."""
    refused = re.compile(rf"^({status} (POST|PUT) )?http://127\.0\.0\.1:\d+(?:{'|'.join(routes)})\)?$")

    def expected(problem: str) -> bool:
        if problem.startswith(f"{REFUSED_RESOURCE}{status}"):
            return bool(refused.match(problem.rsplit("(", 1)[-1]))
        return bool(refused.match(problem))

    return [problem for problem in watch.problems if not expected(problem)]


def test_telegram_and_email_saved_in_the_page_are_stored_and_the_token_never_comes_back(
    session: Platform, token: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    form = page.get_by_test_id("notifications-form")
    telegram = form.get_by_role("group", name="Telegram")
    telegram.get_by_label("Send to Telegram").check()
    telegram.get_by_label("Chat id").fill("512345678")
    telegram.get_by_label("Bot token").fill(BOT_TOKEN)
    email = form.get_by_role("group", name="E-mail")
    email.get_by_label("Send e-mails").check()
    email.get_by_label("Address").fill("trader@ql-trading-desk.in")
    form.get_by_role("group", name="Events to send").get_by_label("Partial runs").uncheck()
    form.get_by_test_id("save-notifications").click()
    expect(form.get_by_test_id("notifications-status")).to_have_text("Saved.")

    reply = session.request("GET", "/options/notification-settings", token=token)
    stored = reply.json()
    assert stored["version"] == 1
    assert stored["telegram"] == {
        "enabled": True,
        "chat_id": "512345678",
        "bot_token_set": True,
        "error": None,
    }
    assert stored["email"] == {"enabled": True, "address": "trader@ql-trading-desk.in", "error": None}
    assert "PARTIAL_RUNS" not in stored["events"] and "FILLS" in stored["events"]
    assert BOT_TOKEN.split(":")[1] not in reply.body.decode()
    expect(telegram.get_by_label("Bot token")).to_have_value("")
    expect(form.get_by_test_id("telegram-token-state")).to_have_text("A token is stored.")

    # Saved again without typing the token: the stored one is kept.
    email.get_by_label("Address").fill("desk@ql-trading-desk.in")
    form.get_by_test_id("save-notifications").click()
    expect(form.get_by_test_id("notifications-status")).to_have_text("Saved.")
    again = call(session, token, "GET", "/options/notification-settings")
    assert again["version"] == 2 and again["telegram"]["bot_token_set"] is True
    assert again["email"]["address"] == "desk@ql-trading-desk.in"

    # Changed elsewhere meanwhile: the page's save is refused, the stored preferences come back.
    call(
        session,
        token,
        "PUT",
        "/options/notification-settings",
        {"version": 2, "events": again["events"], "email": {"address": again["email"]["address"]}},
    )
    email.get_by_label("Address").fill("late@ql-trading-desk.in")
    form.get_by_test_id("save-notifications").click()
    expect(form.get_by_test_id("notifications-status")).to_contain_text("Changed elsewhere meanwhile")
    expect(email.get_by_label("Address")).to_have_value("desk@ql-trading-desk.in")
    expect(telegram.get_by_label("Chat id")).to_have_value("")
    assert call(session, token, "GET", "/options/notification-settings")["version"] == 3

    form.get_by_test_id("test-notification").click()
    expect(form.get_by_test_id("notifications-status")).to_contain_text("Test message on its way to Email")
    assert problems_besides_refusals(watch, 409, SETTINGS) == []


def test_a_chat_id_the_platform_refuses_is_marked_beside_its_input(
    session: Platform, token: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    before = call(session, token, "GET", "/options/notification-settings")["version"]
    form = page.get_by_test_id("notifications-form")
    telegram = form.get_by_role("group", name="Telegram")
    telegram.get_by_label("Send to Telegram").check()
    telegram.get_by_label("Chat id").fill("my chat")
    telegram.get_by_label("Bot token").fill(BOT_TOKEN)
    form.get_by_test_id("save-notifications").click()

    marked = telegram.get_by_test_id("error-telegram.chat_id")
    expect(marked).to_be_visible()
    expect(telegram.get_by_label("Chat id")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_test_id("notifications-status")).to_have_text("Not saved: see the marked fields.")
    assert call(session, token, "GET", "/options/notification-settings")["version"] == before
    assert problems_besides_refusals(watch, 422, SETTINGS) == []


def test_a_webhook_created_in_the_page_shows_its_url_once_and_lists_the_signals_it_receives(
    session: Platform, token: str, strategy_id: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    form = page.get_by_test_id("webhook-form")
    expect(form.get_by_label("Strategy")).to_have_value(strategy_id)
    form.get_by_label("Action").select_option("ENTER")
    form.get_by_label("Sent by").select_option("TRADINGVIEW")
    form.get_by_label("Label").fill("Breakout alert")
    form.get_by_label("Shared secret").fill(SECRET)
    form.get_by_label("Secret field").fill("passphrase")
    form.get_by_label("Signal id field").fill("id")
    form.get_by_test_id("create-webhook").click()

    once = page.get_by_test_id("webhook-url-once")
    expect(once).to_be_visible()
    expect(once).to_contain_text("will not be shown again")
    url = page.get_by_test_id("webhook-url").input_value()
    assert url.startswith(f"{session.base_url}/signals/")
    url_path = url.removeprefix(session.base_url)
    page.get_by_test_id("copy-webhook-url").click()
    expect(once.get_by_role("status")).not_to_have_text("")

    row = page.get_by_test_id("webhook-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Breakout alert")
    listed = session.request("GET", "/options/webhooks", token=token)
    assert url_path.rsplit("/", 1)[1] not in listed.body.decode()
    assert url_path.rsplit("/", 1)[1] not in row.inner_text()

    alert = {
        "passphrase": SECRET,
        "id": "order-1-2026-11-23T04:10:00Z",
        "action": "buy",
        "ticker": "NIFTY",
        "price": 26010.5,
    }
    receipt = session.request("POST", url_path, body=alert)
    assert receipt.status < 500, receipt.body
    received = receipt.json()
    assert received["status"] in {"QUEUED", "REFUSED"}, received

    row.get_by_role("button", name="Signals").click()
    expect(row.get_by_role("button", name="Signals")).to_have_attribute("aria-expanded", "true")
    signal = page.get_by_test_id("webhook-signals").get_by_test_id("signal-row")
    expect(signal).to_have_count(1)
    expect(signal.get_by_test_id("signal-status")).to_have_text(
        received["status"].capitalize().replace("_", " ")
    )
    expect(signal).to_contain_text("ticker=NIFTY")
    expect(signal).not_to_contain_text(SECRET)
    if received.get("run_name"):
        expect(signal.get_by_test_id("signal-run")).to_have_text(received["run_name"])

    # A new URL, shown once; the old one is retired at once.
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Rotate URL").click()
    expect(page.get_by_test_id("webhook-url")).not_to_have_value(url)
    rotated = page.get_by_test_id("webhook-url").input_value()
    assert rotated.startswith(f"{session.base_url}/signals/")
    assert session.request("POST", url_path, body=alert).status == 404
    assert problems_besides_refusals(watch, 422, WEBHOOKS) == []


def test_exit_leg_without_a_leg_is_marked_beside_the_leg_input(
    session: Platform, token: str, strategy_id: str, console: tuple[Page, PageWatch]
) -> None:
    page, watch = console
    before = len(call(session, token, "GET", "/options/webhooks")["items"])
    form = page.get_by_test_id("webhook-form")
    expect(form.get_by_label("Leg")).to_be_hidden()
    form.get_by_label("Action").select_option("EXIT_LEG")
    expect(form.get_by_label("Leg")).to_be_visible()
    form.get_by_test_id("create-webhook").click()

    expect(form.get_by_test_id("error-leg_no")).to_be_visible()
    expect(form.get_by_label("Leg")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_test_id("webhook-form-status")).to_have_text("Not created: see the marked fields.")
    expect(page.get_by_test_id("webhook-url-once")).to_be_hidden()
    assert len(call(session, token, "GET", "/options/webhooks")["items"]) == before
    assert problems_besides_refusals(watch, 422, WEBHOOKS) == []
