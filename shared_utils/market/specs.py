"""Contract specifications as effective-dated data, keyed by contract expiry.

A lot revision applies to later expiries while listed contracts keep their lot, so the spec
belongs to the contract: `spec_for(underlying, expiry)`. A new circular is a row in
`data/contract_specs.json`, not a code change.
"""

from __future__ import annotations

import calendar as _cal
import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import cache
from importlib import resources
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from shared_utils.errors import ConfigurationError
from shared_utils.market.underlyings import Exchange, Underlying
from shared_utils.market.weekdays import Weekday

_DATA_FILE = "contract_specs.json"


class MonthlyRule(BaseModel):
    """When the monthly contract expires (nominally, before any holiday shift)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["last_weekday_of_month"]
    weekday: Weekday

    def nominal_expiry(self, year: int, month: int) -> date:
        last = date(year, month, _cal.monthrange(year, month)[1])
        return last - timedelta(days=(last.weekday() - self.weekday.iso_index) % 7)


class ContractSpec(BaseModel):
    """The specification of index option contracts expiring in [expiry_from, expiry_to].

    `unknown_freeze_quantity_lots` is the data file's conservative slice size for a null
    `freeze_quantity`: a missing datum must never let an unsliced order through."""

    model_config = ConfigDict(frozen=True)

    underlying: Underlying
    exchange: Exchange
    lot_size: PositiveInt
    strike_step: float = Field(gt=0)
    strike_step_source: str
    freeze_quantity: PositiveInt | None
    freeze_quantity_source: str
    unknown_freeze_quantity_lots: PositiveInt
    weekly_expiry_weekday: Weekday | None
    monthly_rule: MonthlyRule
    expiry_from: date
    expiry_to: date | None
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _freeze_allows_a_lot(self) -> ContractSpec:
        """A freeze quantity below one lot would allow no order at all: a data error."""
        if self.freeze_quantity is not None and self.freeze_quantity < self.lot_size:
            raise ValueError(
                f"{self.underlying} freeze quantity {self.freeze_quantity} is below one lot ({self.lot_size})"
            )
        return self

    def covers(self, expiry: date) -> bool:
        return self.expiry_from <= expiry and (self.expiry_to is None or expiry <= self.expiry_to)

    @property
    def has_weekly(self) -> bool:
        return self.weekly_expiry_weekday is not None

    @property
    def max_lots_per_order(self) -> int:
        """Lots in the largest single order: the freeze quantity's whole lots, or the conservative
        default when the freeze quantity is unknown (never unlimited)."""
        if self.freeze_quantity is None:
            return self.unknown_freeze_quantity_lots
        return self.freeze_quantity // self.lot_size

    @property
    def max_quantity_per_order(self) -> int:
        """Units in the largest single order (for closing a quantity that is not whole lots)."""
        if self.freeze_quantity is None:
            return self.unknown_freeze_quantity_lots * self.lot_size
        return self.freeze_quantity


class SpecTable:
    """All specs, validated once: per underlying the ranges are contiguous and never overlap,
    so exactly one spec applies to every covered contract."""

    def __init__(self, specs: Sequence[ContractSpec]) -> None:
        by_underlying: dict[Underlying, list[ContractSpec]] = {}
        for spec in specs:
            by_underlying.setdefault(spec.underlying, []).append(spec)
        for underlying, rows in by_underlying.items():
            rows.sort(key=lambda s: s.expiry_from)
            for earlier, later in pairwise(rows):
                if earlier.expiry_to is None or earlier.expiry_to + timedelta(days=1) != later.expiry_from:
                    raise ConfigurationError(
                        f"{underlying} specs are not contiguous after {earlier.expiry_from.isoformat()}"
                    )
            for row in rows:
                if row.expiry_to is not None and row.expiry_to < row.expiry_from:
                    raise ConfigurationError(f"{underlying} spec ends before it starts: {row.expiry_from}")
        self._rows = by_underlying

    def underlyings(self) -> tuple[Underlying, ...]:
        return tuple(u for u in Underlying if u in self._rows)

    def rows(self, underlying: Underlying | str) -> tuple[ContractSpec, ...]:
        return tuple(self._rows[self._underlying(underlying)])

    def covered_range(self, underlying: Underlying | str) -> tuple[date, date | None]:
        rows = self._rows[self._underlying(underlying)]
        return rows[0].expiry_from, rows[-1].expiry_to

    def _underlying(self, underlying: Underlying | str) -> Underlying:
        supported = ", ".join(self.underlyings())
        try:
            known = Underlying(str(underlying).upper())
        except ValueError:
            raise ConfigurationError(
                f"unknown index {underlying!r}: supported indices are {supported}"
            ) from None
        if known not in self._rows:
            raise ConfigurationError(f"no contract data for {known}: supported indices are {supported}")
        return known

    def spec_for(self, underlying: Underlying | str, expiry: date) -> ContractSpec:
        known = self._underlying(underlying)
        for spec in self._rows[known]:
            if spec.covers(expiry):
                return spec
        start, end = self.covered_range(known)
        until = end.isoformat() if end is not None else "onwards"
        raise ConfigurationError(
            f"no {known} contract specification for expiry {expiry.isoformat()}: "
            f"data covers expiries {start.isoformat()} {'to ' + until if end else until}"
        )


def load_specs(raw: Mapping[str, Any]) -> SpecTable:
    """A table from the data file's layout: every row gets the file's conservative default for
    an unknown freeze quantity (a row may override it)."""
    default = raw["unknown_freeze_quantity_lots"]
    return SpecTable(
        [
            ContractSpec.model_validate({"unknown_freeze_quantity_lots": default, **row})
            for row in raw["specs"]
        ]
    )


@cache
def default_specs() -> SpecTable:
    """The shipped table (parsed once per cold start)."""
    text = resources.files("shared_utils.market").joinpath("data", _DATA_FILE).read_text(encoding="utf-8")
    return load_specs(json.loads(text))


def spec_for(underlying: Underlying | str, expiry: date) -> ContractSpec:
    """The spec of the contract expiring on `expiry` (the lot to trade it in)."""
    return default_specs().spec_for(underlying, expiry)
