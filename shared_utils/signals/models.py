"""Signal webhooks as the API sees them: what a user creates, what is shown back (never the
token or the shared secret: only a hint of the token and whether a secret is set), and each
signal received with what it caused."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared_utils.models.common import EntityId, Name
from shared_utils.models.signals import SignalAction, SignalStatus

MAX_LEG_NO = 6
DEFAULT_RATE_LIMIT = 6
MAX_MATCH_FIELDS = 5

# A body field: a name, or a dotted path into nested objects (`order.id`).
FieldPath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,3}$",
        examples=["secret", "order.id"],
    ),
]
MatchValue = Annotated[str, Field(min_length=1, max_length=100)]


class WebhookFormat(StrEnum):
    """What the chart platform posts: TradingView the alert's message as written by the user
    (JSON: its own fields and placeholders), Chartink a fixed JSON body (`stocks`,
    `trigger_prices`, `triggered_at`, `scan_name`, `scan_url`, `alert_name`, `webhook_url`)."""

    TRADINGVIEW = "TRADINGVIEW"
    CHARTINK = "CHARTINK"


# Chartink's body carries no field of the user's own: a shared secret can only be written into
# the alert's (or the scan's) name there.
CHARTINK_TEXT_FIELDS = ("alert_name", "scan_name")
CHARTINK_FIELDS = (
    "stocks",
    "trigger_prices",
    "triggered_at",
    "scan_name",
    "scan_url",
    "alert_name",
    "webhook_url",
)


class WebhookCreate(BaseModel):
    """A webhook for one strategy of mine and one action; the answer shows its URL once."""

    model_config = ConfigDict(extra="forbid")

    strategy_id: EntityId
    action: SignalAction = Field(
        description="ENTER every leg, EXIT every open position, or EXIT_LEG (`leg_no`) of the strategy"
    )
    leg_no: int | None = Field(
        default=None,
        ge=1,
        le=MAX_LEG_NO,
        validate_default=True,
        description="The leg EXIT_LEG closes (required for it only)",
    )
    format: WebhookFormat
    label: Name | None = Field(default=None, description="My name for it (e.g. the alert's)")
    shared_secret: SecretStr | None = Field(
        default=None,
        min_length=8,
        max_length=128,
        description="Optional passphrase the body must carry in `secret_field`; stored hashed, "
        "never shown again. A body without it, or with another one, is answered like an unknown URL.",
    )
    secret_field: FieldPath | None = Field(
        default=None,
        description="The body field carrying `shared_secret` (default `secret`; for CHARTINK "
        "`alert_name` or `scan_name`, the only fields of its body a user writes)",
    )
    signal_id_field: FieldPath | None = Field(
        default=None,
        description="The body field carrying the signal's id (e.g. a TradingView message's "
        '`"id": "{{strategy.order.id}}-{{timenow}}"`); without one, the SHA-256 of the body '
        "is its id. The same id twice within 10 minutes is ignored (REPLAYED).",
    )
    match: dict[FieldPath, MatchValue] = Field(
        default_factory=dict,
        description=f"Up to {MAX_MATCH_FIELDS} body fields that must hold these values (case "
        'ignored) for the signal to act, e.g. `{"action": "buy"}`; another value is refused and '
        "recorded, a missing field is a 400",
    )
    rate_limit_per_minute: int = Field(
        default=DEFAULT_RATE_LIMIT,
        ge=1,
        le=60,
        description="Requests per minute this URL accepts; more are answered 429 (RATE_LIMITED)",
    )

    @field_validator("match")
    @classmethod
    def _few_match_fields(cls, match: dict[str, str]) -> dict[str, str]:
        if len(match) > MAX_MATCH_FIELDS:
            raise ValueError(f"at most {MAX_MATCH_FIELDS} fields")
        return match

    @field_validator("leg_no")
    @classmethod
    def _for_exit_leg(cls, leg_no: int | None, info: ValidationInfo) -> int | None:
        """Named on `leg_no` itself, so the trader's form marks that input."""
        action = info.data.get("action")
        if action is SignalAction.EXIT_LEG and leg_no is None:
            raise ValueError("required for EXIT_LEG")
        if action is not None and action is not SignalAction.EXIT_LEG and leg_no is not None:
            raise ValueError("only for EXIT_LEG")
        return leg_no

    @model_validator(mode="after")
    def _consistent(self) -> WebhookCreate:
        if self.secret_field is not None and self.shared_secret is None:
            raise ValueError("secret_field needs a shared_secret")
        secret_in = self.secret_in()
        if secret_in is not None and (secret_in == self.signal_id_field or secret_in in self.match):
            raise ValueError(f"{secret_in} carries the shared secret: it cannot be the id or a match")
        if self.format is WebhookFormat.CHARTINK:
            if self.shared_secret is not None and self.secret_field not in (None, *CHARTINK_TEXT_FIELDS):
                raise ValueError(f"a Chartink secret can only be in {' or '.join(CHARTINK_TEXT_FIELDS)}")
            unknown = [
                name for name in (self.signal_id_field, *self.match) if name and name not in CHARTINK_FIELDS
            ]
            if unknown:
                raise ValueError(f"Chartink sends no field {', '.join(unknown)}")
        return self

    def secret_in(self) -> str | None:
        """The body field the shared secret is read from (None: no secret)."""
        if self.shared_secret is None:
            return None
        if self.secret_field:
            return self.secret_field
        return "alert_name" if self.format is WebhookFormat.CHARTINK else "secret"


class Webhook(BaseModel):
    """A webhook as shown to its owner: never its token or shared secret."""

    model_config = ConfigDict(frozen=True)

    webhook_id: EntityId
    user_id: EntityId
    strategy_id: EntityId
    action: SignalAction
    leg_no: int | None = None
    format: WebhookFormat
    label: str | None = None
    secret_set: bool = Field(description="A shared secret is required in the body")
    secret_field: str | None = Field(default=None, description="Where the body carries it")
    signal_id_field: str | None = None
    match: dict[str, str] = Field(default_factory=dict)
    rate_limit_per_minute: int
    token_hint: str = Field(description="The URL token's last characters, to tell URLs apart")
    version: int = Field(ge=1)
    created_at: AwareDatetime
    rotated_at: AwareDatetime | None = Field(default=None, description="When the URL last changed")


SIGNAL_PATH_PREFIX = "/signals/"


class WebhookWithUrl(Webhook):
    """Creation and rotation only: the URL is shown here once and can never be read again."""

    url_path: str = Field(
        description="POST here (after the API's base URL): `/signals/{token}`. Shown once: it is "
        "stored hashed; rotate to get a new one (the old one then answers 404).",
        examples=["/signals/3q2-Xb1k4n0eW7pQ9sVv0yQe8rT5uI6oP1aS2dF3gH4"],
    )


class SignalRecord(BaseModel):
    """One request received on a webhook with a valid token, and what it caused."""

    model_config = ConfigDict(frozen=True)

    signal_id: str
    webhook_id: EntityId
    strategy_id: EntityId
    action: SignalAction
    leg_no: int | None = None
    received_at: AwareDatetime
    status: SignalStatus = Field(
        description="QUEUED (run `run_name`), REFUSED (`reason`), REPLAYED (ignored) or RATE_LIMITED"
    )
    code: str = Field(
        description="QUEUED, REPLAYED, RATE_LIMITED, REFUSED (by the strategy's state or the "
        "session), NOT_MATCHED, MALFORMED_BODY, FIELD_MISSING, WRONG_SECRET or NOT_QUEUED"
    )
    http_status: int = Field(description="What the sender was answered")
    reason: str | None = None
    run_name: str | None = Field(default=None, description="The run it queued: its execution record")
    signal_key: str | None = Field(default=None, description="The signal's id, or `sha256:` of its body")
    summary: dict[str, str] = Field(
        default_factory=dict, description="The body fields used, shortened (never the secret)"
    )
    source_ip: str | None = None


class SignalReceipt(BaseModel):
    """The public endpoint's answer to a request on a valid URL (an unknown one gets the API's
    plain 404 body)."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    status: SignalStatus | None = None
    signal_id: str | None = None
    run_name: str | None = None
    field: str | None = Field(default=None, description="A 400's body field")
