"""DynamoDB in this process: moto's in-memory backend without its HTTP server, for a run that
needs no other process to see its tables (`simulate` on its own, benches, tests).

Through the server, every request is an HTTP/1.0 exchange (a new connection and thread each) and
a JSON round trip on both sides; in process it is a function call. In-process moto is not
thread-safe, though: a conditional write is checked and applied in two steps, so two threads could
both win one. `SerializedClient` puts one lock around every call of every wrapper of one client,
as DynamoDB makes each conditional write atomic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from moto import mock_aws

from local_platform import moto_memory, moto_queries, moto_serialization, moto_transactions
from local_platform.environment import REGION

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class SerializedClient:
    _locks: ClassVar[dict[int, threading.Lock]] = {}
    _guard = threading.Lock()

    def __init__(self, client: Any) -> None:
        self._client = client
        with SerializedClient._guard:
            self._lock = SerializedClient._locks.setdefault(id(client), threading.Lock())

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


@contextmanager
def in_process_dynamodb() -> Iterator[DynamoDBClient]:
    """A serialised client of a fresh in-memory backend, for the duration of the block."""
    moto_transactions.install()
    moto_memory.install()
    moto_serialization.install()
    moto_queries.install()
    with mock_aws():
        # Unsigned: moto checks no signature, and SigV4 cost a fifth of an in-process request.
        unsigned = Config(signature_version=UNSIGNED)
        client: Any = SerializedClient(boto3.client("dynamodb", region_name=REGION, config=unsigned))
        yield client
