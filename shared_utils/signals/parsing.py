"""A request body as TradingView or Chartink posts it, read the way its webhook says.

- TradingView posts the alert's message exactly as the user wrote it (placeholders such as
  `{{ticker}}`, `{{strategy.order.action}}` or `{{timenow}}` already replaced); it is JSON, and
  sent as `application/json`, only when the message is valid JSON. A webhook here needs JSON: an
  object whose fields the webhook's mapping names.
- Chartink posts one JSON object of its own: `stocks` and `trigger_prices` (comma-separated),
  `triggered_at` (e.g. "2:34 pm"), `scan_name`, `scan_url`, `alert_name` and `webhook_url`.

What cannot be read is a `MalformedSignal` with a stable code (MALFORMED_BODY, or FIELD_MISSING
naming the field); the content type is not trusted either way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from shared_utils.signals.models import WebhookFormat

MAX_BODY_BYTES = 64 * 1024
MAX_ID_CHARS = 256
SUMMARY_VALUE_CHARS = 64
MAX_SUMMARY_FIELDS = 10
MALFORMED_BODY = "MALFORMED_BODY"
FIELD_MISSING = "FIELD_MISSING"

# What Chartink always sends (its `scan_url`, `alert_name` and `webhook_url` are not needed).
CHARTINK_REQUIRED = ("stocks", "trigger_prices", "triggered_at", "scan_name")
# Shown in a signal's summary when present: what identifies the alert to its owner.
SUMMARY_FIELDS = {
    WebhookFormat.TRADINGVIEW: (
        "ticker",
        "exchange",
        "interval",
        "action",
        "order_id",
        "price",
        "close",
        "time",
        "timenow",
        "comment",
    ),
    WebhookFormat.CHARTINK: ("scan_name", "alert_name", "triggered_at", "stocks", "trigger_prices"),
}


class MalformedSignal(Exception):
    def __init__(self, code: str, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Mapping:
    """The body fields a webhook reads: its id, its shared secret and the values it must match."""

    format: WebhookFormat
    signal_id_field: str | None = None
    secret_field: str | None = None
    match: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedSignal:
    body: dict[str, Any]
    signal_key: str  # the mapped id (`id:...`) or the body's hash (`sha256:...`)
    summary: dict[str, str]

    def value(self, path: str) -> str | None:
        return value_at(self.body, path)


def parse_signal(raw: bytes, mapping: Mapping) -> ParsedSignal:
    body = _json_object(raw, mapping.format)
    if mapping.format is WebhookFormat.CHARTINK:
        for name in CHARTINK_REQUIRED:
            if not value_at(body, name):
                raise MalformedSignal(FIELD_MISSING, f"Chartink's field {name} is missing or empty", name)
    # The secret's field is not among them: without it a request is answered as a wrong secret.
    for wanted in (mapping.signal_id_field, *mapping.match):
        if wanted and value_at(body, wanted) is None:
            raise MalformedSignal(
                FIELD_MISSING, f"the body has no field {wanted} (the webhook reads it)", wanted
            )
    if mapping.signal_id_field:
        signal_id = str(value_at(body, mapping.signal_id_field)).strip()
        if not signal_id or len(signal_id) > MAX_ID_CHARS:
            raise MalformedSignal(
                FIELD_MISSING,
                f"{mapping.signal_id_field} must hold an id of 1-{MAX_ID_CHARS} characters",
                mapping.signal_id_field,
            )
        key = f"id:{signal_id}"
    else:
        key = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    return ParsedSignal(body=body, signal_key=key, summary=_summary(body, mapping))


def value_at(body: dict[str, Any], path: str) -> str | None:
    """The scalar at a field or dotted path, as text; None when absent, null, an object or a list."""
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _json_object(raw: bytes, format: WebhookFormat) -> dict[str, Any]:
    if not raw.strip():
        raise MalformedSignal(MALFORMED_BODY, "the body is empty")
    if len(raw) > MAX_BODY_BYTES:
        raise MalformedSignal(MALFORMED_BODY, f"the body is larger than {MAX_BODY_BYTES // 1024} KB")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        hint = (
            ": write the alert's message as a JSON object, e.g. "
            '{"action": "{{strategy.order.action}}", "ticker": "{{ticker}}"}'
            if format is WebhookFormat.TRADINGVIEW
            else ""
        )
        raise MalformedSignal(MALFORMED_BODY, f"the body is not JSON{hint}") from None
    if not isinstance(body, dict):
        raise MalformedSignal(MALFORMED_BODY, "the body is not a JSON object")
    return body


def _summary(body: dict[str, Any], mapping: Mapping) -> dict[str, str]:
    """The fields used and the ones that identify the alert, shortened; never the secret."""
    names = [
        *([mapping.signal_id_field] if mapping.signal_id_field else []),
        *mapping.match,
        *SUMMARY_FIELDS[mapping.format],
    ]
    summary: dict[str, str] = {}
    for name in dict.fromkeys(names):
        value = value_at(body, name)
        if value is None or name == mapping.secret_field:
            continue
        summary[name] = value if len(value) <= SUMMARY_VALUE_CHARS else value[: SUMMARY_VALUE_CHARS - 1] + "…"
        if len(summary) == MAX_SUMMARY_FIELDS:
            break
    return summary
