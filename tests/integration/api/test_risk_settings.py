"""Portfolio rules through the API: the user's (`/options/risk-settings`) and a basket's (`risk`
on the basket), validated at the door, with today's portfolio exits readable by the trader."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared_utils.clock import to_ist
from shared_utils.composition import platform
from shared_utils.execution.models import ExitReason
from shared_utils.execution.portfolio import PortfolioExit, PortfolioScope

SETTINGS = "/options/risk-settings"
BASKETS = "/options/baskets"
BASKET = "/options/baskets/{basket_id}"
RULES = {
    "mtm_stop_loss": 15000,
    "mtm_target": 25000.5,
    "trailing_stop_loss": {"activate_at": 8000, "trail_by": 3000},
}


def test_rules_are_read_back_as_set_and_a_stale_version_is_a_409(api):
    never = api("GET", SETTINGS)
    assert never.status == 200
    assert never.body["version"] == 0 and never.body["today"] == []
    assert never.body["risk"] == {"mtm_stop_loss": None, "mtm_target": None, "trailing_stop_loss": None}

    saved = api("PUT", SETTINGS, body={"version": 0, "risk": RULES})
    assert saved.status == 200, saved.body
    assert saved.body["version"] == 1 and saved.body["risk"] == RULES

    read = api("GET", SETTINGS)
    assert read.body["risk"] == RULES and read.body["version"] == 1
    assert read.body["updated_at"] == saved.body["updated_at"]
    assert api("GET", SETTINGS, user="user-b").body["version"] == 0  # my rules are mine

    stale = api("PUT", SETTINGS, body={"version": 0, "risk": {}})
    assert stale.status == 409 and stale.body["code"] == "VERSION_CONFLICT"
    cleared = api("PUT", SETTINGS, body={"version": 1, "risk": {}})
    assert cleared.status == 200 and cleared.body["version"] == 2
    assert api("GET", SETTINGS).body["risk"]["mtm_stop_loss"] is None


@pytest.mark.parametrize(
    ("risk", "field"),
    [
        ({"mtm_stop_loss": -500}, "risk.mtm_stop_loss"),
        ({"mtm_stop_loss": 0}, "risk.mtm_stop_loss"),
        ({"mtm_target": 10.005}, "risk.mtm_target"),
        ({"trailing_stop_loss": {"activate_at": 1000, "trail_by": 0}}, "risk.trailing_stop_loss.trail_by"),
        ({"trailing_stop_loss": {"activate_at": -1, "trail_by": 10}}, "risk.trailing_stop_loss.activate_at"),
        ({"trailing_stop_loss": {"trail_by": 10}}, "risk.trailing_stop_loss.activate_at"),
        ({"max_loss": 10}, "risk.max_loss"),
    ],
)
def test_bad_rules_are_a_422_naming_the_field_for_the_user_and_for_a_basket(api, risk, field):
    user = api("PUT", SETTINGS, body={"version": 0, "risk": risk})
    created = api("POST", BASKETS, body={"name": "Guarded", "risk": risk})
    basket_id = api("POST", BASKETS, body={"name": "Plain"}).body["basket_id"]
    updated = api("PUT", BASKET, basket_id=basket_id, body={"version": 1, "risk": risk})

    for response in (user, created, updated):
        assert response.status == 422, response.body
        assert response.body["code"] == "VALIDATION_ERROR"
        assert field in [detail["field"] for detail in response.body["details"]]
    assert api("GET", SETTINGS).body["version"] == 0  # nothing stored


def test_a_version_is_required_and_unknown_fields_refused(api):
    missing = api("PUT", SETTINGS, body={"risk": {}})
    extra = api("PUT", SETTINGS, body={"version": 0, "risk": {}, "owner": "user-b"})

    assert missing.status == 422 and "version" in [d["field"] for d in missing.body["details"]]
    assert extra.status == 422 and "owner" in [d["field"] for d in extra.body["details"]]


def test_a_baskets_rules_are_saved_with_it_and_changed_with_its_version(api):
    created = api("POST", BASKETS, body={"name": "Guarded", "risk": {"mtm_stop_loss": 4000}})
    assert created.status == 201, created.body
    assert created.body["risk"]["mtm_stop_loss"] == 4000

    trailing = {"trailing_stop_loss": {"activate_at": 2000, "trail_by": 500}}
    updated = api("PUT", BASKET, basket_id=created.body["basket_id"], body={"version": 1, "risk": trailing})
    assert updated.status == 200, updated.body
    detail = api("GET", BASKET, basket_id=created.body["basket_id"]).body["basket"]
    assert detail["version"] == 2
    assert detail["risk"] == {"mtm_stop_loss": None, "mtm_target": None, **trailing}
    renamed = api("PUT", BASKET, basket_id=created.body["basket_id"], body={"version": 2, "name": "New"})
    assert renamed.body["risk"] == detail["risk"]  # a change that does not name the rules keeps them


def test_todays_portfolio_exits_are_shown_with_the_rules(api):
    basket_id = api("POST", BASKETS, body={"name": "Guarded", "risk": {"mtm_stop_loss": 4000}}).body[
        "basket_id"
    ]
    root = platform()
    now = root.clock.now()
    today = to_ist(now).date()
    scope = PortfolioScope(user_id="user-a", basket_id=basket_id)
    store = root.execution_store
    store.mark_portfolio_exit(
        scope, today, PortfolioExit(reason=ExitReason.PORTFOLIO_STOP_LOSS, mtm=Decimal("-4012.5"), at=now)
    )
    store.portfolio_exit_queued(scope, today, now)

    shown = api("GET", SETTINGS).body

    assert shown["trade_date"] == today.isoformat()
    (day,) = shown["today"]
    assert day["basket_id"] == basket_id and day["peak"] is None
    assert day["exit"]["reason"] == "PORTFOLIO_STOP_LOSS" and day["exit"]["mtm"] == -4012.5
    assert day["exit"]["queued_at"] is not None
    assert api("GET", SETTINGS, user="user-b").body["today"] == []
