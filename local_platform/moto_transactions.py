"""moto's TransactWriteItems snapshots the whole table once per item of the transaction, to roll
back a cancelled one: a run's two transactions on a history table of a few thousand items then
cost more than the forty single writes they replace, and every moto request of the local
platform and the tests grew slower the longer a session ran.

`install()` keeps moto's transaction semantics (all or nothing, the same cancellation reasons) but
snapshots only the items the transaction names: moto's own table copies become no-ops for the
duration of the call, and when it fails, each named item is put back as it was (or deleted, if it
did not exist). Only the embedded backend and the tests use it; AWS is not involved.
"""

from __future__ import annotations

import copy
import functools
import threading
from types import SimpleNamespace
from typing import Any

from moto.dynamodb import models

_inside = threading.local()


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    if getattr(_inside, "transaction", False) and isinstance(value, models.Table):
        return value  # moto's whole-table snapshot: the named items are kept instead
    return copy.deepcopy(value, memo)


def _named_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    named = []
    for item in transact_items:
        for operation in item.values():
            table = backend.get_table(operation["TableName"])
            if "Key" in operation:
                key = operation["Key"]
            else:
                attrs = operation["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            named.append((operation["TableName"], key))
    return named


def install() -> None:
    """Idempotent; safe with moto's threaded server (the flag is per thread)."""
    backend_class = models.DynamoDBBackend
    if getattr(backend_class.transact_write_items, "snapshots_named_items", False):
        return
    original = backend_class.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            before = []
            for table_name, key in _named_items(self, transact_items):
                found = self.get_item(table_name, key)
                before.append(
                    (table_name, key, copy.deepcopy(found.to_json()["Attributes"]) if found else None)
                )
        except Exception:  # a malformed request, a missing table: moto's own path reports it
            original(self, transact_items)
            return
        _inside.transaction = True
        try:
            original(self, transact_items)
        except Exception:
            _inside.transaction = False
            for table_name, key, attrs in before:
                if attrs is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attrs)
            raise
        finally:
            _inside.transaction = False

    transact_write_items.snapshots_named_items = True  # type: ignore[attr-defined]
    backend_class.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models.copy = SimpleNamespace(deepcopy=_deepcopy, copy=copy.copy)  # type: ignore[assignment]
