"""Delivery marks: what makes a redelivered notification a no-op.

One item per dedupe key in the idempotency table (`id` = `NOTIFICATION#{key}`, gone after
`expiration` by TTL):

1. Before sending, the sender claims the key: a conditional put of `SENDING` with a lease, which
   succeeds only if there is no mark, the mark has expired, or an earlier claim's lease ran out
   (its sender died). A copy that finds `SENT` or `FAILED` is done without sending; one that
   finds a live `SENDING` is retried after the lease.
2. After the channel answered: `SENT` (or `FAILED` for a refusal for good). A transient failure
   deletes the claim, so the retry can claim again at once.

The at-least-once window: a message the channel accepted whose `SENT` never got written (the
sender died, or DynamoDB failed, in the milliseconds between), or a send that timed out after
the channel had taken it, is sent again when the lease expires. Nothing else sends twice.

Powertools' idempotency utility does steps 1-2 too, but it reads the process clock, needs the
Lambda context to bound an in-progress record, and has no state for "refused for good"; these
few lines keep the lease explicit, on the platform's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.clock import Clock
from shared_utils.repository.dynamo import condition_lost

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# Longer than a send can take (connect + read timeouts): a live claim is never taken over.
CLAIM_LEASE = timedelta(seconds=60)
# Longer than any copy of a delivery can arrive: the stream keeps records a day, the queue a day,
# and its dead-letter queue (from which an operator may redrive) 14 days.
MARK_TTL = timedelta(days=15)


class MarkState(StrEnum):
    SENDING = "SENDING"
    SENT = "SENT"
    FAILED = "FAILED"  # the channel refused it for good: never resent


@dataclass(frozen=True)
class Claim:
    won: bool
    held: MarkState | None = None  # the mark found when the claim was lost
    retry_in_s: int = 0  # a live claim of another sender: when its lease ends


class DeliveryMarks:
    def __init__(self, client: DynamoDBClient, table_name: str, clock: Clock) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock

    def _key(self, dedupe_key: str) -> dict[str, dict[str, str]]:
        return {"id": {"S": keys.notification_mark_id(dedupe_key)}}

    def claim(self, dedupe_key: str, token: str) -> Claim:
        now = self._clock.now()
        epoch = int(now.timestamp())
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._key(dedupe_key),
                    "status": {"S": MarkState.SENDING.value},
                    "token": {"S": token},
                    "lease_until": {"N": str(int((now + CLAIM_LEASE).timestamp()))},
                    "expiration": {"N": str(int((now + MARK_TTL).timestamp()))},
                },
                # moto never expires items by TTL: an expired mark is as good as none here too.
                ConditionExpression=(
                    "attribute_not_exists(id) OR expiration < :now OR (#s = :sending AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":now": {"N": str(epoch)},
                    ":sending": {"S": MarkState.SENDING.value},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not condition_lost(error):
                raise
            held: dict[str, Any] = dict(error.response.get("Item") or {})  # type: ignore[call-overload]
            state = MarkState(held.get("status", {}).get("S", MarkState.SENDING.value))
            lease_end = int(held.get("lease_until", {}).get("N", epoch))
            return Claim(False, state, max(1, lease_end - epoch + 1))
        return Claim(True)

    def _finish(self, dedupe_key: str, state: MarkState) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._key(dedupe_key),
            UpdateExpression="SET #s = :state, finished_at = :at",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":state": {"S": state.value},
                ":at": {"S": self._clock.now().isoformat()},
            },
        )

    def sent(self, dedupe_key: str) -> None:
        self._finish(dedupe_key, MarkState.SENT)

    def failed(self, dedupe_key: str) -> None:
        self._finish(dedupe_key, MarkState.FAILED)

    def release(self, dedupe_key: str, token: str) -> None:
        """Give a claim back after a transient failure (only our own, still SENDING)."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(dedupe_key),
                ConditionExpression="#s = :sending AND #t = :token",
                ExpressionAttributeNames={"#s": "status", "#t": "token"},
                ExpressionAttributeValues={
                    ":sending": {"S": MarkState.SENDING.value},
                    ":token": {"S": token},
                },
            )
        except ClientError as error:
            if not condition_lost(error):
                raise
