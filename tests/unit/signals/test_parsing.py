"""Reading TradingView and Chartink bodies the way a webhook's mapping says."""

from __future__ import annotations

import hashlib
import json

import pytest

from shared_utils.signals.models import WebhookFormat
from shared_utils.signals.parsing import (
    FIELD_MISSING,
    MALFORMED_BODY,
    MAX_BODY_BYTES,
    MalformedSignal,
    Mapping,
    parse_signal,
    value_at,
)

TRADINGVIEW = Mapping(format=WebhookFormat.TRADINGVIEW)
CHARTINK = Mapping(format=WebhookFormat.CHARTINK)

# A TradingView strategy alert's message after its placeholders were replaced.
TV_MESSAGE = {
    "passphrase": "s3cret-passphrase",
    "id": "Long Entry-2026-11-25T04:00:05Z",
    "action": "buy",
    "ticker": "NIFTY",
    "price": 26010.5,
    "timenow": "2026-11-25T04:00:05Z",
    "order": {"id": "Long Entry", "contracts": 2},
}
# Chartink's body, as its alert documentation shows it.
CHARTINK_BODY = {
    "stocks": "NIFTY,BANKNIFTY",
    "trigger_prices": "26010.5,59040.0",
    "triggered_at": "9:30 am",
    "scan_name": "Index breakout",
    "scan_url": "index-breakout",
    "alert_name": "Alert for Index breakout",
    "webhook_url": "https://api.example.in/signals/token",
}


def raw(body: object) -> bytes:
    return json.dumps(body).encode()


def refused(body: bytes, mapping: Mapping) -> MalformedSignal:
    with pytest.raises(MalformedSignal) as caught:
        parse_signal(body, mapping)
    return caught.value


def test_a_tradingview_message_without_a_mapped_id_is_known_by_its_body_hash():
    body = raw(TV_MESSAGE)

    parsed = parse_signal(body, TRADINGVIEW)

    assert parsed.signal_key == f"sha256:{hashlib.sha256(body).hexdigest()}"
    assert parsed.summary["ticker"] == "NIFTY" and parsed.summary["action"] == "buy"
    assert parsed.summary["price"] == "26010.5"


def test_the_users_mapping_names_the_id_and_the_values_to_match_even_nested():
    mapping = Mapping(
        format=WebhookFormat.TRADINGVIEW,
        signal_id_field="order.id",
        secret_field="passphrase",
        match={"action": "buy"},
    )

    parsed = parse_signal(raw(TV_MESSAGE), mapping)

    assert parsed.signal_key == "id:Long Entry"
    assert parsed.value("passphrase") == "s3cret-passphrase"
    assert list(parsed.summary)[:2] == ["order.id", "action"]
    assert "passphrase" not in parsed.summary and "s3cret-passphrase" not in parsed.summary.values()


def test_a_mapped_field_absent_from_the_body_is_a_400_naming_it():
    mapping = Mapping(format=WebhookFormat.TRADINGVIEW, signal_id_field="alert_id")

    error = refused(raw(TV_MESSAGE), mapping)

    assert (error.code, error.field) == (FIELD_MISSING, "alert_id")


def test_a_match_field_absent_is_missing_not_a_mismatch():
    error = refused(raw({"ticker": "NIFTY"}), Mapping(WebhookFormat.TRADINGVIEW, match={"action": "buy"}))

    assert (error.code, error.field) == (FIELD_MISSING, "action")


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b"NIFTY crossed 26000, go long", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"just a string"', "not a JSON object"),
        (b"\xff\xfe\x00", "not JSON"),
        (b"{" + b" " * MAX_BODY_BYTES + b"}", "larger than"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_malformed(body, hint):
    error = refused(body, TRADINGVIEW)

    assert error.code == MALFORMED_BODY and hint in error.message


def test_a_plain_text_tradingview_message_says_how_to_write_it_as_json():
    error = refused(b"{{ticker}} long", TRADINGVIEW)

    assert "{{strategy.order.action}}" in error.message


def test_a_chartink_body_reads_its_own_fields():
    parsed = parse_signal(raw(CHARTINK_BODY), CHARTINK)

    assert parsed.summary == {
        "scan_name": "Index breakout",
        "alert_name": "Alert for Index breakout",
        "triggered_at": "9:30 am",
        "stocks": "NIFTY,BANKNIFTY",
        "trigger_prices": "26010.5,59040.0",
    }
    assert parsed.signal_key.startswith("sha256:")


@pytest.mark.parametrize("missing", ["stocks", "trigger_prices", "triggered_at", "scan_name"])
def test_a_chartink_body_without_one_of_its_fields_is_a_400_naming_it(missing):
    body = {key: value for key, value in CHARTINK_BODY.items() if key != missing}

    error = refused(raw(body), CHARTINK)

    assert (error.code, error.field) == (FIELD_MISSING, missing)


def test_a_chartink_secret_in_the_alert_name_is_never_summarised():
    mapping = Mapping(
        format=WebhookFormat.CHARTINK, secret_field="alert_name", signal_id_field="triggered_at"
    )

    parsed = parse_signal(raw(CHARTINK_BODY), mapping)

    assert parsed.signal_key == "id:9:30 am"
    assert "alert_name" not in parsed.summary


def test_long_values_are_shortened_in_the_summary():
    stocks = ",".join(f"STOCK{n}" for n in range(100))

    parsed = parse_signal(raw({**CHARTINK_BODY, "stocks": stocks}), CHARTINK)

    assert len(parsed.summary["stocks"]) == 64 and parsed.summary["stocks"].endswith("…")


def test_an_empty_or_oversized_mapped_id_is_refused():
    mapping = Mapping(format=WebhookFormat.TRADINGVIEW, signal_id_field="id")

    assert refused(raw({"id": "  "}), mapping).field == "id"
    assert refused(raw({"id": "x" * 257}), mapping).field == "id"


def test_values_are_read_as_text_and_objects_lists_and_nulls_are_absent():
    body = {"a": {"b": 1.5, "c": True, "d": None, "e": [1], "f": {"g": "x"}}}

    assert value_at(body, "a.b") == "1.5"
    assert value_at(body, "a.c") == "true"
    assert value_at(body, "a.d") is None
    assert value_at(body, "a.e") is None
    assert value_at(body, "a.f") is None
    assert value_at(body, "a.f.g") == "x"
    assert value_at(body, "a.b.c") is None
