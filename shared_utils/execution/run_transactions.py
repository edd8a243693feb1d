"""A run's writes in two transactions when nothing stands in its way.

Before the first broker call (`begin_run`): the run item, already on the retry sweep's list (a
process that dies mid-run leaves it there), every ledger entry the run will place, and for an
entry the checks it must pass (no kill switch pressed, no exit of the day yet). After the last
(`finish_run`): every outcome, the positions the fills move (one update per position, guarded by
the order keys it counted), the entries of orders never attempted taken back, the history record
and the retry flag.

A failed condition cancels a transaction whole, so nothing of it is written: the engine then
takes the one-write-per-step path (`claim`, `record`, `put_record` ...), which reads the state
and handles every case (a retry, a refusal, a fill already counted). Exactly-once holds either
way: every entry is written before its order goes to the broker, and an entry left PENDING by a
crash is reconciled by its tag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from shared_utils import keys
from shared_utils.errors import ConflictError
from shared_utils.execution.ledger_store import LedgerStore, OutcomeWrite, ledger_item
from shared_utils.execution.models import (
    ExecutionPlan,
    ExecutionRecord,
    KillSwitchState,
    LedgerEntry,
    LedgerStatus,
    ScheduleKind,
)
from shared_utils.execution.run_names import refused_after
from shared_utils.execution.run_store import RunStore, record_item, record_key, run_item

TRANSACTION_LIMIT = 100  # TransactWriteItems' maximum items
ENTRY_CHECKS = 3  # the user's and the global kill switch, the day's exit


class RunTransactions(LedgerStore, RunStore):
    def begin_run(
        self, plan: ExecutionPlan, started_at: datetime, entries: Sequence[LedgerEntry]
    ) -> str | None:
        """Start the run's first attempt and claim `entries` together; the record key, or None
        when the transaction was cancelled (a retry, a claim already there, a kill switch or
        the day's exit for an entry) and nothing was written."""
        if len(entries) + 1 + ENTRY_CHECKS > TRANSACTION_LIMIT:
            return None
        record_sk = record_key(plan, started_at)
        items: list[dict] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": run_item(plan, record_sk, retry=True),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        items += [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": ledger_item(entry, plan.trade_date),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for entry in entries
        ]
        if plan.action is ScheduleKind.ENTRY:
            for pk in (keys.user_pk(plan.user_id), keys.GLOBAL_KILL_SWITCH_PK):
                items.append(
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": self._key(pk, keys.KILL_SWITCH_SK),
                            "ConditionExpression": "attribute_not_exists(pk) OR #state <> :pressed",
                            "ExpressionAttributeNames": {"#state": "state"},
                            "ExpressionAttributeValues": {":pressed": {"S": KillSwitchState.TRIGGERED.value}},
                        }
                    }
                )
            exit_sk = keys.run_sk(plan.trade_date, plan.strategy_id, refused_after(plan.run_name))
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": self._key(keys.user_pk(plan.user_id), exit_sk),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        return record_sk if self._committed(items) else None

    def finish_run(
        self,
        plan: ExecutionPlan,
        writes: Sequence[OutcomeWrite],
        unclaimed: Sequence[LedgerEntry],
        record: ExecutionRecord | None,
        record_sk: str,
        *,
        retry: bool,
        now: datetime,
        open_nets: Mapping[str, int] | None = None,
    ) -> list[LedgerEntry] | None:
        """Store the run's outcomes, positions, record and retry flag together; the stored
        entries (in `writes` order), or None when cancelled (nothing written). `open_nets`: the
        net quantity of each position the run read before closing it, so a position these fills
        close leaves the open-positions index in the same write. `record` None: stored later by
        the caller."""
        items: list[dict] = []
        stored: list[LedgerEntry] = []
        for write in writes:
            update, entry = self._outcome_update(write, now)
            items.append({"Update": update})
            stored.append(entry)
        opening = plan.action is ScheduleKind.ENTRY
        by_position: dict[str, list[OutcomeWrite]] = {}
        for write in writes:
            if write.moves_position:
                by_position.setdefault(write.order.position_sk, []).append(write)
        for position_sk, fills in by_position.items():
            flat_from = None if opening or open_nets is None else open_nets.get(position_sk)
            items.append(
                {
                    "Update": self._position_update(
                        fills, plan.user_id, plan.strategy_id, opening, now, flat_from=flat_from
                    )
                }
            )
        for entry in unclaimed:
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": self._key(keys.user_pk(entry.user_id), keys.ledger_sk(entry.order_key)),
                        "ConditionExpression": "attempt = :attempt AND #status = :pending",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {
                            ":attempt": {"N": str(entry.attempt)},
                            ":pending": {"S": LedgerStatus.PENDING.value},
                        },
                    }
                }
            )
        if record is not None:  # an exit's record waits for the realised P&L of its positions
            items.append({"Put": {"TableName": self._table, "Item": record_item(record, record_sk)}})
        if not retry:
            run_key = self._key(
                keys.user_pk(plan.user_id), keys.run_sk(plan.trade_date, plan.strategy_id, plan.run_name)
            )
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": run_key,
                        "UpdateExpression": "REMOVE gsi1pk, gsi1sk",
                    }
                }
            )
        if len(items) > TRANSACTION_LIMIT:
            return None
        return stored if self._committed(items) else None

    def _committed(self, items: list[dict]) -> bool:
        """Any cancellation (a failed condition, or another transaction in flight on an item)
        wrote nothing: the engine then takes the step-by-step path."""
        try:
            return self._transact(items, raise_on_cancel=False) is None
        except ConflictError:
            return False
