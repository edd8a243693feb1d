"""The broadcaster and the $connect/$disconnect routes on the connections table (moto): a message
goes to its own user's open connections only, a gone connection (410) is removed on the spot, a
failing one costs the others nothing."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from lambda_functions.option_baskets import FEED_CONNECTIONS, load_handler
from shared_utils.execution.models import KillSwitchState, KillSwitchView
from shared_utils.feed.broadcaster import Broadcaster, ConnectionGone
from shared_utils.feed.connections import TTL, ConnectionStore
from shared_utils.feed.messages import KillSwitchMessage
from shared_utils.feed.translate import Delivery
from tests.integration.api.conftest import FakeLambdaContext


class Sender:
    """Records frames per connection; `gone` ones answer 410, `broken` ones fail otherwise."""

    def __init__(self, gone: set[str] = frozenset(), broken: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.frames: dict[str, list[bytes]] = defaultdict(list)
        self.gone, self.broken = gone, broken

    def send(self, connection_id: str, payload: bytes) -> None:
        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        if connection_id in self.broken:
            raise TimeoutError("read timed out")
        self.frames[connection_id].append(payload)


@pytest.fixture
def connections(aws: dict[str, Any]) -> ConnectionStore:
    return ConnectionStore(aws["dynamodb"], aws["settings"].feed_connections_table_name)


def switch(user: str | None, clock: Any) -> Delivery:
    view = KillSwitchView(
        scope="USER" if user else "GLOBAL", state=KillSwitchState.TRIGGERED, triggered_at=clock.now()
    )
    return Delivery(user, KillSwitchMessage(at=clock.now(), data=view))


def connect(route: str, connection_id: str, user: str | None) -> dict[str, Any]:
    event = {
        "requestContext": {
            "routeKey": route,
            "connectionId": connection_id,
            "authorizer": {"sub": user} if user else {},
        }
    }
    return load_handler(FEED_CONNECTIONS)(event, FakeLambdaContext())


def test_connect_and_disconnect_keep_the_table_true(
    aws: dict[str, Any], connections: ConnectionStore
) -> None:
    assert connect("$connect", "c-1", "alice")["statusCode"] == 200
    assert connect("$connect", "c-2", "alice")["statusCode"] == 200
    assert sorted(connections.of_user("alice")) == ["c-1", "c-2"]
    assert connect("$disconnect", "c-1", "alice")["statusCode"] == 200
    assert connections.of_user("alice") == ["c-2"]
    assert connect("$connect", "c-3", None)["statusCode"] == 401  # no authorizer context: never stored
    assert connections.everyone() == {"alice": ["c-2"]}
    item = aws["dynamodb"].get_item(
        TableName=aws["settings"].feed_connections_table_name,
        Key={"user_id": {"S": "alice"}, "connection_id": {"S": "c-2"}},
    )["Item"]
    assert int(item["expires_at"]["N"]) == int((aws["clock"].now() + TTL).timestamp())  # DynamoDB's TTL


def test_a_message_reaches_only_its_users_connections(
    aws: dict[str, Any], connections: ConnectionStore
) -> None:
    clock = aws["clock"]
    for user, connection in (("alice", "a-1"), ("alice", "a-2"), ("bob", "b-1")):
        connections.add(user, connection, clock.now())
    sender = Sender()
    report = Broadcaster(connections, sender, clock).deliver([switch("alice", clock)])
    assert (report.messages, report.sent, report.gone, report.failed) == (1, 2, 0, 0)
    assert set(sender.frames) == {"a-1", "a-2"}
    everyone = Broadcaster(connections, sender, clock).deliver([switch(None, clock)])
    assert everyone.sent == 3 and set(sender.frames) == {"a-1", "a-2", "b-1"}


def test_a_gone_connection_is_removed_and_a_failing_one_costs_the_others_nothing(
    aws: dict[str, Any], connections: ConnectionStore
) -> None:
    clock = aws["clock"]
    for connection in ("ok", "gone", "broken"):
        connections.add("alice", connection, clock.now())
    sender = Sender(gone={"gone"}, broken={"broken"})
    report = Broadcaster(connections, sender, clock).deliver([switch("alice", clock), switch("alice", clock)])
    assert (report.sent, report.gone, report.failed) == (2, 1, 2)
    assert len(sender.frames["ok"]) == 2
    assert sorted(connections.of_user("alice")) == ["broken", "ok"]


def test_marks_read_no_position_when_nobody_is_connected(
    aws: dict[str, Any], connections: ConnectionStore
) -> None:
    def positions() -> list[Any]:
        raise AssertionError("positions read with nobody connected")

    report = Broadcaster(connections, Sender(), aws["clock"]).marks(positions, lambda instrument: None)  # type: ignore[arg-type]
    assert report.messages == 0
