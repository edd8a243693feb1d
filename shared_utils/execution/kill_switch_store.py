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
from shared_utils.repository.dynamo import condition_lost


def _view(raw: dict[str, Any]) -> KillSwitchView:
    data = deserialize(raw)
    return KillSwitchView.model_validate({k: v for k, v in data.items() if k in KillSwitchView.model_fields})


class KillSwitchStore(HistoryTable):
    def kill_switch(self, user_id: str | None) -> KillSwitchView:
        """The user's switch (`user_id`) or the global one (None); ARMED when never pressed."""
        pk = keys.user_pk(user_id) if user_id else keys.GLOBAL_KILL_SWITCH_PK
        scope = "USER" if user_id else "GLOBAL"
        item = self._get(pk, keys.KILL_SWITCH_SK)
        return _view(item) if item else KillSwitchView(scope=scope, state=KillSwitchState.ARMED)

    def kill_switches(self, user_id: str) -> tuple[KillSwitchView, KillSwitchView]:
        """The user's and the global switch in one request (checked before every entry)."""
        wanted = {keys.user_pk(user_id): "USER", keys.GLOBAL_KILL_SWITCH_PK: "GLOBAL"}
        found = {
            raw["pk"]["S"]: _view(raw)
            for raw in self._batch_get(self._key(pk, keys.KILL_SWITCH_SK) for pk in wanted)
        }
        user, everyone = (
            found.get(pk, KillSwitchView(scope=scope, state=KillSwitchState.ARMED))
            for pk, scope in wanted.items()
        )
        return user, everyone

    def pressed_kill_switches(self, user_ids: Iterable[str]) -> tuple[bool, set[str]]:
        """Is the global switch pressed, and which of these users' switches are (the minute's
        check closes what they still hold), in batched reads of up to 100 switches."""
        pks = [keys.GLOBAL_KILL_SWITCH_PK, *dict.fromkeys(keys.user_pk(user) for user in user_ids)]
        pressed = {
            raw["pk"]["S"]
            for raw in self._batch_get(self._key(pk, keys.KILL_SWITCH_SK) for pk in pks)
            if raw.get("state", {}).get("S") == KillSwitchState.TRIGGERED.value
        }
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
