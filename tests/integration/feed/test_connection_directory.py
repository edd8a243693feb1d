"""One contract for both connection directories: the connections table the deployed WebSocket
API's routes keep, and the registry of the local platform's own WebSocket server."""

from __future__ import annotations

from typing import Any

import pytest

from shared_utils.feed.connections import ConnectionDirectory, ConnectionRegistry, ConnectionStore


@pytest.fixture(params=["table", "registry"])
def directory(request: pytest.FixtureRequest) -> ConnectionDirectory:
    if request.param == "registry":
        return ConnectionRegistry()
    aws: dict[str, Any] = request.getfixturevalue("aws")
    return ConnectionStore(aws["dynamodb"], aws["settings"].feed_connections_table_name)


def test_connections_are_kept_per_user(directory: ConnectionDirectory, platform_clock: Any) -> None:
    now = platform_clock.now()
    directory.add("alice", "a-1", now)
    directory.add("alice", "a-2", now)
    directory.add("bob", "b-1", now)
    directory.add("alice", "a-1", now)  # API Gateway's $connect delivered twice
    assert sorted(directory.of_user("alice")) == ["a-1", "a-2"]
    assert directory.of_user("carol") == []
    assert {user: sorted(ids) for user, ids in directory.everyone().items()} == {
        "alice": ["a-1", "a-2"],
        "bob": ["b-1"],
    }


def test_a_removed_connection_is_gone_and_removing_twice_is_harmless(
    directory: ConnectionDirectory, platform_clock: Any
) -> None:
    directory.add("alice", "a-1", platform_clock.now())
    directory.remove("alice", "a-1")
    directory.remove("alice", "a-1")
    directory.remove("bob", "never-there")
    directory.remove("bob", "a-1")  # another user's connection id: nothing of alice's moves
    assert directory.of_user("alice") == [] and directory.everyone() == {}
