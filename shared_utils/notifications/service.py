"""The preferences as the API changes them, and a test message on every enabled channel.

A PUT replaces the preferences if its `version` is the stored one (409 otherwise). A channel's
recorded error stays while its target is unchanged (the same chat id and token, the same
address): only a test message that gets through, or a new target, clears it.
"""

from __future__ import annotations

import uuid

from shared_utils.clock import Clock
from shared_utils.errors import ConflictError, FieldIssue, ForbiddenError, InvalidInputError
from shared_utils.models.identity import ADMINS_GROUP
from shared_utils.notifications.models import (
    PLATFORM_ALARMS_FIELD,
    Channel,
    Delivery,
    EmailSettings,
    NotificationSettings,
    NotificationSettingsUpdate,
    NotificationTestReport,
    SkippedChannel,
    TelegramSettings,
)
from shared_utils.notifications.queue import NotificationQueue
from shared_utils.notifications.secrets import NotificationSecrets
from shared_utils.notifications.settings_store import NotificationSettingsStore
from shared_utils.notifications.texts import trial_message
from shared_utils.repository.dynamo import CHANGED


class NotificationSettingsService:
    def __init__(
        self,
        store: NotificationSettingsStore,
        secrets: NotificationSecrets,
        queue: NotificationQueue,
        clock: Clock,
        *,
        email_available: bool,
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._queue = queue
        self._clock = clock
        self._email_available = email_available

    def get(self, user_id: str) -> NotificationSettings:
        return self._store.get(user_id)

    def put(
        self, user_id: str, update: NotificationSettingsUpdate, *, is_admin: bool = False
    ) -> NotificationSettings:
        current = self._store.get(user_id)
        if update.version != current.version:
            raise ConflictError(f"notification settings {CHANGED}")
        if update.platform_alarms and not is_admin:
            raise ForbiddenError(
                f"platform alarms are for the {ADMINS_GROUP} group",
                [FieldIssue(PLATFORM_ALARMS_FIELD, f"only the {ADMINS_GROUP} group may switch it on")],
            )
        if update.email is not None and not self._email_available:
            raise InvalidInputError(
                "E-mail notifications are not available on this platform",
                [FieldIssue("email", "no e-mail sender is configured here; use Telegram or the console")],
            )
        telegram: TelegramSettings | None = None
        new_token = None
        if update.telegram is not None:
            held = current.telegram
            new_token = update.telegram.bot_token.get_secret_value() if update.telegram.bot_token else None
            if new_token is None and not (held and held.bot_token_set):
                raise InvalidInputError(
                    "A bot token is needed for Telegram",
                    [FieldIssue("telegram.bot_token", "required: no bot token is stored yet")],
                )
            same = held is not None and held.chat_id == update.telegram.chat_id and new_token is None
            telegram = TelegramSettings(
                enabled=update.telegram.enabled,
                chat_id=update.telegram.chat_id,
                bot_token_set=True,
                error=held.error if same and held else None,
            )
        email = None
        if update.email is not None:
            held_email = current.email
            same_address = held_email is not None and held_email.address == update.email.address
            email = EmailSettings(
                enabled=update.email.enabled,
                address=update.email.address,
                error=held_email.error if same_address and held_email else None,
            )
        settings = NotificationSettings(
            user_id=user_id,
            version=update.version + 1,
            events=update.events,
            telegram=telegram,
            email=email,
            console=update.console,
            platform_alarms=update.platform_alarms,
            updated_at=self._clock.now(),
        )
        if new_token is not None:
            self._secrets.put_bot_token(user_id, new_token)
        self._store.put(settings, update.version)
        if telegram is None and current.telegram is not None:
            self._secrets.delete(user_id)
        return settings

    def test(self, user_id: str) -> NotificationTestReport:
        """Queue a test message on each enabled channel (whatever events are chosen, and even on
        a channel with an error: a test that gets through clears it)."""
        settings = self._store.get(user_id)
        now = self._clock.now()
        test_id = uuid.uuid4().hex
        rendered = trial_message(now)
        targets = settings.targets(None)
        deliveries = [
            Delivery(
                dedupe_key=f"TEST#{test_id}#{user_id}#{channel.value}",
                user_id=user_id,
                channel=channel,
                kind=None,
                target=target,
                settings_version=settings.version,
                subject=rendered.subject,
                text=rendered.text,
                event_at=now,
            )
            for channel, target in targets.items()
        ]
        self._queue.send(deliveries)
        skipped = [
            SkippedChannel(channel=Channel.CONSOLE, reason="the console's live feed shows every event")
        ]
        if Channel.TELEGRAM not in targets:
            skipped.append(
                SkippedChannel(channel=Channel.TELEGRAM, reason=_why_not(settings, Channel.TELEGRAM))
            )
        if Channel.EMAIL not in targets:
            skipped.append(SkippedChannel(channel=Channel.EMAIL, reason=_why_not(settings, Channel.EMAIL)))
        return NotificationTestReport(test_id=test_id, queued=list(targets), skipped=skipped, at=now)


def _why_not(settings: NotificationSettings, channel: Channel) -> str:
    held = settings.telegram if channel is Channel.TELEGRAM else settings.email
    if held is None:
        return "not set up"
    return "disabled"
