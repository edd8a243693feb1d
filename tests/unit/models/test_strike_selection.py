"""The strike modes of #22 (STRADDLE_WIDTH, PREMIUM_AT_LEAST, PREMIUM_AT_MOST): each takes exactly
its one field, in range, and a bad one is an error naming the field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared_utils.models.common import StrikeMethod
from shared_utils.models.strategy import StrategyCreate, StrikeSelection


def errors(body: dict[str, Any]) -> dict[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as caught:
        StrikeSelection.model_validate(body)
    return {tuple(error["loc"]): error["msg"] for error in caught.value.errors()}


@pytest.mark.parametrize("multiple", ["-5", "-0.5", "0", "0.25", "1.5", "5"])
def test_a_straddle_multiple_from_minus_five_to_five_is_accepted(multiple: str) -> None:
    selection = StrikeSelection.model_validate({"method": "STRADDLE_WIDTH", "straddle_multiple": multiple})
    assert selection.straddle_multiple == Decimal(multiple)
    assert StrikeSelection.straddle_width(multiple) == selection


@pytest.mark.parametrize("multiple", [9, -5.01, "5.5", 0.125])
def test_a_straddle_multiple_out_of_range_or_finer_than_hundredths_is_named(multiple: Any) -> None:
    assert set(errors({"method": "STRADDLE_WIDTH", "straddle_multiple": multiple})) == {
        ("straddle_multiple",)
    }


def test_straddle_width_needs_its_multiple_and_nothing_else() -> None:
    assert errors({"method": "STRADDLE_WIDTH"}) == {
        ("straddle_multiple",): "Value error, required when method is STRADDLE_WIDTH"
    }
    assert errors({"method": "STRADDLE_WIDTH", "straddle_multiple": 0.5, "steps": 1}) == {
        ("steps",): "Value error, not allowed when method is STRADDLE_WIDTH (use straddle_multiple)"
    }


def test_a_straddle_multiple_is_refused_on_every_other_method() -> None:
    assert set(errors({"method": "ATM_OFFSET", "steps": 0, "straddle_multiple": 0.5})) == {
        ("straddle_multiple",)
    }


@pytest.mark.parametrize("method", ["PREMIUM", "PREMIUM_AT_LEAST", "PREMIUM_AT_MOST"])
def test_the_premium_methods_share_target_premium(method: str) -> None:
    selection = StrikeSelection.model_validate({"method": method, "target_premium": "42.5"})
    assert selection.target_premium == Decimal("42.5")
    assert errors({"method": method}) == {
        ("target_premium",): f"Value error, required when method is {method}"
    }
    assert set(errors({"method": method, "target_premium": 0})) == {("target_premium",)}
    assert set(errors({"method": method, "straddle_multiple": 1})) == {
        ("target_premium",),
        ("straddle_multiple",),
    }


def test_the_builders_make_the_premium_bound_selections() -> None:
    assert StrikeSelection.premium_at_least(50).method is StrikeMethod.PREMIUM_AT_LEAST
    assert StrikeSelection.premium_at_most("49.95").target_premium == Decimal("49.95")


def test_a_bad_straddle_multiple_on_a_leg_is_named_by_its_path() -> None:
    leg = {
        "action": "SELL",
        "option_type": "CE",
        "strike": {"method": "STRADDLE_WIDTH", "straddle_multiple": 9},
        "expiry": "CURRENT_WEEKLY",
    }
    body = {
        "name": "Straddle-width strangle",
        "underlying": "NIFTY",
        "legs": [leg],
        "entry": {"time": "09:20", "weekdays": ["MON"]},
    }
    with pytest.raises(ValidationError) as caught:
        StrategyCreate.model_validate(body)
    assert [error["loc"] for error in caught.value.errors()] == [("legs", 0, "strike", "straddle_multiple")]


def test_every_method_alone_is_missing_exactly_one_field() -> None:
    for method in StrikeMethod:
        assert list(errors({"method": method.value}).values()) == [
            f"Value error, required when method is {method.value}"
        ]
