"""Notification preferences through the API: read back as set (the bot token never), versioned
(409 on a stale version), a bad chat id, token or address a 422 naming the field, and a test
message queued on each enabled channel."""

from __future__ import annotations

import pytest

from shared_utils.composition import platform

SETTINGS = "/options/notification-settings"
TEST = "/options/notification-settings/test"
TOKEN = "7012345678:AAF3xQ9v2Lr8TnW5cYk1ZbH0dJgE4sUoPqM"
BODY = {
    "version": 0,
    "events": ["FILLS", "EXITS"],
    "telegram": {"chat_id": "-1001234567890", "bot_token": TOKEN},
    "email": {"address": "trader@ql-trading-desk.in"},
}


def test_preferences_are_read_back_as_set_without_the_token_and_a_stale_version_is_a_409(api):
    never = api("GET", SETTINGS)
    assert never.status == 200
    assert (
        never.body["version"] == 0
        and never.body["telegram"] is None
        and never.body["console"] == {"enabled": True}
    )
    assert never.body["events"] == [
        "FILLS",
        "PARTIAL_RUNS",
        "REJECTIONS",
        "EXITS",
        "KILL_SWITCH",
        "LOGIN_NEEDED",
    ]

    saved = api("PUT", SETTINGS, body=BODY)
    assert saved.status == 200, saved.body
    read = api("GET", SETTINGS)
    for answer in (saved, read):
        assert TOKEN not in answer.raw_body and TOKEN.split(":")[1] not in answer.raw_body
        assert answer.body["version"] == 1 and answer.body["events"] == ["FILLS", "EXITS"]
        assert answer.body["telegram"] == {
            "enabled": True,
            "chat_id": "-1001234567890",
            "bot_token_set": True,
            "error": None,
        }
        assert answer.body["email"] == {
            "enabled": True,
            "address": "trader@ql-trading-desk.in",
            "error": None,
        }
    assert platform().notification_secrets.bot_token("user-a") == TOKEN

    stale = api("PUT", SETTINGS, body={**BODY, "version": 0})
    assert stale.status == 409 and stale.body["code"] == "VERSION_CONFLICT"
    # The stored token is kept when the PUT leaves it out; `telegram: null` deletes it.
    kept = api(
        "PUT", SETTINGS, body={"version": 1, "telegram": {"chat_id": "@ql_desk_alerts", "enabled": False}}
    )
    assert kept.status == 200 and kept.body["telegram"]["bot_token_set"] is True
    assert kept.body["email"] is None and platform().notification_secrets.bot_token("user-a") == TOKEN
    removed = api("PUT", SETTINGS, body={"version": 2, "telegram": None})
    assert removed.status == 200 and removed.body["telegram"] is None
    assert platform().notification_secrets.bot_token("user-a") is None
    assert api("GET", SETTINGS, user="user-b").body["version"] == 0  # mine are mine


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"telegram": {"chat_id": "my chat", "bot_token": TOKEN}}, "telegram.chat_id"),
        ({"telegram": {"chat_id": "12345", "bot_token": "not-a-token"}}, "telegram.bot_token"),
        ({"telegram": {"chat_id": "12345"}}, "telegram.bot_token"),  # none stored yet
        ({"email": {"address": "trader@"}}, "email.address"),
        ({"events": ["FILLS", "EVERYTHING"]}, "events.1"),
        ({"sms": {"number": "+91"}}, "sms"),
    ],
)
def test_a_bad_preference_is_a_422_naming_the_field_and_stores_nothing(api, change, field):
    response = api("PUT", SETTINGS, body={"version": 0, **change})

    assert response.status == 422, response.body
    assert field in [detail["field"] for detail in response.body["details"]], response.body
    assert "not-a-token" not in response.raw_body
    assert api("GET", SETTINGS).body["version"] == 0


def test_a_test_message_is_queued_for_each_enabled_channel(api):
    assert api("PUT", SETTINGS, body=BODY).status == 200
    queue = platform().notification_queue
    before = queue.waiting  # type: ignore[attr-defined]

    response = api("POST", TEST)

    assert response.status == 202, response.body
    assert response.body["queued"] == ["TELEGRAM", "EMAIL"]
    assert [skip["channel"] for skip in response.body["skipped"]] == ["CONSOLE"]
    assert queue.waiting == before + 2  # type: ignore[attr-defined]
    waiting = queue.queued()  # type: ignore[attr-defined]
    assert {(d.channel.value, d.target, d.kind) for d in waiting} == {
        ("TELEGRAM", "-1001234567890", None),
        ("EMAIL", "trader@ql-trading-desk.in", None),
    }
    assert TOKEN not in response.raw_body and all(TOKEN not in d.model_dump_json() for d in waiting)


def test_an_admin_switches_platform_alarms_on_and_a_trader_is_refused_naming_the_field(api):
    admin = {"user": "admin-1", "groups": ("Admins",)}
    saved = api("PUT", SETTINGS, body={**BODY, "platform_alarms": True}, **admin)
    assert saved.status == 200, saved.body
    assert saved.body["platform_alarms"] is True
    assert api("GET", SETTINGS, **admin).body["platform_alarms"] is True
    assert [s.user_id for s in platform().notification_settings_store.alarm_subscribers()] == ["admin-1"]

    refused = api("PUT", SETTINGS, body={**BODY, "platform_alarms": True})
    assert refused.status == 403
    assert refused.body["code"] == "FORBIDDEN"
    assert [detail["field"] for detail in refused.body["details"]] == ["platform_alarms"]
    assert api("GET", SETTINGS).body["version"] == 0  # nothing stored
    assert api("PUT", SETTINGS, body=BODY).body["platform_alarms"] is False  # off is the default
