"""The user's notification preferences: GET and PUT /options/notification-settings, and POST
/options/notification-settings/test (docs/notifications.md)."""

from __future__ import annotations

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from shared_utils.api.errors import route_responses
from shared_utils.api.identity import Caller
from shared_utils.api.routing import route
from shared_utils.composition import platform
from shared_utils.notifications.models import (
    NotificationSettings,
    NotificationSettingsUpdate,
    NotificationTestReport,
)

router = Router()
TAGS = ["notification-settings"]


@route(
    router,
    "getNotificationSettings",
    summary="My notification preferences: channels, events, and a channel's error",
    description=(
        "Telegram (chat id; `bot_token_set` says whether a bot token is stored, never the token), e-mail "
        "and the console's live feed, and the events sent on them (version 0: never set, the defaults). A "
        "channel that refused a message for good (a wrong chat id, a blocked bot, a rejected address) shows "
        "its `error` and gets nothing more until its target changes or a test message gets through."
    ),
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK),
)
def get_notification_settings(caller: Caller) -> NotificationSettings:
    return platform().notification_settings.get(caller.user_id)


@route(
    router,
    "updateNotificationSettings",
    summary="Set my notification preferences",
    description=(
        "Replaces the preferences; `version` must be the current one (0 before the first PUT; 409 "
        "otherwise). `telegram.bot_token` is write-only: omitted, the stored token is kept (needed the first "
        "time); `telegram: null` removes Telegram and deletes its token. A bad chat id, token or address is "
        "a 422 naming the field. `platform_alarms` (the platform's CloudWatch alarms) is for the Admins "
        "group: a non-admin's `true` is a 403 `FORBIDDEN` naming the field."
    ),
    tags=TAGS,
    responses=route_responses(HTTPStatus.OK, HTTPStatus.CONFLICT, HTTPStatus.FORBIDDEN, body=True),
)
def update_notification_settings(caller: Caller, data: NotificationSettingsUpdate) -> NotificationSettings:
    return platform().notification_settings.put(caller.user_id, data, is_admin=caller.is_admin)


@route(
    router,
    "testNotificationSettings",
    summary="Send a test message on each enabled channel",
    description=(
        "Answers 202 with the channels a test message is queued for (Telegram and e-mail; the console "
        "needs none). It goes the way every notification goes, retried while a channel is down; a channel "
        "that refuses it shows the `error` on GET a few seconds later, and one that accepts it loses its "
        "recorded error."
    ),
    tags=TAGS,
    status_code=HTTPStatus.ACCEPTED,
    responses=route_responses(HTTPStatus.ACCEPTED),
)
def send_test_notification(caller: Caller) -> NotificationTestReport:
    return platform().notification_settings.test(caller.user_id)
