from __future__ import annotations

import json
from datetime import date, timedelta
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_utils.errors import ConfigurationError
from shared_utils.execution.planning import slice_lots
from shared_utils.market.specs import ContractSpec, SpecTable, default_specs, load_specs, spec_for
from shared_utils.market.underlyings import EXCHANGE_OF, Underlying
from shared_utils.market.weekdays import Weekday

TABLE = default_specs()


@pytest.mark.parametrize(
    ("underlying", "expiry", "lot"),
    [
        # 2024-11-20 lots for every expiry from 2025-01-01.
        ("NIFTY", "2025-01-02", 75),
        ("BANKNIFTY", "2025-01-30", 30),
        ("FINNIFTY", "2025-01-30", 65),
        ("MIDCPNIFTY", "2025-01-30", 120),
        ("NIFTYNXT50", "2025-01-30", 25),
        ("SENSEX", "2025-01-03", 20),
        ("BANKEX", "2025-01-28", 30),
        # 2025-04-25 revision: listed contracts keep 30/120 through June, July monthly takes 35/140.
        ("BANKNIFTY", "2025-06-26", 30),
        ("BANKNIFTY", "2025-07-31", 35),
        ("MIDCPNIFTY", "2025-06-26", 120),
        ("MIDCPNIFTY", "2025-07-31", 140),
        # 2025-10-28 revision: December contracts keep the old lot, January 2026 takes the new one.
        ("NIFTY", "2025-12-30", 75),
        ("NIFTY", "2026-01-06", 65),
        ("BANKNIFTY", "2025-12-30", 35),
        ("BANKNIFTY", "2026-01-27", 30),
        ("FINNIFTY", "2025-12-30", 65),
        ("FINNIFTY", "2026-01-27", 60),
        ("MIDCPNIFTY", "2025-12-30", 140),
        ("MIDCPNIFTY", "2026-01-27", 120),
        ("NIFTYNXT50", "2026-01-27", 25),
        ("SENSEX", "2026-01-29", 20),
        ("BANKEX", "2026-01-29", 30),
    ],
)
def test_lot_belongs_to_the_contract_expiry(underlying: str, expiry: str, lot: int) -> None:
    assert spec_for(underlying, date.fromisoformat(expiry)).lot_size == lot


def test_two_nifty_expiries_listed_on_one_trade_date_have_different_lots() -> None:
    # Trade date 2025-12-15 lists both the 2025-12-30 and 2026-01-27 NIFTY contracts.
    assert spec_for("NIFTY", date(2025, 12, 30)).lot_size == 75
    assert spec_for("NIFTY", date(2026, 1, 27)).lot_size == 65


@pytest.mark.parametrize(
    ("underlying", "expiry", "weekly", "monthly"),
    [
        ("NIFTY", "2025-08-28", Weekday.THU, Weekday.THU),
        ("NIFTY", "2025-09-02", Weekday.TUE, Weekday.TUE),
        ("SENSEX", "2025-01-03", Weekday.FRI, Weekday.FRI),
        ("SENSEX", "2025-01-07", Weekday.TUE, Weekday.TUE),
        ("SENSEX", "2025-08-26", Weekday.TUE, Weekday.TUE),
        ("SENSEX", "2025-09-04", Weekday.THU, Weekday.THU),
        ("BANKNIFTY", "2025-01-30", None, Weekday.THU),
        ("BANKNIFTY", "2025-09-30", None, Weekday.TUE),
        ("BANKEX", "2025-01-28", None, Weekday.TUE),
        ("BANKEX", "2025-09-25", None, Weekday.THU),
    ],
)
def test_expiry_weekday_switches(
    underlying: str, expiry: str, weekly: Weekday | None, monthly: Weekday
) -> None:
    spec = spec_for(underlying, date.fromisoformat(expiry))
    assert spec.weekly_expiry_weekday == weekly
    assert spec.monthly_rule.weekday == monthly


def test_freeze_quantities_from_the_instrument_master() -> None:
    nifty, banknifty = spec_for("NIFTY", date(2026, 7, 28)), spec_for("BANKNIFTY", date(2026, 7, 28))
    assert (nifty.freeze_quantity, banknifty.freeze_quantity) == (1756, 601)
    assert (nifty.max_lots_per_order, banknifty.max_lots_per_order) == (27, 20)


def shipped_data() -> dict[str, Any]:
    text = resources.files("shared_utils.market").joinpath("data", "contract_specs.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.mark.parametrize(
    ("underlying", "expiry", "freeze", "lots_per_order"),
    [("SENSEX", date(2026, 1, 29), 1000, 50), ("BANKEX", date(2026, 1, 29), 900, 30)],
)
def test_bse_freeze_quantities_from_the_broker_faq(
    underlying: str, expiry: date, freeze: int, lots_per_order: int
) -> None:
    spec = spec_for(underlying, expiry)
    assert (spec.freeze_quantity, spec.max_lots_per_order) == (freeze, lots_per_order)
    assert "ICICI Direct" in spec.freeze_quantity_source


def test_100_sensex_lots_go_out_in_slices_of_at_most_1000_units() -> None:
    spec = spec_for("SENSEX", date(2026, 12, 31))
    units = [lots * spec.lot_size for lots in slice_lots(100, spec.max_lots_per_order)]
    assert spec.lot_size == 20 and sum(units) == 2000
    assert units == [1000, 1000]


def test_bankex_slices_stay_within_900_units() -> None:
    spec = spec_for("BANKEX", date(2026, 12, 31))
    for lots in (1, 30, 31, 100, 257):
        units = [n * spec.lot_size for n in slice_lots(lots, spec.max_lots_per_order)]
        assert sum(units) == lots * 30 and max(units) <= 900, units


def test_an_unknown_freeze_quantity_still_slices_at_the_conservative_default() -> None:
    data = shipped_data()
    default = data["unknown_freeze_quantity_lots"]
    assert data["unknown_freeze_quantity_note"]
    for row in data["specs"]:
        if row["underlying"] == "SENSEX" and row["expiry_to"] is None:
            row["freeze_quantity"], row["freeze_quantity_source"] = None, "unconfirmed"
    sensex = load_specs(data).spec_for("SENSEX", date(2026, 12, 31))

    assert sensex.freeze_quantity is None
    assert sensex.max_lots_per_order == default
    assert sensex.max_quantity_per_order == default * 20
    slices = slice_lots(100, sensex.max_lots_per_order)
    assert sum(slices) == 100 and len(slices) > 1 and max(slices) <= default


def test_shipped_rows_without_a_freeze_quantity_use_a_default_below_every_known_limit() -> None:
    default = shipped_data()["unknown_freeze_quantity_lots"]
    rows = [row for underlying in TABLE.underlyings() for row in TABLE.rows(underlying)]
    unknown = [row for row in rows if row.freeze_quantity is None]
    known = [row.max_lots_per_order for row in rows if row.freeze_quantity is not None]
    assert unknown, "expected some historical rows without a freeze quantity"
    assert all(row.max_lots_per_order == default for row in unknown)
    assert default <= min(known)


def test_a_freeze_quantity_below_one_lot_is_refused() -> None:
    data = shipped_data()
    data["specs"][0]["freeze_quantity"] = data["specs"][0]["lot_size"] - 1
    with pytest.raises(ValueError, match="below one lot"):
        load_specs(data)


def test_unknown_index_lists_the_supported_ones() -> None:
    with pytest.raises(
        ConfigurationError, match="NIFTY, BANKNIFTY, FINNIFTY, MIDCPNIFTY, NIFTYNXT50, SENSEX, BANKEX"
    ):
        spec_for("SENSEX50X", date(2026, 1, 6))


def test_expiry_before_the_data_names_the_covered_range() -> None:
    with pytest.raises(ConfigurationError, match="2025-01-01 onwards"):
        spec_for("NIFTY", date(2024, 12, 26))


def test_every_row_cites_a_source_and_matches_the_exchange() -> None:
    for underlying in Underlying:
        for row in TABLE.rows(underlying):
            assert row.source and row.strike_step_source and row.freeze_quantity_source
            assert row.exchange is EXCHANGE_OF[underlying]
    assert TABLE.underlyings() == tuple(Underlying)


def test_overlapping_rows_are_refused() -> None:
    row = TABLE.rows("NIFTY")[0]
    overlapping = row.model_copy(
        update={"expiry_from": row.expiry_from + timedelta(days=3), "expiry_to": None}
    )
    with pytest.raises(ConfigurationError, match="not contiguous"):
        SpecTable([row, overlapping])


def test_spec_is_frozen() -> None:
    spec = spec_for("NIFTY", date(2026, 1, 6))
    with pytest.raises(ValueError, match="frozen"):
        spec.lot_size = 1  # type: ignore[misc]
    assert isinstance(spec, ContractSpec)


@given(st.sampled_from(list(Underlying)), st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)))
def test_exactly_one_spec_applies_to_every_covered_contract(underlying: Underlying, expiry: date) -> None:
    matching = [row for row in TABLE.rows(underlying) if row.covers(expiry)]
    assert len(matching) == 1
    assert spec_for(underlying, expiry) == matching[0]
