from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared_utils.errors import ConfigurationError, InvalidInputError
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.expiries import ExpiryKind, expiry_for, listed_expiries, valid_kinds
from shared_utils.market.specs import spec_for
from shared_utils.market.underlyings import Underlying

CAL = TradingCalendar.default()
K = ExpiryKind
d = date.fromisoformat


# Every holiday shift listed in MARKET_FACTS.md "Expiry on a holiday": (index, nominal, actual, monthly).
SHIFTS = [
    ("SENSEX", "2026-01-15", "2026-01-14", False),
    ("NIFTY", "2026-03-03", "2026-03-02", False),
    ("NIFTY", "2026-03-31", "2026-03-30", True),
    ("NIFTY", "2026-04-14", "2026-04-13", False),
    ("NIFTY", "2026-10-20", "2026-10-19", False),
    ("NIFTY", "2026-11-10", "2026-11-09", False),
    ("NIFTY", "2026-11-24", "2026-11-23", True),
]


@pytest.mark.parametrize(("underlying", "nominal", "actual", "monthly"), SHIFTS)
def test_holiday_shifts_to_the_previous_trading_day(
    underlying: str, nominal: str, actual: str, monthly: bool
) -> None:
    trade_date = d(actual) - timedelta(days=1)
    assert expiry_for(underlying, trade_date, K.CURRENT_WEEKLY, CAL) == d(actual)
    listed = {e.nominal: e for e in listed_expiries(underlying, trade_date, CAL)}
    assert listed[d(nominal)].expiry == d(actual) and listed[d(nominal)].shifted
    assert listed[d(nominal)].monthly is monthly
    if monthly:
        assert expiry_for(underlying, trade_date, K.CURRENT_MONTHLY, CAL) == d(actual)
    # On the shifted expiry day itself the contract is still the current one.
    assert expiry_for(underlying, d(actual), K.CURRENT_WEEKLY, CAL) == d(actual)


@pytest.mark.parametrize(
    ("underlying", "nominal", "actual"),
    [("BANKNIFTY", "2026-03-31", "2026-03-30"), ("BANKNIFTY", "2026-11-24", "2026-11-23")],
)
def test_monthly_only_indices_shift_too(underlying: str, nominal: str, actual: str) -> None:
    assert expiry_for(underlying, d(actual) - timedelta(days=3), K.CURRENT_MONTHLY, CAL) == d(actual)


@pytest.mark.parametrize(
    ("underlying", "trade_date", "kind", "expected"),
    [
        # 2025-01-01 BSE switch by contract: the 2025-01-03 SENSEX weekly kept its Friday.
        ("SENSEX", "2025-01-01", K.CURRENT_WEEKLY, "2025-01-03"),
        ("SENSEX", "2025-01-01", K.NEXT_WEEKLY, "2025-01-07"),
        ("SENSEX", "2025-01-01", K.CURRENT_MONTHLY, "2025-01-28"),
        ("BANKEX", "2025-01-01", K.CURRENT_MONTHLY, "2025-01-28"),
        ("BANKNIFTY", "2025-01-01", K.CURRENT_MONTHLY, "2025-01-30"),
        ("FINNIFTY", "2025-01-01", K.NEXT_MONTHLY, "2025-02-27"),
        ("NIFTY", "2025-01-01", K.CURRENT_WEEKLY, "2025-01-02"),
        # 2025-09-01 switch by contract: NSE Tuesday, BSE Thursday.
        ("NIFTY", "2025-08-26", K.CURRENT_WEEKLY, "2025-08-28"),
        ("NIFTY", "2025-08-26", K.CURRENT_MONTHLY, "2025-08-28"),
        ("NIFTY", "2025-08-26", K.NEXT_WEEKLY, "2025-09-02"),
        ("NIFTY", "2025-08-29", K.CURRENT_WEEKLY, "2025-09-02"),
        ("NIFTY", "2025-08-29", K.CURRENT_MONTHLY, "2025-09-30"),
        ("SENSEX", "2025-08-26", K.CURRENT_WEEKLY, "2025-08-26"),
        ("SENSEX", "2025-08-27", K.CURRENT_WEEKLY, "2025-09-04"),
        ("SENSEX", "2025-08-27", K.CURRENT_MONTHLY, "2025-09-25"),
        ("BANKNIFTY", "2025-08-01", K.CURRENT_MONTHLY, "2025-08-28"),
        ("BANKNIFTY", "2025-08-01", K.NEXT_MONTHLY, "2025-09-30"),
        ("BANKEX", "2025-08-01", K.NEXT_MONTHLY, "2025-09-25"),
        # Current table (2026).
        ("NIFTY", "2026-07-01", K.CURRENT_WEEKLY, "2026-07-07"),
        ("NIFTY", "2026-07-01", K.CURRENT_MONTHLY, "2026-07-28"),
        ("SENSEX", "2026-07-01", K.CURRENT_WEEKLY, "2026-07-02"),
        ("SENSEX", "2026-07-01", K.CURRENT_MONTHLY, "2026-07-30"),
        ("MIDCPNIFTY", "2026-07-01", K.CURRENT_MONTHLY, "2026-07-28"),
        ("NIFTYNXT50", "2026-07-29", K.CURRENT_MONTHLY, "2026-08-25"),
    ],
)
def test_weekday_switches_apply_by_contract_expiry(
    underlying: str, trade_date: str, kind: ExpiryKind, expected: str
) -> None:
    assert expiry_for(underlying, d(trade_date), kind, CAL) == d(expected)


def test_lots_of_listed_contracts_across_the_january_2026_revision() -> None:
    lots = {
        e.expiry: spec_for("NIFTY", e.expiry).lot_size for e in listed_expiries("NIFTY", d("2025-12-15"), CAL)
    }
    assert lots[d("2025-12-30")] == 75
    assert lots[d("2026-01-27")] == 65


def test_weekly_on_a_monthly_only_index_names_the_valid_kinds() -> None:
    with pytest.raises(InvalidInputError, match="current_monthly, next_monthly"):
        expiry_for("BANKNIFTY", d("2026-07-01"), K.CURRENT_WEEKLY, CAL)
    assert valid_kinds("NIFTY", d("2026-07-01")) == list(ExpiryKind)


def test_unknown_index_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="supported indices"):
        expiry_for("NIFTYIT", d("2026-07-01"), K.CURRENT_MONTHLY, CAL)


def test_expiries_in_a_provisional_year_resolve_and_say_so() -> None:
    # December 2026: the next monthly and the turn of the year fall in 2027 (no official list yet).
    listed = listed_expiries("NIFTY", d("2026-12-02"), CAL)
    assert [e.expiry for e in listed if e.monthly] == [d("2026-12-29"), d("2027-01-26") - timedelta(days=1)]
    assert [e.provisional for e in listed] == [e.expiry.year == 2027 for e in listed]
    assert expiry_for("NIFTY", d("2026-12-30"), K.CURRENT_WEEKLY, CAL) == d("2027-01-05")
    assert expiry_for("NIFTY", d("2026-12-02"), K.NEXT_MONTHLY, CAL) == d("2027-01-25")
    # 2027-01-26 (Republic Day, a Tuesday) is provisionally off: the NIFTY monthly moves a day back.
    assert expiry_for("NIFTY", d("2027-01-20"), K.CURRENT_WEEKLY, CAL) == d("2027-01-25")
    for underlying in ("BANKNIFTY", "SENSEX", "BANKEX", "MIDCPNIFTY"):
        assert listed_expiries(underlying, d("2026-12-31"), CAL)  # never a refusal
    # A near expiry in the covered year is not provisional.
    assert not listed_expiries("NIFTY", d("2026-12-01"), CAL)[0].provisional


trade_dates = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 10, 25))


@given(st.sampled_from(list(Underlying)), trade_dates)
def test_expiries_are_trading_days_never_after_nominal_and_ordered(
    underlying: Underlying, trade_date: date
) -> None:
    listed = listed_expiries(underlying, trade_date, CAL)
    for e in listed:
        assert CAL.is_trading_day(e.expiry)
        assert trade_date <= e.expiry <= e.nominal
        assert all(
            not CAL.is_trading_day(e.expiry + timedelta(days=i))
            for i in range(1, (e.nominal - e.expiry).days + 1)
        )
    assert [e.expiry for e in listed] == sorted({e.expiry for e in listed})
    assert sum(e.monthly for e in listed) == 2
    current_monthly = expiry_for(underlying, trade_date, K.CURRENT_MONTHLY, CAL)
    next_monthly = expiry_for(underlying, trade_date, K.NEXT_MONTHLY, CAL)
    assert current_monthly < next_monthly
    if spec_for(underlying, trade_date).has_weekly:
        current_weekly = expiry_for(underlying, trade_date, K.CURRENT_WEEKLY, CAL)
        next_weekly = expiry_for(underlying, trade_date, K.NEXT_WEEKLY, CAL)
        assert current_weekly < next_weekly <= next_monthly
        assert current_weekly <= current_monthly
        assert (next_weekly - current_weekly).days <= 9  # Tuesday -> Thursday at the 2025-09 switch
    else:
        assert not any(not e.monthly for e in listed)


@given(st.sampled_from(list(Underlying)), trade_dates)
def test_each_listed_contract_has_exactly_one_spec_whose_weekday_matches(
    underlying: Underlying, trade_date: date
) -> None:
    for e in listed_expiries(underlying, trade_date, CAL):
        spec = spec_for(underlying, e.expiry)
        weekday = spec.monthly_rule.weekday if e.monthly else spec.weekly_expiry_weekday
        assert weekday is not None and e.nominal.weekday() == weekday.iso_index
