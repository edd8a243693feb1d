"""The composition root of a process that runs every handler itself (the local platform,
`simulate`, the tests): the deployed root, with the in-process run queue handed in."""

from __future__ import annotations

from typing import Any

from local_platform.feed import LocalFeedServer, NoWebSocketServer
from local_platform.notifications import LocalNotificationQueue, MemoryOutbox
from local_platform.run_queue import LocalRunQueue
from local_platform.timer import FollowUps
from shared_utils.clock import Clock
from shared_utils.composition import Platform
from shared_utils.settings import RuntimeSettings


def one_process_root(
    settings: RuntimeSettings,
    clock: Clock,
    *,
    wait_for_runs: bool,
    feed: LocalFeedServer | None = None,
    notification_outbox: MemoryOutbox | None = None,
    **clients: Any,
) -> Platform:
    """`wait_for_runs`: a sender returns once what it queued has run (tests, `simulate`, a
    clock faster than real time); the local platform on the wall clock lets its timer go on.
    Events a handler publishes wait in `FollowUps` for the local publisher to deliver; the feed
    goes to `feed`'s connections (the local platform's WebSocket server; without one, the
    connections table's, to which this process sends nothing). Notifications wait in a local
    queue (delivered once it is started, or by a test) and e-mail goes to `notification_outbox`
    (an outbox in memory by default), as does Telegram unless the settings name its API."""
    queue = LocalRunQueue(workers=settings.local_run_workers, wait_on_send=wait_for_runs)
    return Platform(
        settings,
        clock,
        one_process=True,
        run_queue=queue,
        announcer=FollowUps(),
        feed_sender=feed or NoWebSocketServer(),
        feed_directory=feed.directory if feed is not None else None,
        notification_queue=LocalNotificationQueue(),
        notification_outbox=notification_outbox or MemoryOutbox(clock),
        **clients,
    )
