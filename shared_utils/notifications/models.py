"""Notification preferences (API input and output, domain), the stored item's mapping, and the
delivery message the notification queue carries."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator

from shared_utils import keys
from shared_utils.models.common import EntityId
from shared_utils.models.items import StoredItem


class Channel(StrEnum):
    TELEGRAM = "TELEGRAM"
    EMAIL = "EMAIL"
    CONSOLE = "CONSOLE"  # the live feed: it shows every event already; the choice is recorded


# The channels the platform sends to itself (the console's feed needs no delivery).
SENT_CHANNELS = (Channel.TELEGRAM, Channel.EMAIL)


class EventKind(StrEnum):
    FILLS = "FILLS"  # an entry or exit run filled (legs, quantities, prices, P&L)
    PARTIAL_RUNS = "PARTIAL_RUNS"  # a run ended partial, failed, or not entered (with the reason)
    REJECTIONS = "REJECTIONS"  # a broker rejected an order (with its reason)
    EXITS = "EXITS"  # a stop-loss, target, trailing stop or portfolio rule fired
    KILL_SWITCH = "KILL_SWITCH"  # my switch or the platform-wide one pressed or re-armed
    LOGIN_NEEDED = "LOGIN_NEEDED"  # a broker account needs a login before it can trade


DEFAULT_EVENTS: tuple[EventKind, ...] = tuple(EventKind)

# A delivery's kind for the platform's CloudWatch alarms (admins who switched `platform_alarms`
# on): not one of the `events` a trader chooses.
PlatformAlarm = Literal["PLATFORM_ALARM"]
PLATFORM_ALARM: PlatformAlarm = "PLATFORM_ALARM"
PLATFORM_ALARMS_FIELD = "platform_alarms"
PLATFORM_ALARMS_DESCRIPTION = (
    "Admins only: the platform's CloudWatch alarms (calendar coverage, market data, dead-letter queues "
    "...) going into ALARM or back to OK, on each enabled channel (a non-admin's true is a 403)"
)

# Telegram: a numeric chat id (negative for groups, -100... for supergroups and channels) or a
# public channel's @username; a bot token is `{bot id}:{secret}` as BotFather hands it out.
CHAT_ID_PATTERN = r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$"
BOT_TOKEN_PATTERN = r"^\d{5,12}:[A-Za-z0-9_-]{30,64}$"
# An address SES accepts: local part, @, a domain of at least two labels.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
EVENTS_DESCRIPTION = (
    "The events I am told about on each enabled channel: FILLS (a run filled: legs, quantities, prices, "
    "P&L), PARTIAL_RUNS (partial, failed or not entered, with the reason), REJECTIONS (an order a broker "
    "refused), EXITS (a stop-loss, target, trailing or portfolio rule fired), KILL_SWITCH, LOGIN_NEEDED"
)


class ChannelError(BaseModel):
    """A channel refused a message for good (a wrong chat id, a bot the user blocked, an address
    SES rejects): nothing more goes to it until the settings change or a test gets through."""

    model_config = ConfigDict(frozen=True)

    status: int = Field(description="the channel's answer (Telegram's error_code, 400 for an SES rejection)")
    description: str = Field(max_length=500)
    at: AwareDatetime


# ---------------------------------------------------------------- API input


class TelegramUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    chat_id: str = Field(
        pattern=CHAT_ID_PATTERN,
        description="The chat the bot writes to: a numeric id (negative for a group), or @channelname",
    )
    bot_token: SecretStr | None = Field(
        default=None,
        description="The bot's token from BotFather (write-only: never returned). Omitted: the stored one is "
        "kept (required the first time)",
    )

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        import re

        if value is not None and not re.fullmatch(BOT_TOKEN_PATTERN, value.get_secret_value()):
            raise ValueError("not a Telegram bot token (BotFather's `123456789:AA...`)")
        return value


class EmailUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    address: str = Field(max_length=254, pattern=EMAIL_PATTERN, description="Where the e-mails go")


class ConsoleChannel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


class NotificationSettingsUpdate(BaseModel):
    """Body of `PUT /options/notification-settings`: replaces the preferences."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "version": 0,
                    "events": ["FILLS", "EXITS", "REJECTIONS", "KILL_SWITCH", "LOGIN_NEEDED"],
                    "telegram": {
                        "enabled": True,
                        "chat_id": "512345678",
                        "bot_token": "7012345678:AAF3xQ9v2Lr8TnW5cYk1ZbH0dJgE4sUoPqM",
                    },
                    "email": {"enabled": True, "address": "trader@ql-trading-desk.in"},
                    "console": {"enabled": True},
                }
            ]
        },
    )

    version: int = Field(ge=0, description="The current version: 0 before the first PUT (409 otherwise)")
    events: list[EventKind] = Field(
        default_factory=lambda: list(DEFAULT_EVENTS),
        max_length=len(EventKind),
        description=EVENTS_DESCRIPTION,
    )
    telegram: TelegramUpdate | None = Field(
        default=None, description="null: no Telegram (its token is deleted)"
    )
    email: EmailUpdate | None = Field(default=None, description="null: no e-mail")
    console: ConsoleChannel = Field(default_factory=ConsoleChannel)
    platform_alarms: bool = Field(default=False, description=PLATFORM_ALARMS_DESCRIPTION)

    @field_validator("events")
    @classmethod
    def _once_each(cls, value: list[EventKind]) -> list[EventKind]:
        return list(dict.fromkeys(value))


# ---------------------------------------------------------------- domain (and API output)


class TelegramSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    enabled: bool
    chat_id: str
    bot_token_set: bool = Field(description="A bot token is stored (the token itself is never returned)")
    error: ChannelError | None = None


class EmailSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    enabled: bool
    address: str
    error: ChannelError | None = None


class NotificationSettings(BaseModel):
    """My notification preferences (version 0: never set, the defaults)."""

    model_config = ConfigDict(frozen=True)

    user_id: EntityId
    version: int = Field(default=0, ge=0)
    events: list[EventKind] = Field(
        default_factory=lambda: list(DEFAULT_EVENTS), description=EVENTS_DESCRIPTION
    )
    telegram: TelegramSettings | None = None
    email: EmailSettings | None = None
    console: ConsoleChannel = Field(default_factory=ConsoleChannel)
    platform_alarms: bool = Field(default=False, description=PLATFORM_ALARMS_DESCRIPTION)
    updated_at: AwareDatetime | None = None

    def targets(self, kind: EventKind | None) -> dict[Channel, str]:
        """Where a message of `kind` goes (None: a test, whatever the events chosen): each enabled,
        configured channel without an error, by channel, with its chat id or address."""
        if kind is not None and kind not in self.events:
            return {}
        return self._channels(with_errors=kind is None)

    def alarm_targets(self) -> dict[Channel, str]:
        """Where a platform alarm goes: nowhere unless `platform_alarms` is on (admins only)."""
        return self._channels(with_errors=False) if self.platform_alarms else {}

    def _channels(self, *, with_errors: bool) -> dict[Channel, str]:
        found: dict[Channel, str] = {}
        telegram, email = self.telegram, self.email
        if (
            telegram
            and telegram.enabled
            and telegram.bot_token_set
            and (telegram.error is None or with_errors)
        ):
            found[Channel.TELEGRAM] = telegram.chat_id
        if email and email.enabled and (email.error is None or with_errors):
            found[Channel.EMAIL] = email.address
        return found

    def error_of(self, channel: Channel) -> ChannelError | None:
        held = (
            self.telegram if channel is Channel.TELEGRAM else self.email if channel is Channel.EMAIL else None
        )
        return held.error if held is not None else None


class NotificationSettingsItem(StoredItem):
    """`USER#{user}` / `NOTIFICATION_SETTINGS`; GSI1 holds every user's under one key, GSI2 (sparse)
    the alarm subscribers'. Channel errors are a top-level map of their own: the sender may update
    that attribute and no other."""

    entity: ClassVar[str] = "NOTIFICATION_SETTINGS"
    gsi1pk: str
    gsi1sk: str
    gsi2pk: str | None = None  # PLATFORM_ALARMS when `platform_alarms` is on
    gsi2sk: str | None = None
    user_id: EntityId
    version: int = Field(ge=1)
    events: list[EventKind]
    telegram: dict[str, Any] | None = None  # enabled, chat_id, bot_token_set
    email: dict[str, Any] | None = None  # enabled, address
    console_enabled: bool = True
    platform_alarms: bool = False
    channel_errors: dict[str, ChannelError] = Field(default_factory=dict)
    updated_at: AwareDatetime

    @classmethod
    def from_domain(cls, settings: NotificationSettings) -> NotificationSettingsItem:
        if settings.updated_at is None:
            raise ValueError("stored notification settings carry their update time")
        errors = {
            channel.value: error
            for channel in SENT_CHANNELS
            if (error := settings.error_of(channel)) is not None
        }
        return cls(
            pk=keys.user_pk(settings.user_id),
            sk=keys.NOTIFICATION_SETTINGS_SK,
            gsi1pk=keys.NOTIFICATION_SETTINGS_GSI1PK,
            gsi1sk=settings.user_id,
            gsi2pk=keys.PLATFORM_ALARMS_GSI2PK if settings.platform_alarms else None,
            gsi2sk=settings.user_id if settings.platform_alarms else None,
            user_id=settings.user_id,
            version=settings.version,
            events=settings.events,
            telegram=settings.telegram.model_dump(exclude={"error"}) if settings.telegram else None,
            email=settings.email.model_dump(exclude={"error"}) if settings.email else None,
            console_enabled=settings.console.enabled,
            platform_alarms=settings.platform_alarms,
            channel_errors=errors,
            updated_at=settings.updated_at,
        )

    def to_domain(self) -> NotificationSettings:
        errors = {Channel(name): error for name, error in self.channel_errors.items()}
        telegram = (
            TelegramSettings(**self.telegram, error=errors.get(Channel.TELEGRAM)) if self.telegram else None
        )
        email = EmailSettings(**self.email, error=errors.get(Channel.EMAIL)) if self.email else None
        return NotificationSettings(
            user_id=self.user_id,
            version=self.version,
            events=self.events,
            telegram=telegram,
            email=email,
            console=ConsoleChannel(enabled=self.console_enabled),
            platform_alarms=self.platform_alarms,
            updated_at=self.updated_at,
        )


# ---------------------------------------------------------------- the queue's message


class Delivery(BaseModel):
    """One message for one channel of one user: the notification queue's message body. The text
    is rendered when the event is read, so a retry sends exactly what the first attempt would."""

    model_config = ConfigDict(frozen=True)

    dedupe_key: str = Field(description="{event id}#{channel}: the same for every copy of this delivery")
    user_id: str
    channel: Channel
    kind: EventKind | PlatformAlarm | None = Field(
        description="None: a test message; PLATFORM_ALARM: a CloudWatch alarm for an admin"
    )
    target: str = Field(description="the chat id or e-mail address")
    settings_version: int = Field(ge=0, description="the preferences it was addressed with")
    subject: str
    text: str
    event_at: AwareDatetime


class SkippedChannel(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: Channel
    reason: str


class NotificationTestReport(BaseModel):
    """`POST /options/notification-settings/test`: what was queued; a channel that refuses the
    message shows its `error` on `GET /options/notification-settings` a few seconds later."""

    model_config = ConfigDict(frozen=True)

    test_id: str
    queued: list[Channel] = Field(description="channels a test message is on its way to")
    skipped: list[SkippedChannel] = Field(default=[], description="channels with nothing to send")
    at: AwareDatetime
