"""The execution-history table under the execution stores (one client, one table, the toolkit of
`repository.dynamo`). Key layout in `shared_utils.keys` (execution section)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared_utils.repository.dynamo import DynamoTable


def utc(instant: datetime) -> str:
    """The instant as sort keys hold it (UTC ISO 8601: they order as the instants do)."""
    return instant.astimezone(UTC).isoformat()


class HistoryTable(DynamoTable):
    """The base of every execution store (ledger, runs, positions, kill switches)."""
