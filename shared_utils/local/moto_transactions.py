"""moto's TransactWriteItems copies the whole table once per item of the transaction (its rollback
snapshot), so a 20-item transaction on a table of a few thousand items costs 20 full copies. The
platform writes a run's claims and its outcomes in one transaction each, which made every moto
request of the local platform and the tests slower the longer a session ran. `install()` keeps
moto's rollback exactly as it is but takes one snapshot per table per transaction (the copies
it took were identical). Only the embedded backend and the tests use it; AWS is not involved.
"""

from __future__ import annotations

import copy
import functools
import threading
from types import SimpleNamespace
from typing import Any

from moto.dynamodb import models

_snapshots = threading.local()


def _deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    taken: dict[int, Any] | None = getattr(_snapshots, "taken", None)
    if taken is None or not isinstance(value, models.Table):
        return copy.deepcopy(value, memo)
    if id(value) not in taken:
        taken[id(value)] = copy.deepcopy(value)
    return taken[id(value)]


def install() -> None:
    """Idempotent; safe with moto's threaded server (the snapshots are per thread)."""
    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "one_snapshot_per_table", False):
        return
    original = backend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        _snapshots.taken = {}
        try:
            original(self, transact_items)
        finally:
            _snapshots.taken = None

    transact_write_items.one_snapshot_per_table = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models.copy = SimpleNamespace(deepcopy=_deepcopy, copy=copy.copy)  # type: ignore[assignment]
