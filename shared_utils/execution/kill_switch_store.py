"""Kill switches: the user's (`USER#{user}` / `KILL_SWITCH`) and the platform-wide one; ARMED when
never pressed. Read before every entry order, and by the minute's check in batches."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from shared_utils import keys
from shared_utils.execution.history_table import HistoryTable
from shared_utils.execution.models import KillSwitchOperation, KillSwitchState, KillSwitchView
from shared_utils.models.items import deserialize, serialize
from shared_utils.repository.paging import BATCH_GET_ATTEMPTS, BATCH_GET_LIMIT
from shared_utils.repository.transactions import condition_lost


class KillSwitchStore(HistoryTable):
    def kill_switch(self, user_id: str | None) -> KillSwitchView:
        """The user's switch (`user_id`) or the global one (None); ARMED when never pressed."""
        pk = keys.user_pk(user_id) if user_id else keys.GLOBAL_KILL_SWITCH_PK
        scope = "USER" if user_id else "GLOBAL"
        response = self._client.get_item(
            TableName=self._table, Key=self._key(pk, keys.KILL_SWITCH_SK), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return KillSwitchView(scope=scope, state=KillSwitchState.ARMED)
        data = deserialize(item)
        return KillSwitchView.model_validate(
            {k: v for k, v in data.items() if k in KillSwitchView.model_fields}
        )

    def kill_switches(self, user_id: str) -> tuple[KillSwitchView, KillSwitchView]:
        """The user's and the global switch in one request (checked before every entry)."""
        wanted = {keys.user_pk(user_id): "USER", keys.GLOBAL_KILL_SWITCH_PK: "GLOBAL"}
        response = self._client.batch_get_item(
            RequestItems={
                self._table: {
                    "Keys": [self._key(pk, keys.KILL_SWITCH_SK) for pk in wanted],
                    "ConsistentRead": True,
                }
            }
        )
        found: dict[str, KillSwitchView] = {}
        for raw in response.get("Responses", {}).get(self._table, []):
            data = deserialize(raw)
            found[data["pk"]] = KillSwitchView.model_validate(
                {k: v for k, v in data.items() if k in KillSwitchView.model_fields}
            )
        unprocessed: Any = response.get("UnprocessedKeys") or {}
        for key in unprocessed.get(self._table, {}).get("Keys", []):
            pk = key["pk"]["S"]
            found[pk] = self.kill_switch(user_id if pk != keys.GLOBAL_KILL_SWITCH_PK else None)
        user, everyone = (
            found.get(pk, KillSwitchView(scope=scope, state=KillSwitchState.ARMED))
            for pk, scope in wanted.items()
        )
        return user, everyone

    def pressed_kill_switches(self, user_ids: Iterable[str]) -> tuple[bool, set[str]]:
        """Is the global switch pressed, and which of these users' switches are (the minute's
        check closes what they still hold), in batched reads of up to 100 switches."""
        pks = [keys.GLOBAL_KILL_SWITCH_PK, *dict.fromkeys(keys.user_pk(user) for user in user_ids)]
        pressed: set[str] = set()
        for start in range(0, len(pks), BATCH_GET_LIMIT):
            pending = [self._key(pk, keys.KILL_SWITCH_SK) for pk in pks[start : start + BATCH_GET_LIMIT]]
            for _attempt in range(BATCH_GET_ATTEMPTS):
                response = self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": pending, "ConsistentRead": True}}
                )
                for raw in response.get("Responses", {}).get(self._table, []):
                    if raw.get("state", {}).get("S") == KillSwitchState.TRIGGERED.value:
                        pressed.add(raw["pk"]["S"])
                unprocessed: Any = response.get("UnprocessedKeys") or {}
                pending = unprocessed.get(self._table, {}).get("Keys", [])
                if not pending:
                    break
            for key in pending:  # still throttled after the retries: one at a time
                pk = key["pk"]["S"]
                switch = self.kill_switch(
                    None if pk == keys.GLOBAL_KILL_SWITCH_PK else pk.removeprefix(keys.USER_PREFIX)
                )
                if switch.state is KillSwitchState.TRIGGERED:
                    pressed.add(pk)
        everyone = keys.GLOBAL_KILL_SWITCH_PK in pressed
        return everyone, {user for user in user_ids if keys.user_pk(user) in pressed}

    def set_kill_switch(self, user_id: str | None, view: KillSwitchView) -> None:
        pk = keys.user_pk(user_id) if user_id else keys.GLOBAL_KILL_SWITCH_PK
        item = serialize({"pk": pk, "sk": keys.KILL_SWITCH_SK, "entity": "KILL_SWITCH", **view.model_dump()})
        self._client.put_item(TableName=self._table, Item=item)

    # ------------------------------------------------------------------ operations

    @staticmethod
    def _operation_pk(user_id: str | None) -> str:
        return keys.user_pk(user_id) if user_id else keys.GLOBAL_KILL_SWITCH_PK

    def start_operation(self, user_id: str | None, operation: KillSwitchOperation) -> None:
        """The press's progress record (replacing the previous press's)."""
        data = operation.model_dump(exclude={"positions_left", "flat"})
        item = serialize({"pk": self._operation_pk(user_id), "sk": keys.KILL_OPERATION_SK, **data})
        self._client.put_item(TableName=self._table, Item=item)

    def operation(self, user_id: str | None) -> KillSwitchOperation | None:
        response = self._client.get_item(
            TableName=self._table,
            Key=self._key(self._operation_pk(user_id), keys.KILL_OPERATION_SK),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        data = deserialize(item)
        return KillSwitchOperation.model_validate(
            {k: v for k, v in data.items() if k in KillSwitchOperation.model_fields}
        )

    def count_operation(self, user_id: str | None, operation_id: str, **increments: int) -> None:
        """Add to the press's counters (one request); a newer press has replaced it: nothing."""
        names = {f"#{name}": name for name in increments}
        values: dict[str, Any] = {f":{name}": {"N": str(value)} for name, value in increments.items()}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(self._operation_pk(user_id), keys.KILL_OPERATION_SK),
                UpdateExpression="ADD " + ", ".join(f"#{name} :{name}" for name in increments),
                ConditionExpression="operation_id = :operation",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":operation": {"S": operation_id}},
            )
        except ClientError as error:
            if not condition_lost(error):
                raise
